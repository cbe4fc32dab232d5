using System.Text;
using System.Text.Json;
using Beamline.Pipeline;
using Beamline.Pipeline.Extensions;

namespace Beamline.Extensions.Tests.BuiltIn;

/// <summary>Extension inputs for the built-in tests.</summary>
internal static class Inputs
{
    private static readonly Dictionary<string, string> NoMetadata = [];

    public static ExtensionInput Text(string text, string? config = null) => Of(Encoding.UTF8.GetBytes(text), PayloadKind.Text, config);

    public static ExtensionInput Json(string json, string? config = null) => Of(Encoding.UTF8.GetBytes(json), PayloadKind.Json, config);

    public static ExtensionInput Of(byte[] payload, PayloadKind kind, string? config = null) => new()
    {
        TenantId = "tenant_test",
        RequestId = "req-1",
        Payload = payload,
        PayloadKind = kind,
        Metadata = NoMetadata,
        Config = config is null ? null : JsonDocument.Parse(config).RootElement.Clone(),
    };

    /// <summary>The reply's payload as text (it must have one).</summary>
    public static string PayloadOf(ExtensionReply reply)
    {
        Assert.Equal(ExtensionFailure.None, reply.Failure);
        Assert.NotNull(reply.Payload);
        return Encoding.UTF8.GetString(reply.Payload.Value.Span);
    }

    /// <summary>Asserts two JSON texts are the same value (object property order included).</summary>
    public static void JsonEqual(string expected, string actual)
    {
        using var e = JsonDocument.Parse(expected);
        using var a = JsonDocument.Parse(actual);
        Assert.True(JsonElement.DeepEquals(e.RootElement, a.RootElement), $"expected {expected}\nactual   {actual}");
    }
}
