using System.Text.Json.Nodes;
using Beamline.Testing;

namespace Beamline.Host.Tests.Grpc;

/// <summary>
/// A real nats-server and a real <c>beamline serve</c> on it, configured as an operator would:
/// a tenant whose key never runs out, a tenant whose key allows two requests a minute, and mock
/// providers that echo (one streaming in small chunks, one answering after 20 s).
/// </summary>
public sealed class Cp2Fixture : IAsyncLifetime
{
    /// <summary>The tenant of <see cref="Key"/>.</summary>
    public const string Tenant = "tenant_cp2";

    /// <summary>An API key of <see cref="Tenant"/> with limits that never refuse.</summary>
    public const string Key = "bl_cp2test_Vq3Yc1pUu0o3yJq0w7kC1o2zV4Kx9bX2hLrS5dT8mQe";

    /// <summary>An API key of <c>tenant_cp2_tight</c>: two requests a minute.</summary>
    public const string TightKey = "bl_cp2tight_Qm8Rz2Wn5Tt7Yp1Ls4Hd6Gf9Jk3Xc0Vb2Nn8Mm4Aa1Z";

    private readonly string _configFile = Path.Combine(Path.GetTempPath(), $"beamline-cp2-{Guid.NewGuid():N}.json");

    /// <summary>The nats-server.</summary>
    public NatsServer Nats { get; private set; } = null!;

    /// <summary>The control plane.</summary>
    public ControlPlaneProcess Process { get; private set; } = null!;

    /// <summary>The gRPC endpoint as <c>host:port</c> (what grpc-js takes).</summary>
    public string GrpcTarget => $"{Process.GrpcAddress.Host}:{Process.GrpcAddress.Port}";

    /// <summary>Where the .proto files are.</summary>
    public static string ProtoRoot => Path.Combine(RepoPaths.Root, "proto");

    public async Task InitializeAsync()
    {
        await File.WriteAllTextAsync(_configFile, Config());
        Nats = await NatsServer.StartAsync();
        Process = await ControlPlaneProcess.StartAsync("--config", _configFile, "--nats", Nats.Url);
    }

    public async Task DisposeAsync()
    {
        await Process.DisposeAsync();
        await Nats.DisposeAsync();
        File.Delete(_configFile);
    }

    private static JsonObject Policy(string id, string json) => new() { ["id"] = id, ["json"] = JsonNode.Parse(json) };

    private static string Config() => new JsonObject
    {
        ["Beamline"] = new JsonObject
        {
            ["Tenancy"] = new JsonObject
            {
                ["AdminKey"] = "test-admin-key-0123456789",
                ["Pepper"] = "test-pepper-0123456789abcdef",
                ["tenants"] = new JsonArray(
                    new JsonObject
                    {
                        ["id"] = Tenant,
                        ["default_policy"] = "echo",
                        ["limits"] = new JsonObject { ["requests_per_minute"] = 1_000_000, ["max_concurrent_requests"] = 10_000 },
                        ["keys"] = new JsonArray(new JsonObject { ["name"] = "cp2 test key", ["key"] = Key }),
                        ["policies"] = new JsonArray(
                            Policy("echo", """
                                {"version":"1.0","providers":[{"name":"m_echo","weight":100}],
                                 "fallbacks":[{"when":{"status":["timeout","5xx"]},"retry":1,"to":"m_backup"}]}
                                """),
                            Policy("cheapest", """{"version":"1.0","strategy":"cheapest","providers":[{"name":"m_echo","weight":50},{"name":"m_backup","weight":50}]}"""),
                            Policy("slow", """{"version":"1.0","providers":[{"name":"m_slow","weight":100}]}"""),
                            // A built-in validator: the decide completes after it (the pipeline's asynchronous path).
                            Policy("guard", """{"version":"1.0","providers":[{"name":"m_echo","weight":100}],"validators":[{"id":"pii_guard","on_fail":"block"}]}""")),
                    },
                    new JsonObject
                    {
                        ["id"] = "tenant_cp2_tight",
                        ["default_policy"] = "echo",
                        ["limits"] = new JsonObject { ["requests_per_minute"] = 2 },
                        ["keys"] = new JsonArray(new JsonObject { ["name"] = "tight key", ["key"] = TightKey }),
                        ["policies"] = new JsonArray(Policy("echo", """{"version":"1.0","providers":[{"name":"m_echo","weight":100}]}""")),
                    }),
                ["providers"] = new JsonArray(
                    JsonNode.Parse("""{"id":"m_echo","kind":"mock","model":"mock-echo","chunk_interval_ms":1}"""),
                    JsonNode.Parse("""{"id":"m_backup","kind":"mock","model":"mock-backup"}"""),
                    JsonNode.Parse("""{"id":"m_slow","kind":"mock","model":"mock-slow","latency_ms":20000}""")),
            },
        },
    }.ToJsonString();
}
