using System.Buffers;
using System.Text;
using System.Text.Json;
using Beamline.Pipeline;
using Beamline.Pipeline.Providers;
using Beamline.Dispatch;
using Beamline.Policies;
using Beamline.Routing.Catalog;
using Beamline.Worker.V2;
using Google.Protobuf;
using WireFormat = Beamline.Pipeline.WireFormat;

namespace Beamline.Providers;

/// <summary>
/// Turns a chosen provider into the block that calls it, and the block's result into a
/// <see cref="ProviderAnswer"/>. A <c>block</c> provider runs <c>block_type</c> on <c>pool</c> with
/// the request's payload; an <c>openai</c> or <c>openai_compatible</c> provider becomes an
/// <c>http.request</c> block on the <c>io</c> pool that POSTs an OpenAI chat-completions body to
/// <c>base_url</c> + <c>/chat/completions</c>; an <c>anthropic</c> provider one that POSTs a Messages
/// API body to <c>base_url</c> + <c>/messages</c> (<see cref="AnthropicMessages"/>). A
/// <c>nats_provider</c> is not a block: <see cref="NatsProviderClient"/> calls it.
/// </summary>
internal static class ProviderBlocks
{
    /// <summary>The block type HTTP providers are called through.</summary>
    public const string HttpBlockType = "http.request";

    /// <summary>The pool HTTP providers' blocks run on (blocking I/O).</summary>
    public const string HttpPool = "io";

    /// <summary>The base URL of <see cref="ProviderKind.OpenAI"/> when the entry gives none.</summary>
    public const string OpenAIBaseUrl = "https://api.openai.com/v1";


    /// <summary>True for the kinds called through <c>http.request</c>.</summary>
    public static bool IsHttp(ProviderDescriptor provider) => provider.Kind is ProviderKind.OpenAI or ProviderKind.OpenAICompatible or ProviderKind.Anthropic;

    /// <summary>
    /// The base URL an HTTP provider's blocks call: its <c>base_url</c>, else the OpenAI or
    /// Anthropic default; null for an <c>openai_compatible</c> entry without one, or another kind.
    /// </summary>
    public static string? BaseUrl(ProviderDescriptor provider)
    {
        ArgumentNullException.ThrowIfNull(provider);
        return provider.Kind switch
        {
            ProviderKind.OpenAI => provider.Endpoint ?? OpenAIBaseUrl,
            ProviderKind.OpenAICompatible => provider.Endpoint,
            ProviderKind.Anthropic => provider.Endpoint ?? AnthropicMessages.BaseUrl,
            _ => null,
        };
    }

    /// <summary>The block calling <paramref name="provider"/> for <paramref name="request"/>, or null with a reason.</summary>
    public static ExecRequest? Build(ProviderDescriptor provider, PipelineRequest request, out string? reason)
        => Build(provider, request, stream: false, out reason, out _);

    /// <summary>
    /// The block calling <paramref name="provider"/>, or null with a reason; <paramref name="upstream"/>
    /// says which API the provider's answer will speak. A gateway request (OpenAI or Anthropic
    /// format) is sent in the provider's own API — as it is when the two agree, translated when
    /// they do not. A streamed HTTP call asks the executor for the response head first
    /// (<c>stream_head</c>), so that an error status is known before any body byte is passed on.
    /// </summary>
    public static ExecRequest? Build(ProviderDescriptor provider, PipelineRequest request, bool stream, out string? reason, out WireFormat upstream)
    {
        upstream = WireFormat.None;
        if (request.Format is not (WireFormat.Cp1 or WireFormat.None) && IsHttp(provider))
        {
            return BuildGateway(provider, request, stream, out reason, out upstream);
        }
        reason = RefuseModel(provider, request);
        if (reason is not null)
        {
            return null;
        }
        switch (provider.Kind)
        {
            case ProviderKind.Block when provider.BlockType is { Length: > 0 } blockType:
                reason = RefuseClientCredential(blockType, request.Payload.Span, out _);
                if (reason is not null)
                {
                    return null;
                }
                return NewRequest(provider, request, blockType, provider.Pool, ByteString.CopyFrom(request.Payload.Span));
            case ProviderKind.Block:
                reason = $"provider '{provider.Id}' of kind block has no block_type";
                return null;
            case ProviderKind.OpenAI or ProviderKind.OpenAICompatible:
                var baseUrl = BaseUrl(provider);
                if (baseUrl is null)
                {
                    reason = $"provider '{provider.Id}' has no base_url";
                    return null;
                }
                return NewRequest(provider, request, HttpBlockType, HttpPool, ChatCompletionBlock(provider, baseUrl, request));
            case ProviderKind.Anthropic:
                return NewRequest(provider, request, HttpBlockType, HttpPool, AnthropicBlock(provider, request));
            default:
                reason = $"provider '{provider.Id}': kind {provider.Kind} is not called through a block";
                return null;
        }
    }

