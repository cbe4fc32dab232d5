using System.CommandLine;
using NATS.Client.Core;

namespace Beamline.Cli.Commands;

/// <summary>
/// <c>beamline bench responder</c>: NATS.Net echo responders on the given subjects, until stopped —
/// the extension services of the extension-hop benchmark. An echo is a valid CP1 pre reply (the
/// same payload and metadata) and a valid validator reply (no <c>status</c>: go on), so the
/// control plane's cost per hop is measured against the same echo the references use.
/// </summary>
internal static class ResponderCommand
{
    public static Command Create()
    {
        var nats = new Option<string>("--nats") { Description = "The NATS server URL.", Required = true };
        var subjects = new Option<string[]>("--subject") { Description = "A subject to answer (repeatable).", Required = true, AllowMultipleArgumentsPerToken = true };
        var command = new Command("responder", "Serve NATS.Net echo responders on subjects until stopped (extension services for benchmarks).")
        {
            nats, subjects,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            await using var connection = new NatsConnection(NatsOpts.Default with { Url = parse.GetValue(nats)!, Name = "beamline-bench-responder" });
            await connection.ConnectAsync().ConfigureAwait(false);
            var loops = new List<Task>();
            foreach (var subject in parse.GetValue(subjects)!)
            {
                var subscription = await connection.SubscribeCoreAsync<NatsMemoryOwner<byte>>(subject, cancellationToken: cancellationToken).ConfigureAwait(false);
                loops.Add(Task.Run(async () =>
                {
                    await foreach (var msg in subscription.Msgs.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
                    {
                        using var data = msg.Data;
                        await msg.ReplyAsync(data.Memory).ConfigureAwait(false);
                    }
                }, CancellationToken.None));
            }
            await connection.PingAsync(cancellationToken).ConfigureAwait(false);
            Console.Out.WriteLine("responder ready");
            try
            {
                await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Stopped (SIGTERM / Ctrl-C): that is the normal end.
            }
            return 0;
        });
        return command;
    }
}
