using System.Text.Json.Nodes;
using Beamline.Testing;

namespace Beamline.Host.Tests.Nats;

/// <summary>
/// A control-plane configuration for the NATS tests: one tenant with a key and limits that never
/// refuse, a policy routing to an echo block on the workers' cpu pool.
/// </summary>
internal static class NatsTestConfig
{
    public const string Tenant = "tenant_nats";
    public const string Key = "bl_natstest_HzkXZldHOaTv1OlnmftTNg7Q5-gMLaD0_zPsB7etegw";

    /// <summary>Writes the configuration (plus <paramref name="nats"/> under Beamline:Nats) to a temp file.</summary>
    public static async Task<string> WriteAsync(JsonObject? nats = null, int shutdownSeconds = 10)
    {
        var beamline = new JsonObject
        {
            ["Shutdown"] = new JsonObject { ["TimeoutSeconds"] = shutdownSeconds },
            ["InProcess"] = new JsonObject { ["ExecutorConfigFile"] = DiagnosticExecutors.ConfigFile },
            ["Tenancy"] = new JsonObject
            {
                ["AdminKey"] = "test-admin-key-0123456789",
                ["Pepper"] = "test-pepper-0123456789abcdef",
                ["tenants"] = new JsonArray(new JsonObject
                {
                    ["id"] = Tenant,
                    ["default_policy"] = "echo",
                    ["limits"] = new JsonObject { ["requests_per_minute"] = 1_000_000, ["max_concurrent_requests"] = 10_000 },
                    ["keys"] = new JsonArray(new JsonObject { ["name"] = "test key", ["key"] = Key }),
                    ["policies"] = new JsonArray(new JsonObject
                    {
                        ["id"] = "echo",
                        ["json"] = JsonNode.Parse("""{"version":"1.0","providers":[{"name":"echo_cpu","weight":100}]}"""),
                    }, new JsonObject
                    {
                        ["id"] = "sleep",
                        ["json"] = JsonNode.Parse("""{"version":"1.0","providers":[{"name":"sleep_cpu","weight":100}]}"""),
                    }),
                }),
                ["providers"] = new JsonArray(
                    JsonNode.Parse("""{"id":"echo_cpu","kind":"block","block_type":"echo","pool":"cpu"}"""),
                    JsonNode.Parse("""{"id":"sleep_cpu","kind":"block","block_type":"debug.sleep","pool":"cpu","timeout_ms":60000}""")),
            },
        };
        if (nats is not null)
        {
            beamline["Nats"] = nats;
        }
        var path = Path.Combine(Path.GetTempPath(), $"beamline-nats-test-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(path, new JsonObject { ["Beamline"] = beamline }.ToJsonString());
        return path;
    }

    /// <summary>A CP1 decide request (task form) for the test tenant.</summary>
    public static byte[] Decide(string requestId) => System.Text.Encoding.UTF8.GetBytes(new JsonObject
    {
        ["version"] = "1",
        ["tenant_id"] = Tenant,
        ["request_id"] = requestId,
        ["task"] = JsonNode.Parse("""{"type":"chat","payload":{"text":"hi"}}"""),
    }.ToJsonString());
}