    // The gateway faces: the client's body in the provider's API, at the provider's endpoint for it.
    private static ExecRequest? BuildGateway(ProviderDescriptor provider, PipelineRequest request, bool stream, out string? reason, out WireFormat upstream)
    {
        var anthropic = provider.Kind == ProviderKind.Anthropic;
        upstream = (anthropic, request.Format) switch
        {
            (true, WireFormat.AnthropicMessages or WireFormat.OpenAIChat or WireFormat.OpenAIResponses) => WireFormat.AnthropicMessages,
            (true, _) => WireFormat.None,
            (false, WireFormat.AnthropicMessages or WireFormat.OpenAIResponses) => WireFormat.OpenAIChat,
            (false, var same) => same,
        };
        if (upstream == WireFormat.None || !Gateway.Translation.RequestTranslation.CanTranslate(request.Format, upstream))
        {
            reason = $"provider '{provider.Id}' ({provider.Kind}) cannot serve a {request.Format} request";
            return null;
        }
        var baseUrl = BaseUrl(provider);
        if (baseUrl is null)
        {
            reason = $"provider '{provider.Id}' has no base_url";
            return null;
        }
        byte[] body;
        try
        {
            body = Gateway.Translation.RequestTranslation.ToUpstream(request.Payload.Span, request.Format, upstream, UpstreamModel(provider, request));
        }
        catch (Gateway.Translation.GatewayFormatException e)
        {
            reason = e.Message;
            return null;
        }
        var path = upstream switch
        {
            WireFormat.AnthropicMessages => "/messages",
            WireFormat.OpenAIEmbeddings => "/embeddings",
            _ => "/chat/completions",
        };
        var buffer = new ArrayBufferWriter<byte>(body.Length + 256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("url", baseUrl.TrimEnd('/') + path);
            writer.WriteString("method", "POST");
            writer.WriteStartObject("headers");
            if (anthropic)
            {
                AnthropicMessages.WriteHeaders(writer);
            }
            else
            {
                writer.WriteString("Content-Type", "application/json");
            }
            writer.WriteEndObject();
            WriteRefs(writer, provider);
            writer.WriteString("body", body);
            if (stream)
            {
                writer.WriteBoolean("stream_head", true);
            }
            writer.WriteEndObject();
        }
        reason = null;
        return NewRequest(provider, request, HttpBlockType, HttpPool, ByteString.CopyFrom(buffer.WrittenSpan));
    }

    // The model the upstream is asked for (the rule cost tracking prices by too).
    private static string? UpstreamModel(ProviderDescriptor provider, PipelineRequest request)
        => Gateway.ModelRoutes.UpstreamModel(provider, request.Metadata.TryGetValue(GatewayModelKey, out var asked) ? asked : null);

    /// <summary>The request metadata key a gateway face puts the client's <c>model</c> under.</summary>
    public const string GatewayModelKey = Gateway.ModelRoutes.GatewayModelKey;

