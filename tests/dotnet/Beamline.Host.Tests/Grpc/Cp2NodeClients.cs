using System.Text.Json;
using System.Text.Json.Nodes;
using Beamline.Testing;

namespace Beamline.Host.Tests.Grpc;

/// <summary>
/// CP2 clients that no one here wrote, driven by node scripts: <c>cp2-grpc.mjs</c>
/// (@grpc/grpc-js with @grpc/proto-loader) and <c>cp2-nats.mjs</c> (the nats package with protobufjs).
/// Each runs a plan of calls and returns one JSON result per call.
/// </summary>
internal static class Cp2NodeClients
{
    private static string Folder => Path.Combine(RepoPaths.Root, "tests", "dotnet", "Beamline.Host.Tests", "node");

    /// <summary>Runs the calls over gRPC against <paramref name="target"/> (<c>host:port</c>).</summary>
    public static Task<JsonElement[]> GrpcAsync(string target, params JsonObject[] calls)
        => RunAsync("cp2-grpc.mjs", "@grpc/grpc-js", new JsonObject { ["address"] = target, ["proto_root"] = Cp2Fixture.ProtoRoot, ["calls"] = new JsonArray(calls) });

    /// <summary>Runs the calls over NATS against <paramref name="url"/>.</summary>
    public static Task<JsonElement[]> NatsAsync(string url, params JsonObject[] calls)
        => RunAsync("cp2-nats.mjs", "protobufjs", new JsonObject { ["url"] = url, ["proto_root"] = Cp2Fixture.ProtoRoot, ["calls"] = new JsonArray(calls) });

    /// <summary>A CP2 request as proto-loader and protobufjs take it (field names as in the .proto).</summary>
    public static JsonObject Request(string messageId, string? policy = null, string text = "hello", bool stream = false) => new()
    {
        ["version"] = "2",
        ["message"] = new JsonObject { ["message_id"] = messageId, ["message_type"] = "chat", ["payload_text"] = text },
        ["policy_id"] = policy ?? "",
        ["stream"] = new JsonObject { ["enabled"] = stream },
    };

    private static async Task<JsonElement[]> RunAsync(string script, string package, JsonObject plan)
    {
        var file = Path.Combine(Path.GetTempPath(), $"beamline-cp2-plan-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(file, plan.ToJsonString());
        try
        {
            var (exit, output, error) = await NodeScripts.RunNodeAsync(Folder, package, script, file);
            Assert.True(exit == 0, $"node {script} failed ({exit}):\n{error}\n{output}");
            return JsonSerializer.Deserialize<JsonElement[]>(output)!;
        }
        finally
        {
            File.Delete(file);
        }
    }
}
