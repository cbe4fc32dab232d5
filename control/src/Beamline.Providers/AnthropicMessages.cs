using System.Text;
using System.Text.Json;
using Beamline.Pipeline;
using Beamline.Routing.Catalog;

namespace Beamline.Providers;

/// <summary>
/// The Anthropic Messages API call of an <c>anthropic</c> provider: <c>POST {base_url}/messages</c>
/// with <c>anthropic-version</c> and the credential the entry names (sent as <c>x-api-key</c>), and a body built from the request's payload
/// the way <see cref="ProviderBlocks.ChatCompletionBody"/> builds an OpenAI one. Differences the
/// API imposes: <c>max_tokens</c> is required, and system prompts go in the top-level
/// <c>system</c> field, not in <c>messages</c>.
/// </summary>
internal static class AnthropicMessages
{
    /// <summary>The base URL when the entry gives none.</summary>
    public const string BaseUrl = "https://api.anthropic.com/v1";

    /// <summary>The API version sent in <c>anthropic-version</c>.</summary>
    public const string ApiVersion = "2023-06-01";

    /// <summary><c>max_tokens</c> when the payload sets none.</summary>
    public const int DefaultMaxTokens = 1024;

    /// <summary>The URL of the messages endpoint under <paramref name="baseUrl"/>.</summary>
    public static string Url(string baseUrl) => baseUrl.TrimEnd('/') + "/messages";

    /// <summary>The header the API key goes in; the executing side adds it from the credential the block names.</summary>
    public const string ApiKeyHeader = "x-api-key";

    /// <summary>The headers of the call but the API key (see <see cref="ApiKeyHeader"/>).</summary>
    public static void WriteHeaders(Utf8JsonWriter writer)
    {
        writer.WriteString("Content-Type", "application/json");
        writer.WriteString("anthropic-version", ApiVersion);
    }

    /// <summary>
    /// The request body. A JSON object payload with <c>messages</c> is sent with its <c>system</c>
    /// messages moved to <c>system</c>; one with <c>text</c> or <c>prompt</c> becomes one message
    /// (<c>role</c> <c>assistant</c> when it says so, else <c>user</c>: the API has no system role in
    /// <c>messages</c>), keeping <c>system</c>, <c>temperature</c> and the like; anything else becomes
    /// one user message holding its text. The provider's default model and
    /// <see cref="DefaultMaxTokens"/> fill what the payload does not set; a model the payload sets
    /// must be one the entry allows (<see cref="ProviderBlocks.RefuseModel"/>).
    /// </summary>
    public static string Body(ProviderDescriptor provider, PipelineRequest request)
        => ProviderBlocks.JsonBody(provider, request, WriteObject, static (writer, provider, text) =>
        {
            writer.WriteStartObject();
            WriteDefaults(writer, provider, hasModel: false, hasMaxTokens: false);
            ProviderBlocks.WriteMessage(writer, "user", text);
            writer.WriteEndObject();
        });

    private static void WriteObject(Utf8JsonWriter writer, ProviderDescriptor provider, JsonElement root)
    {
        writer.WriteStartObject();
        WriteDefaults(writer, provider, root.TryGetProperty("model", out _), root.TryGetProperty("max_tokens", out _));
        if (root.TryGetProperty("messages", out var messages) && messages.ValueKind == JsonValueKind.Array)
        {
            WriteMessages(writer, root, messages);
        }
        else
        {
            var text = root.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()!
                : root.TryGetProperty("prompt", out var p) && p.ValueKind == JsonValueKind.String ? p.GetString()!
                : root.GetRawText();
            var role = root.TryGetProperty("role", out var r) && r.ValueKind == JsonValueKind.String && r.GetString() == "assistant" ? "assistant" : "user";
            foreach (var member in root.EnumerateObject())
            {
                if (member.Name is "model" or "max_tokens" or "system" or "temperature" or "top_p" or "stop_sequences" or "metadata")
                {
                    member.WriteTo(writer);
                }
            }
            ProviderBlocks.WriteMessage(writer, role, text);
        }
        writer.WriteEndObject();
    }

    // Every member but messages and system passes through; system messages join the system prompt.
    private static void WriteMessages(Utf8JsonWriter writer, JsonElement root, JsonElement messages)
    {
        var system = new StringBuilder();
        if (root.TryGetProperty("system", out var given) && given.ValueKind == JsonValueKind.String)
        {
            system.Append(given.GetString());
        }
        foreach (var member in root.EnumerateObject())
        {
            if (member.Name is not ("messages" or "system"))
            {
                member.WriteTo(writer);
            }
        }
        writer.WriteStartArray("messages");
        foreach (var message in messages.EnumerateArray())
        {
            if (message.ValueKind == JsonValueKind.Object && message.TryGetProperty("role", out var role) && role.ValueKind == JsonValueKind.String
                && role.GetString() == "system" && message.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String)
            {
                system.Append(system.Length > 0 ? "\n\n" : "").Append(content.GetString());
                continue;
            }
            message.WriteTo(writer);
        }
        writer.WriteEndArray();
        if (system.Length > 0)
        {
            writer.WriteString("system", system.ToString());
        }
        else if (given.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null))
        {
            writer.WritePropertyName("system");
            given.WriteTo(writer); // structured system blocks pass through as given
        }
    }

    private static void WriteDefaults(Utf8JsonWriter writer, ProviderDescriptor provider, bool hasModel, bool hasMaxTokens)
    {
        if (!hasModel && provider.DefaultModel is { } model)
        {
            writer.WriteString("model", model);
        }
        if (!hasMaxTokens)
        {
            writer.WriteNumber("max_tokens", DefaultMaxTokens);
        }
    }
}
