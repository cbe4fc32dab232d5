using System.CommandLine;
using NATS.Client.Core;

namespace Beamline.Cli.Commands;

/// <summary>
/// <c>beamline bench request</c>: keeps N requests of a fixed body in flight to a NATS subject with
/// the NATS.Net requester of the echo reference — so that a service (CP1 decide) is measured
/// against the fastest echo round trip with the same client, not with a slower one.
/// </summary>
internal static class RequestCommand
{
    public static Command Create()
    {
        var inflight = new Option<int>("--inflight") { Description = "Requests in flight.", DefaultValueFactory = _ => 64 };
        var seconds = new Option<double>("--seconds") { Description = "Measured duration.", DefaultValueFactory = _ => 5 };
        var warmup = new Option<double>("--warmup-seconds") { Description = "Unmeasured warm-up.", DefaultValueFactory = _ => 1 };
        var subject = new Option<string>("--subject") { Description = "The subject to request.", Required = true };
        var bodyFile = new Option<FileInfo>("--body-file") { Description = "The request body.", Required = true };
        var expect = new Option<string?>("--expect") { Description = "Text every reply must contain (else it counts as an error)." };
        var name = new Option<string>("--name") { Description = "The name printed at the start of the result line.", DefaultValueFactory = _ => "dotnet_to_subject" };
        var nats = new Option<string>("--nats") { Description = "The NATS server URL.", Required = true };
        var command = new Command("request", "Measure request-reply to a NATS service with the NATS.Net requester.")
        {
            inflight, seconds, warmup, subject, bodyFile, expect, name, nats,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            await using var requester = new NatsConnection(NatsOpts.Default with { Url = parse.GetValue(nats)!, Name = "beamline-bench-requester" });
            await requester.ConnectAsync().ConfigureAwait(false);
            var body = await File.ReadAllBytesAsync(parse.GetValue(bodyFile)!.FullName, cancellationToken).ConfigureAwait(false);
            var target = parse.GetValue(subject)!;
            var expected = parse.GetValue(expect) is { Length: > 0 } text ? System.Text.Encoding.UTF8.GetBytes(text) : null;
            return await BenchCommand.MeasureAsync(parse.GetValue(name)!, body.Length, Math.Max(1, parse.GetValue(inflight)),
                TimeSpan.FromSeconds(parse.GetValue(warmup)), TimeSpan.FromSeconds(parse.GetValue(seconds)),
                _ => async token =>
                {
                    try
                    {
                        using var reply = (await requester.RequestAsync<byte[], NatsMemoryOwner<byte>>(target, body, cancellationToken: token)
                            .ConfigureAwait(false)).Data;
                        return expected is null || reply.Span.IndexOf(expected) >= 0;
                    }
                    catch (NatsException)
                    {
                        return false; // no responders, no reply: an error of the run, not of the tool
                    }
                }, cancellationToken).ConfigureAwait(false);
        });
        return command;
    }
}
