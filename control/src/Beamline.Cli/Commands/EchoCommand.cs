using System.CommandLine;
using NATS.Client.Core;

namespace Beamline.Cli.Commands;

/// <summary>
/// <c>beamline bench echo</c>: the NATS.Net reference pair of docs/benchmarks.md — an echo
/// responder and a requester on two NATS.Net connections, N requests in flight — so that each
/// NATS path is measured against the fastest echo round trip this machine's NATS gives (the other
/// reference is the nats.c pair of <c>beamline-nats-bench</c>).
/// </summary>
internal static class EchoCommand
{
    public static Command Create()
    {
        var inflight = new Option<int>("--inflight") { Description = "Requests in flight.", DefaultValueFactory = _ => 64 };
        var seconds = new Option<double>("--seconds") { Description = "Measured duration.", DefaultValueFactory = _ => 5 };
        var warmup = new Option<double>("--warmup-seconds") { Description = "Unmeasured warm-up.", DefaultValueFactory = _ => 1 };
        var payloadBytes = new Option<int>("--payload-bytes") { Description = "Payload size.", DefaultValueFactory = _ => 200 };
        var name = new Option<string>("--name") { Description = "The name printed at the start of the result line.", DefaultValueFactory = _ => "dotnet_nats_reqrep" };
        var nats = new Option<string>("--nats") { Description = "The NATS server URL.", Required = true };
        var command = new Command("echo", "Measure NATS.Net request-reply (an in-process NATS.Net echo responder on its own connection).")
        {
            inflight, seconds, warmup, payloadBytes, name, nats,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var url = parse.GetValue(nats)!;
            var subject = "bench.echo." + Guid.NewGuid().ToString("N");
            await using var responder = new NatsConnection(NatsOpts.Default with { Url = url, Name = "beamline-bench-echo-responder" });
            await using var requester = new NatsConnection(NatsOpts.Default with { Url = url, Name = "beamline-bench-echo-requester" });
            await responder.ConnectAsync().ConfigureAwait(false);
            await requester.ConnectAsync().ConfigureAwait(false);
            var subscription = await responder.SubscribeCoreAsync<NatsMemoryOwner<byte>>(subject, cancellationToken: cancellationToken).ConfigureAwait(false);
            var echo = Task.Run(async () =>
            {
                await foreach (var msg in subscription.Msgs.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
                {
                    using var data = msg.Data;
                    await msg.ReplyAsync(data.Memory).ConfigureAwait(false);
                }
            }, CancellationToken.None);
            await responder.PingAsync(cancellationToken).ConfigureAwait(false);

            var payload = new byte[parse.GetValue(payloadBytes)];
            var rc = await BenchCommand.MeasureAsync(parse.GetValue(name)!, payload.Length, Math.Max(1, parse.GetValue(inflight)),
                TimeSpan.FromSeconds(parse.GetValue(warmup)), TimeSpan.FromSeconds(parse.GetValue(seconds)),
                _ => async token =>
                {
                    using var reply = (await requester.RequestAsync<byte[], NatsMemoryOwner<byte>>(subject, payload, cancellationToken: token)
                        .ConfigureAwait(false)).Data;
                    return reply.Length == payload.Length;
                }, cancellationToken).ConfigureAwait(false);
            await subscription.UnsubscribeAsync().ConfigureAwait(false);
            await echo.ConfigureAwait(false);
            return rc;
        });
        return command;
    }
}
