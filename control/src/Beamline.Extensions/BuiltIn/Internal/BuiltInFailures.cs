using System.Text.Json;
using Beamline.Pipeline.Extensions;

namespace Beamline.Extensions.BuiltIn.Internal;

/// <summary>The failed replies of the built-ins: a config of the wrong shape, a payload that is not JSON.</summary>
internal static class BuiltInFailures
{
    public static ExtensionReply Config(BuiltInConfigException exception) => ExtensionReply.Failed(ExtensionFailure.Error, exception.Message);

    public static ExtensionReply MalformedPayload(string extensionId, JsonException exception) =>
        ExtensionReply.Failed(ExtensionFailure.Error, $"{extensionId}: the payload is not valid JSON ({exception.Message})");

    /// <summary>A detached JSON value written by <paramref name="write"/>.</summary>
    public static JsonElement Details<TState>(TState state, Action<Utf8JsonWriter, TState> write)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(128);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            write(writer, state);
        }

        using var document = JsonDocument.Parse(buffer.WrittenMemory);
        return document.RootElement.Clone();
    }
}
