using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using Beamline.Extensions.BuiltIn.Internal;
using Beamline.Pipeline;
using Beamline.Pipeline.Extensions;

namespace Beamline.Extensions.BuiltIn;

/// <summary>
/// <c>add_context</c> (pre): gives a chat request a system prompt (config <c>system</c>, a string)
/// and merges config <c>metadata</c> (an object) into the request's metadata.
/// </summary>
/// <remarks>
/// An Anthropic-form request (a top-level <c>system</c>, or <c>max_tokens</c> and <c>messages</c>
/// with no <c>system</c>-role message) gets the text as <c>system</c>, put before an existing string
/// (separated by a blank line) or as a first text block of an existing array. Any other request
/// with <c>messages</c> gets it put before the content of a first <c>system</c> message, or a new
/// <c>{"role":"system","content":…}</c> message first. A payload without <c>messages</c> is kept.
/// The other fields are written back unchanged in value and order.
/// </remarks>
public sealed class AddContextExtension : IBuiltInExtension
{
    private const string Separator = "\n\n";

    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <inheritdoc />
    public string Id => "add_context";

    /// <inheritdoc />
    public ExtensionType Type => ExtensionType.Pre;

    /// <inheritdoc />
    public ExtensionReply Invoke(ExtensionInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        try
        {
            var config = new BuiltInConfig(Id, input.Config);
            string? system = config.GetString("system");
            var metadata = config.GetMetadata("metadata");
            if (config.GetBoolean("include_timestamp", false))
            {
                // The upstream option: when the context was added, for extensions and providers downstream.
                metadata ??= new Dictionary<string, string>(StringComparer.Ordinal);
                metadata["context_timestamp"] = DateTimeOffset.UtcNow.ToString("O", System.Globalization.CultureInfo.InvariantCulture);
            }
            byte[]? payload = string.IsNullOrEmpty(system) || input.PayloadKind != PayloadKind.Json ? null : AddSystem(input.Payload, system);
            if (payload is null && metadata is null)
            {
                return ExtensionReply.Unchanged;
            }

            return new ExtensionReply { Payload = payload is null ? (ReadOnlyMemory<byte>?)null : payload, PayloadKind = PayloadKind.Json, Metadata = metadata };
        }
        catch (BuiltInConfigException exception)
        {
            return BuiltInFailures.Config(exception);
        }
        catch (JsonException exception)
        {
            return BuiltInFailures.MalformedPayload(Id, exception);
        }
    }

    /// <summary>The payload with the system text added, or null when it is not a chat request.</summary>
    private static byte[]? AddSystem(ReadOnlyMemory<byte> payload, string system)
    {
        using var document = JsonDocument.Parse(payload);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object
            || !root.TryGetProperty("messages", out var messages) || messages.ValueKind != JsonValueKind.Array)
        {
            return null;
        }

        bool hasSystem = root.TryGetProperty("system", out _);
        // The Anthropic form: a top-level system, or a Claude model (an OpenAI request may carry
        // max_tokens too, so that alone says nothing).
        bool anthropic = hasSystem || (root.TryGetProperty("model", out var model) && model.ValueKind == JsonValueKind.String
            && model.GetString()!.StartsWith("claude", StringComparison.OrdinalIgnoreCase) && !HasSystemMessage(messages));

        var buffer = new ArrayBufferWriter<byte>(payload.Length + system.Length + 64);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            writer.WriteStartObject();
            foreach (var property in root.EnumerateObject())
            {
                if (anthropic && property.NameEquals("system"))
                {
                    writer.WritePropertyName("system");
                    WriteAnthropicSystem(writer, property.Value, system);
                }
                else if (!anthropic && property.NameEquals("messages"))
                {
                    writer.WritePropertyName("messages");
                    WriteMessages(writer, property.Value, system);
                }
                else
                {
                    property.WriteTo(writer);
                }
            }

            if (anthropic && !hasSystem)
            {
                writer.WriteString("system", system);
            }

            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static bool HasSystemMessage(JsonElement messages)
    {
        foreach (var message in messages.EnumerateArray())
        {
            if (IsSystemMessage(message))
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsSystemMessage(JsonElement message) =>
        message.ValueKind == JsonValueKind.Object && message.TryGetProperty("role", out var role)
        && role.ValueKind == JsonValueKind.String && role.ValueEquals("system");

    private static void WriteAnthropicSystem(Utf8JsonWriter writer, JsonElement existing, string system)
    {
        switch (existing.ValueKind)
        {
            case JsonValueKind.String:
                string current = existing.GetString()!;
                writer.WriteStringValue(current.Length == 0 ? system : system + Separator + current);
                break;
            case JsonValueKind.Array:
                writer.WriteStartArray();
                WriteTextBlock(writer, system);
                foreach (var block in existing.EnumerateArray())
                {
                    block.WriteTo(writer);
                }

                writer.WriteEndArray();
                break;
            case JsonValueKind.Null:
                writer.WriteStringValue(system);
                break;
            default:
                throw new JsonException("'system' is neither a string nor an array of blocks");
        }
    }

    private static void WriteMessages(Utf8JsonWriter writer, JsonElement messages, string system)
    {
        writer.WriteStartArray();
        bool first = true;
        foreach (var message in messages.EnumerateArray())
        {
            if (first && IsSystemMessage(message) && message.TryGetProperty("content", out var content)
                && content.ValueKind is JsonValueKind.String or JsonValueKind.Array)
            {
                writer.WriteStartObject();
                foreach (var property in message.EnumerateObject())
                {
                    if (property.NameEquals("content"))
                    {
                        writer.WritePropertyName("content");
                        WriteAnthropicSystem(writer, content, system);
                    }
                    else
                    {
                        property.WriteTo(writer);
                    }
                }

                writer.WriteEndObject();
            }
            else
            {
                if (first)
                {
                    writer.WriteStartObject();
                    writer.WriteString("role", "system");
                    writer.WriteString("content", system);
                    writer.WriteEndObject();
                }

                message.WriteTo(writer);
            }

            first = false;
        }

        if (first)
        {
            writer.WriteStartObject();
            writer.WriteString("role", "system");
            writer.WriteString("content", system);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
    }

    private static void WriteTextBlock(Utf8JsonWriter writer, string text)
    {
        writer.WriteStartObject();
        writer.WriteString("type", "text");
        writer.WriteString("text", text);
        writer.WriteEndObject();
    }
}