    /// <summary>
    /// Why an HTTP provider must not be called with this payload's <c>model</c>, or null: the
    /// provider entry's <c>model</c> (or its <c>models</c> list) decides which models of the
    /// operator's account a tenant may use, so a payload asking for another one is refused
    /// (<c>invalid_request</c>) rather than passed upstream. A gateway request's <c>model</c> names
    /// a route (a policy, a provider, a provider's model), not the upstream's model: it is not
    /// refused here, and the upstream is asked for it only when the entry offers it by that name
    /// (otherwise for the entry's own model, see <c>UpstreamModel</c>).
    /// </summary>
    public static string? RefuseModel(ProviderDescriptor provider, PipelineRequest request)
    {
        // A gateway request's model names a route (resolved before routing), not an upstream model.
        if (!IsHttp(provider) || request.PayloadKind != PayloadKind.Json || request.Format is not (WireFormat.Cp1 or WireFormat.None))
        {
            return null;
        }
        using var document = ParseObject(request.Payload);
        if (document is null || !document.RootElement.TryGetProperty("model", out var model) || model.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        if (model.ValueKind != JsonValueKind.String)
        {
            return "the payload's model must be a string";
        }
        var name = model.GetString()!;
        if (provider.AllowsModel(name))
        {
            return null;
        }
        var allowed = provider.Models.IsDefaultOrEmpty ? provider.Model : string.Join(", ", provider.Models);
        return $"model '{name}' is not offered by provider '{provider.Id}' (allowed: {allowed}); leave model out to use '{provider.DefaultModel}'";
    }

    /// <summary>
    /// Why a client's own <paramref name="blockType"/> block (<c>POST /v1/blocks</c>, a <c>block</c>
    /// provider passing the request's payload) must not run, or null: an <c>http.request</c>
    /// payload naming a credential (<c>credential_ref</c>) would spend the operator's provider keys
    /// outside routing, its quotas and its model limits; one naming a provider
    /// (<c>provider_ref</c>) would reach the provider's hosts (a local model server on loopback,
    /// say) that the tenant's allow-list does not give it. A payload that cannot be read here is
    /// refused too (<paramref name="malformed"/> set): what this reader and the executor's
    /// disagree on must not get through.
    /// </summary>
    public static string? RefuseClientCredential(string blockType, ReadOnlySpan<byte> payload, out bool malformed)
    {
        ArgumentNullException.ThrowIfNull(blockType);
        malformed = false;
        if (!string.Equals(blockType, HttpBlockType, StringComparison.Ordinal))
        {
            return null;
        }
        var reader = new Utf8JsonReader(payload, new JsonReaderOptions { MaxDepth = int.MaxValue });
        try
        {
            while (reader.Read())
            {
                if (reader.TokenType != JsonTokenType.PropertyName || reader.CurrentDepth != 1)
                {
                    continue;
                }
                if (reader.ValueTextEquals(CredentialRefMember))
                {
                    return $"an {HttpBlockType} block from a client may not name a credential ('{CredentialRefMember}'): credentials are for the providers routing calls";
                }
                if (reader.ValueTextEquals(ProviderRefMember))
                {
                    return $"an {HttpBlockType} block from a client may not name a provider ('{ProviderRefMember}'): the providers' hosts are for the calls routing makes; list the host in the tenant's allow-list instead";
                }
            }
        }
        catch (JsonException e)
        {
            malformed = true;
            return $"the {HttpBlockType} payload is not valid JSON: {e.Message}";
        }
        return null;
    }

    /// <summary>Interprets the result of the block <c>Build</c> made for <paramref name="provider"/>.</summary>
    public static ProviderAnswer Interpret(ProviderDescriptor provider, ExecResult result)
    {
        if (result.Status != ExecStatus.Ok)
        {
            var code = result.ErrorCode.Length > 0 ? result.ErrorCode : ExecErrorCodes.InternalError;
            var failure = code switch
            {
                _ when result.Status == ExecStatus.Timeout => FailureKinds.Timeout,
                ExecErrorCodes.DeadlineExceeded => FailureKinds.Timeout,
                ExecErrorCodes.NoResponders or ExecErrorCodes.ResourceUnavailable => FailureKinds.ServiceUnavailable | FailureKinds.ServerError,
                // The caller went away: nobody is left to answer.
                ExecErrorCodes.Cancelled => FailureKinds.None,
                // The block type, its configuration or the executor failed: from the caller's
                // side a server error of this provider, which the next provider may not have.
                _ => FailureKinds.ServerError,
            };
            return new ProviderAnswer(false, failure, StatusName(result.Status), code, result.ErrorMessage, 0, default);
        }
        return IsHttp(provider) ? InterpretHttp(result) : new ProviderAnswer(true, FailureKinds.None, "ok", null, null, 0, result.Output.Memory);
    }

    /// <summary>The CP1 name of a block status.</summary>
    public static string StatusName(ExecStatus status) => status switch
    {
        ExecStatus.Ok => "ok",
        ExecStatus.Error => "error",
        ExecStatus.Timeout => "timeout",
        ExecStatus.Cancelled => "cancelled",
        _ => "unspecified",
    };

    // http.request answers {"status","headers","url","body_base64"} with the block OK whatever
    // the HTTP status: the status decides.
    private static ProviderAnswer InterpretHttp(ExecResult result)
    {
        int status;
        byte[] body;
        var retryAfter = 0;
        try
        {
            using var document = JsonDocument.Parse(result.Output.Memory);
            var root = document.RootElement;
            status = root.GetProperty("status").GetInt32();
            body = root.TryGetProperty("body_base64", out var encoded) && encoded.ValueKind == JsonValueKind.String ? encoded.GetBytesFromBase64() : [];
            if (root.TryGetProperty("headers", out var headers) && headers.ValueKind == JsonValueKind.Object
                && headers.TryGetProperty("retry-after", out var header) && header.ValueKind == JsonValueKind.String)
            {
                retryAfter = RetryAfterSeconds(header.GetString()!);
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException or KeyNotFoundException)
        {
            return new ProviderAnswer(false, FailureKinds.ServerError, "error", ExecErrorCodes.InternalError,
                $"the http.request output is not what it documents: {e.Message}", 0, default);
        }
        if (status is >= 200 and <= 299)
        {
            return new ProviderAnswer(true, FailureKinds.None, "ok", null, null, status, body);
        }
        var code = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"http_{status}");
        var message = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"the provider answered HTTP {status}");
        return new ProviderAnswer(false, FailureKindNames.FromHttpStatus(status), "error", code, message, status, body) { RetryAfterSeconds = retryAfter };
    }

