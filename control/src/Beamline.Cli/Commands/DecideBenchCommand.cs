using System.CommandLine;
using Beamline.Cp2;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using NATS.Client.Core;

namespace Beamline.Cli.Commands;

/// <summary>
/// <c>beamline bench decide</c>: decide throughput and latency over CP1 NATS, CP2 NATS, CP2 gRPC
/// (one unary call per decide) and CP2 gRPC's DecideStream (every decide on one bidirectional call)
/// from one process, with the same loop as the other bench tools (N callers, a fixed duration, one
/// result line each). The CP1 body is a JSON file; the CP2 request says the same in protobuf: over
/// gRPC with the tenant's API key, over NATS (a trusted bus: no key travels on it) with the tenant
/// named in the <c>Beamline-Tenant</c> header.
/// </summary>
internal static class DecideBenchCommand
{
    public static Command Create()
    {
        var inflight = new Option<int>("--inflight") { Description = "Requests in flight.", DefaultValueFactory = _ => 64 };
        var seconds = new Option<double>("--seconds") { Description = "Measured duration.", DefaultValueFactory = _ => 5 };
        var warmup = new Option<double>("--warmup-seconds") { Description = "Unmeasured warm-up.", DefaultValueFactory = _ => 1 };
        var transport = new Option<string>("--transport") { Description = "cp1-nats, cp2-nats, cp2-grpc or cp2-grpc-stream.", Required = true };
        var nats = new Option<string?>("--nats") { Description = "The NATS server URL (the NATS transports)." };
        var grpc = new Option<string?>("--grpc") { Description = "The control plane's gRPC URL, e.g. http://127.0.0.1:8081 (cp2-grpc, cp2-grpc-stream)." };
        var key = new Option<string?>("--key") { Description = "The tenant's API key (cp2-grpc, cp2-grpc-stream)." };
        var serverPid = new Option<int?>("--server-pid") { Description = "The control plane's process id: the result line adds its CPU per request (server_cpu_us_per_req)." };
        var tenant = new Option<string?>("--tenant") { Description = "The tenant id, sent in the Beamline-Tenant header (cp2-nats; no key travels on NATS)." };
        var bodyFile = new Option<FileInfo?>("--body-file") { Description = "The CP1 decide request (cp1-nats)." };
        var policy = new Option<string>("--policy") { Description = "The policy (CP2).", DefaultValueFactory = _ => "default" };
        var name = new Option<string?>("--name") { Description = "The name printed at the start of the result line." };
        var command = new Command("decide", "Measure decide over CP1 NATS, CP2 NATS, CP2 gRPC or CP2 gRPC DecideStream.")
        {
            inflight, seconds, warmup, transport, nats, grpc, key, tenant, bodyFile, policy, name, serverPid,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var how = parse.GetValue(transport)!;
            var label = parse.GetValue(name) ?? "decide_" + how.Replace('-', '_');
            var request = Request(parse.GetValue(policy)!);
            var n = Math.Max(1, parse.GetValue(inflight));
            var warm = TimeSpan.FromSeconds(parse.GetValue(warmup));
            var duration = TimeSpan.FromSeconds(parse.GetValue(seconds));
            var serverCpu = ServerCpuTime(parse.GetValue(serverPid));
            switch (how)
            {
                case "cp2-grpc-stream":
                {
                    using var channel = GrpcChannel.ForAddress(parse.GetValue(grpc) ?? throw new ArgumentException("--grpc is required"));
                    var headers = new Metadata { { "authorization", "Bearer " + parse.GetValue(key) } };
                    await using var stream = new DecideStreamClient(new Router.RouterClient(channel), headers, request, n);
                    return await BenchCommand.MeasureAsync(label, request.CalculateSize(), n, warm, duration, stream.Loop, cancellationToken, serverCpu)
                        .ConfigureAwait(false);
                }
                case "cp2-grpc":
                {
                    using var channel = GrpcChannel.ForAddress(parse.GetValue(grpc) ?? throw new ArgumentException("--grpc is required"));
                    var client = new Router.RouterClient(channel);
                    var headers = new Metadata { { "authorization", "Bearer " + parse.GetValue(key) } };
                    return await BenchCommand.MeasureAsync(label, request.CalculateSize(), n, warm, duration, _ => async token =>
                    {
                        try
                        {
                            var decision = await client.DecideAsync(request, headers, cancellationToken: token).ResponseAsync.ConfigureAwait(false);
                            return decision.ProviderId.Length > 0;
                        }
                        catch (RpcException)
                        {
                            return false;
                        }
                    }, cancellationToken, serverCpu).ConfigureAwait(false);
                }
                case "cp2-nats":
                {
                    var tenantId = parse.GetValue(tenant) ?? throw new ArgumentException("--tenant is required (cp2-nats)");
                    await using var connection = await ConnectAsync(parse.GetValue(nats)).ConfigureAwait(false);
                    var body = request.ToByteArray();
                    var headers = new NatsHeaders { ["Beamline-Tenant"] = tenantId };
                    return await BenchCommand.MeasureAsync(label, body.Length, n, warm, duration, _ => async token =>
                    {
                        try
                        {
                            var reply = await connection.RequestAsync<byte[], NatsMemoryOwner<byte>>("beamline.router.v2.decide", body, headers, cancellationToken: token)
                                .ConfigureAwait(false);
                            using var data = reply.Data;
                            return reply.Headers is { } h && h.TryGetValue("Beamline-Kind", out var kind) && kind == "decision";
                        }
                        catch (NatsException)
                        {
                            return false;
                        }
                    }, cancellationToken, serverCpu).ConfigureAwait(false);
                }
                case "cp1-nats":
                {
                    await using var connection = await ConnectAsync(parse.GetValue(nats)).ConfigureAwait(false);
                    var body = await File.ReadAllBytesAsync((parse.GetValue(bodyFile) ?? throw new ArgumentException("--body-file is required")).FullName,
                        cancellationToken).ConfigureAwait(false);
                    var ok = "\"ok\":true"u8.ToArray();
                    return await BenchCommand.MeasureAsync(label, body.Length, n, warm, duration, _ => async token =>
                    {
                        try
                        {
                            using var reply = (await connection.RequestAsync<byte[], NatsMemoryOwner<byte>>("beamline.router.v1.decide", body, cancellationToken: token)
                                .ConfigureAwait(false)).Data;
                            return reply.Span.IndexOf(ok) >= 0;
                        }
                        catch (NatsException)
                        {
                            return false;
                        }
                    }, cancellationToken, serverCpu).ConfigureAwait(false);
                }
                default:
                    Console.Error.WriteLine($"unknown --transport '{how}' (cp1-nats, cp2-nats, cp2-grpc or cp2-grpc-stream)");
                    return 2;
            }
        });
        return command;
    }

    // The server's CPU time so far (user + system, all threads; /proc/<pid>/stat on Linux), when its pid is given.
    private static Func<TimeSpan>? ServerCpuTime(int? pid) => pid is not { } id ? null : () =>
    {
        using var process = System.Diagnostics.Process.GetProcessById(id);
        return process.TotalProcessorTime;
    };

    private static async Task<NatsConnection> ConnectAsync(string? url)
    {
        var connection = new NatsConnection(NatsOpts.Default with { Url = url ?? throw new ArgumentException("--nats is required"), Name = "beamline-bench-decide" });
        await connection.ConnectAsync().ConfigureAwait(false);
        return connection;
    }

    // control/bench/decide-request.json in CP2's terms: the same message, policy, constraints, metadata and context.
    private static DecideRequest Request(string policy)
    {
        var request = new DecideRequest
        {
            Version = "2",
            Message = new Message
            {
                MessageId = "7f3c2a9e-4b1d-4c55-9a8e-2f0c1d3b5a71",
                MessageType = "chat",
                PayloadJson = """{"text":"Summarise the attached incident report.","role":"user"}""",
                TraceId = "trace_abc123",
            },
            PolicyId = policy,
            Budget = new CostBudget { MaxCostUsd = 0.02 },
            Constraints = new Constraints { MaxLatencyMs = 1500 },
        };
        request.Message.Metadata["source"] = "gateway";
        request.Context["user_id"] = "user_123";
        request.Context["session_id"] = "session_456";
        return request;
    }
}
