using System.Buffers;
using System.CommandLine;
using System.Text;
using Beamline.Dispatch;
using Beamline.Host.Blocks;
using Beamline.Host.State;
using Beamline.Worker.V2;
using Google.Protobuf;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;

namespace Beamline.Cli.Commands;

/// <summary>
/// <c>beamline exec</c>: runs one block from the command line, in-process or over NATS, and
/// prints the same JSON that <c>POST /v1/blocks</c> answers. Exit 0 when the block succeeded,
/// 1 when it failed, 2 on bad arguments.
/// </summary>
internal static class ExecCommand
{
    public static Command Create()
    {
        var type = new Option<string>("--type") { Description = "The block type, e.g. echo.", Required = true };
        var payload = new Option<string?>("--payload") { Description = "The payload as UTF-8 text." };
        var payloadBase64 = new Option<string?>("--payload-base64") { Description = "The payload as base64." };
        var tenant = new Option<string>("--tenant")
        {
            Description = "The tenant the block runs for.",
            DefaultValueFactory = _ => "default",
        };
        var pool = new Option<string>("--pool")
        {
            Description = "The pool: cpu, io, gpu or a custom one.",
            DefaultValueFactory = _ => BlockJson.DefaultPool,
        };
        var deadline = new Option<uint>("--deadline-ms") { Description = "The block's deadline in milliseconds (0 = the default)." };
        var nats = CommonOptions.Nats();
        var config = CommonOptions.Config();
        var command = new Command("exec", "Run one block and print its result as JSON.")
        {
            type, payload, payloadBase64, tenant, pool, deadline, nats, config,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var request = new ExecRequest
            {
                BlockId = Guid.NewGuid().ToString("N"),
                Type = parse.GetValue(type)!,
                TenantId = parse.GetValue(tenant)!,
                Pool = parse.GetValue(pool)!,
                DeadlineMs = parse.GetValue(deadline),
            };
            if (parse.GetValue(payload) is { } text)
            {
                request.Payload = ByteString.CopyFromUtf8(text);
            }
            else if (parse.GetValue(payloadBase64) is { } b64)
            {
                try
                {
                    request.Payload = ByteString.FromBase64(b64);
                }
                catch (FormatException)
                {
                    await Console.Error.WriteLineAsync("beamline exec: --payload-base64 is not valid base64").ConfigureAwait(false);
                    return 2;
                }
            }
            if (!PoolNames.IsValid(request.Pool))
            {
                await Console.Error.WriteLineAsync($"beamline exec: --pool must be {PoolNames.Rule}").ConfigureAwait(false);
                return 2;
            }

            ServiceProvider built;
            try
            {
                built = DispatchServices.Build(CommonOptions.Overrides(parse.GetValue(nats)), parse.GetValue(config)?.FullName);
            }
            catch (StateDirectoryException e)
            {
                await Console.Error.WriteLineAsync($"beamline exec: {e.Message}").ConfigureAwait(false);
                return 2;
            }
            await using var services = built;
            if (!await DispatchServices.ConnectAsync(services, "beamline exec").ConfigureAwait(false))
            {
                return 1;
            }
            var dispatcher = services.GetRequiredService<IBlockDispatcher>();
            var result = await dispatcher.DispatchAsync(request, cancellationToken).ConfigureAwait(false);
            var output = new ArrayBufferWriter<byte>();
            BlockJson.WriteResult(output, result, dispatcher.Mode);
            Console.Out.WriteLine(Encoding.UTF8.GetString(output.WrittenSpan));
            return result.Status == ExecStatus.Ok ? 0 : 1;
        });
        return command;
    }
}

/// <summary>Dispatch without the web host, for commands that run blocks directly.</summary>
internal static class DispatchServices
{
    /// <exception cref="StateDirectoryException">The data directory or sandbox root may not be used.</exception>
    public static ServiceProvider Build(IReadOnlyDictionary<string, string?> overrides, string? configFile)
    {
        // The same sources as the web host: environment (Beamline__Nats__Url), file, then flags.
        var configuration = new ConfigurationBuilder().AddEnvironmentVariables();
        if (configFile is not null)
        {
            configuration.AddJsonFile(configFile, optional: false);
        }
        configuration.AddInMemoryCollection(overrides);
        // The same state as `beamline serve`: in-process fs/sql blocks use its sandboxes (checked
        // and created 0700), never an executor default under /tmp.
        var state = StateDirectories.Prepare(configuration.Build());
        configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Beamline:InProcess:FsRoot"] = state.FsRoot });
        var services = new ServiceCollection();
        // stdout carries the result JSON; logs go to stderr.
        services.AddLogging(logging => logging
            .AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace)
            .SetMinimumLevel(LogLevel.Warning));
        services.AddBeamlineDispatch(configuration.Build(), retryInitialConnect: false);
        return services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true });
    }

    /// <summary>
    /// Connects to NATS when it is configured (a one-shot command does not wait for an absent
    /// server); false, with the reason on stderr, when it cannot.
    /// </summary>
    public static async Task<bool> ConnectAsync(ServiceProvider services, string command)
    {
        if (services.GetService<INatsConnection>() is not NatsConnection connection)
        {
            return true;
        }
        try
        {
            await connection.ConnectAsync().ConfigureAwait(false);
            return true;
        }
        catch (NatsException e)
        {
            await Console.Error.WriteLineAsync($"{command}: cannot connect to NATS at {connection.Opts.Url}: {e.Message}").ConfigureAwait(false);
            return false;
        }
    }
}