    // Retry-After is delay-seconds or an HTTP-date (RFC 9110 10.2.3); a repeated header's values
    // are joined with ", " by the executor: the first one counts. Unreadable or past: 0 (none).
    internal static int RetryAfterSeconds(string value)
    {
        var first = value.Split(',', 2)[0].Trim();
        if (int.TryParse(first, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var seconds))
        {
            return seconds;
        }
        if (DateTimeOffset.TryParseExact(value.Trim(), "r", System.Globalization.CultureInfo.InvariantCulture,
            System.Globalization.DateTimeStyles.AssumeUniversal, out var date))
        {
            return (int)Math.Clamp(Math.Ceiling((date - DateTimeOffset.UtcNow).TotalSeconds), 0, int.MaxValue);
        }
        return 0;
    }

    private static ExecRequest NewRequest(ProviderDescriptor provider, PipelineRequest request, string type, string pool, ByteString payload)
    {
        var exec = new ExecRequest
        {
            BlockId = Guid.CreateVersion7().ToString("N"),
            TenantId = request.TenantId,
            Type = type,
            Pool = pool,
            Payload = payload,
            DeadlineMs = provider.TimeoutMs,
        };
        exec.Metadata["request_id"] = request.RequestId;
        exec.Metadata["provider_id"] = provider.Id;
        if (request.TraceId is not null)
        {
            exec.Metadata["trace_id"] = request.TraceId;
        }
        return exec;
    }

    /// <summary>The <c>http.request</c> payload: <c>{"url","method":"POST","headers","body"}</c>.</summary>
    private static ByteString ChatCompletionBlock(ProviderDescriptor provider, string baseUrl, PipelineRequest request)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("url", baseUrl.TrimEnd('/') + "/chat/completions");
            writer.WriteString("method", "POST");
            writer.WriteStartObject("headers");
            writer.WriteString("Content-Type", "application/json");
            writer.WriteEndObject();
            WriteRefs(writer, provider);
            writer.WriteString("body", ChatCompletionBody(provider, request));
            writer.WriteEndObject();
        }
        return ByteString.CopyFrom(buffer.WrittenSpan);
    }

    /// <summary>The <c>http.request</c> payload calling the Anthropic Messages API.</summary>
    private static ByteString AnthropicBlock(ProviderDescriptor provider, PipelineRequest request)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("url", AnthropicMessages.Url(provider.Endpoint ?? AnthropicMessages.BaseUrl));
            writer.WriteString("method", "POST");
            writer.WriteStartObject("headers");
            AnthropicMessages.WriteHeaders(writer);
            writer.WriteEndObject();
            WriteRefs(writer, provider);
            writer.WriteString("body", AnthropicMessages.Body(provider, request));
            writer.WriteEndObject();
        }
        return ByteString.CopyFrom(buffer.WrittenSpan);
    }

    /// <summary>
    /// Names the provider (<c>provider_ref</c>: the executing side lets the block reach the hosts
    /// its configuration lists for it, not the tenant's allow-list) and its credential
    /// (<see cref="ProviderDescriptor.CredentialName"/>): the executing side adds the secret from
    /// its own configuration, so that no API key is ever in a block payload (over NATS, in logs,
    /// in stored decisions).
    /// </summary>
    private static void WriteRefs(Utf8JsonWriter writer, ProviderDescriptor provider)
    {
        writer.WriteString(ProviderRefMember, provider.Id);
        if (provider.CredentialName is { } credential)
        {
            writer.WriteString(CredentialRefMember, credential);
        }
    }

    /// <summary>The <c>http.request</c> payload member naming an operator-configured provider.</summary>
    public const string ProviderRefMember = "provider_ref";

    /// <summary>The <c>http.request</c> payload member naming a credential.</summary>
    public const string CredentialRefMember = "credential_ref";

    /// <summary>
    /// The chat-completions body. A JSON object payload with <c>messages</c> is sent as it is (with
    /// the provider's default model when it names none; a model it names must be one the entry
    /// allows, see <see cref="RefuseModel"/>); one with <c>text</c> or <c>prompt</c>
    /// becomes one message (<c>role</c>, default <c>user</c>); any other payload becomes one user
    /// message holding its text.
    /// </summary>
    internal static string ChatCompletionBody(ProviderDescriptor provider, PipelineRequest request)
        => JsonBody(provider, request, WriteChatObject, static (writer, provider, text) =>
        {
            writer.WriteStartObject();
            WriteModel(writer, provider);
            WriteMessage(writer, "user", text);
            writer.WriteEndObject();
        });

    /// <summary>
    /// An HTTP provider's request body: <paramref name="writeObject"/> writes it from a payload that
    /// is a JSON object (given as JSON or as a JSON string), <paramref name="writeText"/> from the
    /// text of any other payload.
    /// </summary>
    internal static string JsonBody(ProviderDescriptor provider, PipelineRequest request,
        Action<Utf8JsonWriter, ProviderDescriptor, JsonElement> writeObject, Action<Utf8JsonWriter, ProviderDescriptor, string> writeText)
    {
        var buffer = new ArrayBufferWriter<byte>(request.Payload.Length + 160);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            using var document = request.PayloadKind == PayloadKind.Json ? ParseObject(request.Payload) : null;
            if (document is not null)
            {
                writeObject(writer, provider, document.RootElement);
            }
            else
            {
                writeText(writer, provider, Encoding.UTF8.GetString(request.Payload.Span));
            }
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static JsonDocument? ParseObject(ReadOnlyMemory<byte> payload)
    {
        try
        {
            var document = JsonDocument.Parse(payload);
            if (document.RootElement.ValueKind == JsonValueKind.Object)
            {
                return document;
            }
            document.Dispose();
            return null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static void WriteChatObject(Utf8JsonWriter writer, ProviderDescriptor provider, JsonElement root)
    {
        writer.WriteStartObject();
        if (!root.TryGetProperty("model", out _))
        {
            WriteModel(writer, provider);
        }
        if (root.TryGetProperty("messages", out _))
        {
            foreach (var member in root.EnumerateObject())
            {
                member.WriteTo(writer);
            }
        }
        else
        {
            var text = root.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()
                : root.TryGetProperty("prompt", out var p) && p.ValueKind == JsonValueKind.String ? p.GetString()
                : root.GetRawText();
            var role = root.TryGetProperty("role", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString()! : "user";
            if (root.TryGetProperty("model", out var model))
            {
                writer.WritePropertyName("model");
                model.WriteTo(writer);
            }
            WriteMessage(writer, role, text!);
        }
        writer.WriteEndObject();
    }

    private static void WriteModel(Utf8JsonWriter writer, ProviderDescriptor provider)
    {
        if (provider.DefaultModel is { } model)
        {
            writer.WriteString("model", model);
        }
    }

    /// <summary>Writes <c>"messages": [{"role", "content"}]</c>.</summary>
    internal static void WriteMessage(Utf8JsonWriter writer, string role, string content)
    {
        writer.WriteStartArray("messages");
        writer.WriteStartObject();
        writer.WriteString("role", role);
        writer.WriteString("content", content);
        writer.WriteEndObject();
        writer.WriteEndArray();
    }
}
