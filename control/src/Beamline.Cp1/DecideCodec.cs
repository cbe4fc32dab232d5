using System.Buffers;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using Beamline.Routing;

namespace Beamline.Cp1;

/// <summary>
/// The CP1 decide codec. <see cref="Parse"/> reads either request form from UTF-8 bytes and
/// validates in a fixed order, stopping at the first problem: size limit (before any parsing),
/// JSON well-formedness, a root object, then for the task form <c>version</c>, <c>tenant_id</c>,
/// <c>request_id</c>, <c>task</c>, <c>task.type</c>, <c>task.payload</c>, and for the message form
/// <c>message</c>, <c>message.tenant_id</c>, <c>message.message_id</c>, <c>message.message_type</c>,
/// <c>message.payload</c> — or, in the hybrid form the upstream C gateway sends (top-level
/// <c>tenant_id</c> beside the message), the message's own fields are optional: its
/// <c>tenant_id</c> must then equal the top-level one, <c>message_type</c> defaults to chat,
/// <c>message_id</c> to <c>request_id</c>, and a <c>task</c> beside an empty message gives the payload; then, in both, <c>trace_id</c>, <c>policy_id</c>, <c>constraints</c>,
/// <c>metadata</c>, <c>context</c>, <c>push_assignment</c>, <c>assignment_subject</c>. It never
/// throws for any input. The writers produce the exact reply shapes of the CP1 fixtures.
/// </summary>
public static class DecideCodec
{
    /// <summary>The default request size limit: 1 MiB.</summary>
    public const int DefaultMaxRequestBytes = 1 << 20;

    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 64 };

    /// <summary>Task types CP1 defines for the task form.</summary>
    public static IReadOnlyList<string> TaskTypes { get; } = ["chat", "completion", "embedding"];

    /// <summary>Decodes and validates a decide request.</summary>
    public static DecideParseResult Parse(ReadOnlySpan<byte> utf8Json, int maxRequestBytes = DefaultMaxRequestBytes)
    {
        if (utf8Json.Length > maxRequestBytes)
        {
            return Fail(new Cp1Error(Cp1ErrorCodes.InvalidRequest,
                string.Create(CultureInfo.InvariantCulture, $"request too large: {utf8Json.Length} bytes exceeds the limit of {maxRequestBytes} bytes"),
                null, Cp1ErrorTypes.TooLarge), null, null);
        }
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(utf8Json.ToArray(), DocumentOptions);
        }
        catch (JsonException)
        {
            return Fail(new Cp1Error(Cp1ErrorCodes.InvalidRequest, "request body is not valid JSON", null, Cp1ErrorTypes.InvalidJson), null, null);
        }
        using (document)
        {
            string? requestId = null, traceId = null;
            try
            {
                var root = document.RootElement;
                if (root.ValueKind != JsonValueKind.Object)
                {
                    throw new Invalid(new Cp1Error(Cp1ErrorCodes.InvalidRequest, "request body must be a JSON object", null, Cp1ErrorTypes.InvalidJson));
                }
                var hasMessage = root.TryGetProperty("message"u8, out var message);
                requestId = PeekString(root, "request_id"u8) ?? (hasMessage ? PeekString(message, "message_id"u8) : null);
                traceId = PeekString(root, "trace_id"u8) ?? (hasMessage ? PeekString(message, "trace_id"u8) : null);
                var request = hasMessage ? ReadMessageForm(root, message) : ReadTaskForm(root);
                return new DecideParseResult { Request = request, RequestId = request.RequestId, TraceId = request.TraceId };
            }
            catch (Invalid e)
            {
                return Fail(e.Error, requestId, traceId);
            }
            catch (Exception e) when (e is InvalidOperationException or ArgumentException or FormatException or JsonException)
            {
                // System.Text.Json validates UTF-8 inside strings only when they are read.
                return Fail(new Cp1Error(Cp1ErrorCodes.InvalidRequest, "request body is not valid UTF-8 JSON", null, Cp1ErrorTypes.InvalidJson), requestId, traceId);
            }
        }
    }

    /// <summary>Writes <c>{"ok":true,"decision":{...},"context":{...}}</c>.</summary>
    public static void WriteOk(Utf8JsonWriter writer, in RouteDecision decision, string? requestId, string? traceId)
        => WriteOk(writer, decision, requestId, traceId, []);

    /// <summary>
    /// Writes <c>{"ok":true,"decision":{...},"context":{...}}</c> with <paramref name="extraMetadata"/>
    /// added to the decision's <c>metadata</c> (the host's <c>instance_id</c>, the assignment's fate).
    /// </summary>
    public static void WriteOk(Utf8JsonWriter writer, in RouteDecision decision, string? requestId, string? traceId,
        ReadOnlySpan<KeyValuePair<string, string>> extraMetadata)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteStartObject();
        writer.WriteBoolean(Names.Ok, true);
        writer.WriteStartObject(Names.Decision);
        writer.WriteString(Names.ProviderId, decision.ProviderId);
        writer.WriteNumber(Names.Priority, decision.Priority);
        writer.WriteNumber(Names.ExpectedLatencyMs, (long)Math.Round(decision.ExpectedLatencyMs));
        writer.WriteNumber(Names.ExpectedCost, Math.Round(decision.ExpectedCost, 9));
        writer.WriteString(Names.Reason, decision.Reason);
        if (decision.PolicyId is not null)
        {
            writer.WriteString(Names.PolicyId, decision.PolicyId);
        }
        writer.WriteStartObject(Names.Metadata);
        foreach (var pair in decision.Metadata)
        {
            writer.WriteString(pair.Key, pair.Value);
        }
        foreach (var pair in extraMetadata)
        {
            writer.WriteString(pair.Key, pair.Value);
        }
        writer.WriteEndObject();
        writer.WriteEndObject();
        WriteContext(writer, requestId, traceId);
        writer.WriteEndObject();
    }

    /// <summary>Writes <c>{"ok":false,"error":{code,message,details},"context":{...}}</c>.</summary>
    public static void WriteError(Utf8JsonWriter writer, Cp1Error error, string? requestId, string? traceId)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(error);
        writer.WriteStartObject();
        writer.WriteBoolean(Names.Ok, false);
        writer.WriteStartObject(Names.Error);
        writer.WriteString(Names.Code, error.Code);
        writer.WriteString(Names.Message, error.Message);
        writer.WriteStartObject(Names.Details);
        if (error.Field is not null)
        {
            writer.WriteString(Names.Field, error.Field);
        }
        if (error.Type is not null)
        {
            writer.WriteString(Names.Type, error.Type);
        }
        if (error.RetryAfterSeconds is { } retryAfter)
        {
            writer.WriteNumber(Names.RetryAfterSeconds, retryAfter);
        }
        if (error.Details is { ValueKind: JsonValueKind.Object } details)
        {
            foreach (var property in details.EnumerateObject())
            {
                property.WriteTo(writer);
            }
        }
        writer.WriteEndObject();
        writer.WriteEndObject();
        WriteContext(writer, requestId, traceId);
        writer.WriteEndObject();
    }

    /// <summary>The reply for a decision: ok, or its error (<c>policy_not_found</c>, <c>decision_failed</c>).</summary>
    public static void WriteDecision(Utf8JsonWriter writer, in RouteDecision decision, string? requestId, string? traceId)
    {
        if (decision.IsSuccess)
        {
            WriteOk(writer, decision, requestId, traceId);
            return;
        }
        var code = decision.ErrorCode ?? Cp1ErrorCodes.DecisionFailed;
        WriteError(writer, new Cp1Error(code, decision.ErrorMessage ?? code,
            code == Cp1ErrorCodes.PolicyNotFound ? "policy_id" : null), requestId, traceId);
    }

    /// <summary>The reply to a request that failed to decode.</summary>
    public static void WriteError(Utf8JsonWriter writer, in DecideParseResult result)
    {
        WriteError(writer, result.Error ?? new Cp1Error(Cp1ErrorCodes.Internal, "no error"), result.RequestId, result.TraceId);
    }

    /// <summary>Serialises a reply with <paramref name="write"/> into a new array (for tests and tools).</summary>
    public static byte[] ToBytes(Action<Utf8JsonWriter> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            write(writer);
        }
        return buffer.WrittenSpan.ToArray();
    }

    private static void WriteContext(Utf8JsonWriter writer, string? requestId, string? traceId)
    {
        writer.WriteStartObject(Names.Context);
        if (requestId is not null)
        {
            writer.WriteString(Names.RequestId, requestId);
        }
        if (traceId is not null)
        {
            writer.WriteString(Names.TraceId, traceId);
        }
        writer.WriteEndObject();
    }

    private static DecideRequest ReadTaskForm(JsonElement root)
    {
        var version = RequiredString(root, "version"u8, "version");
        if (version != "1")
        {
            throw Invalid.Value("version", $"unsupported version: {version} (expected \"1\")");
        }
        var tenantId = RequiredString(root, "tenant_id"u8, "tenant_id");
        var requestId = RequiredString(root, "request_id"u8, "request_id");
        var task = RequiredObject(root, "task"u8, "task");
        var type = RequiredString(task, "type"u8, "task.type");
        if (type is not ("chat" or "completion" or "embedding"))
        {
            throw Invalid.Value("task.type", $"invalid field value: task.type must be one of chat, completion, embedding (got '{type}')");
        }
        var (payload, encoding) = ReadPayload(task, "task");
        var request = new DecideRequest
        {
            Form = DecideRequestForm.Task,
            Version = version,
            TenantId = tenantId,
            RequestId = requestId,
            TaskType = type,
            Payload = payload,
            PayloadEncoding = encoding,
            TraceId = OptionalString(root, "trace_id"u8, "trace_id"),
        };
        return ReadCommon(root, request, root);
    }

    private static DecideRequest ReadMessageForm(JsonElement root, JsonElement message)
    {
        if (message.ValueKind != JsonValueKind.Object)
        {
            throw Invalid.Type("message", "invalid field type: message must be an object");
        }
        string? version = null;
        if (root.TryGetProperty("version"u8, out var v) && v.ValueKind != JsonValueKind.Null)
        {
            version = v.ValueKind == JsonValueKind.String ? v.GetString() : throw Invalid.Type("version", "invalid field type: version must be a string");
            if (version != "1")
            {
                throw Invalid.Value("version", $"unsupported version: {version} (expected \"1\")");
            }
        }
        // The hybrid form of the upstream C gateway: tenant_id, request_id, trace_id and policy_id at
        // the top level, beside a message whose own fields may be missing (even `message: {}`).
        var topTenant = OptionalString(root, "tenant_id"u8, "tenant_id");
        var ownTenant = OptionalString(message, "tenant_id"u8, "message.tenant_id");
        string tenantId;
        if (topTenant is null)
        {
            tenantId = RequiredString(message, "tenant_id"u8, "message.tenant_id");
        }
        else if (ownTenant is not null && !string.Equals(ownTenant, topTenant, StringComparison.Ordinal))
        {
            throw Invalid.Value("message.tenant_id", $"invalid field value: message.tenant_id '{ownTenant}' differs from tenant_id '{topTenant}'");
        }
        else
        {
            tenantId = topTenant;
        }
        var topRequestId = OptionalString(root, "request_id"u8, "request_id");
        var messageId = topTenant is null
            ? RequiredString(message, "message_id"u8, "message.message_id")
            : OptionalString(message, "message_id"u8, "message.message_id") ?? topRequestId
                ?? throw Invalid.Missing("request_id");
        var type = topTenant is null
            ? RequiredString(message, "message_type"u8, "message.message_type")
            : OptionalString(message, "message_type"u8, "message.message_type") ?? "chat";
        ReadOnlyMemory<byte> payload;
        PayloadEncoding encoding;
        if (topTenant is not null && !message.TryGetProperty("payload"u8, out _) && !message.TryGetProperty("payload_base64"u8, out _))
        {
            // Nothing to route on inside the message: a task beside it gives type and payload; else
            // there is no payload (deciding needs none).
            if (root.TryGetProperty("task"u8, out var task) && task.ValueKind != JsonValueKind.Null)
            {
                var fromTask = ReadTaskForm(root);
                type = fromTask.TaskType;
                (payload, encoding) = (fromTask.Payload, fromTask.PayloadEncoding);
            }
            else
            {
                (payload, encoding) = (ReadOnlyMemory<byte>.Empty, PayloadEncoding.None);
            }
        }
        else
        {
            (payload, encoding) = ReadPayload(message, "message");
        }
        long? timestamp = null;
        if (message.TryGetProperty("timestamp_ms"u8, out var ts) && ts.ValueKind != JsonValueKind.Null)
        {
            timestamp = ts.ValueKind == JsonValueKind.Number && ts.TryGetInt64(out var ms) && ms >= 0
                ? ms
                : throw Invalid.Type("message.timestamp_ms", "invalid field type: message.timestamp_ms must be a non-negative integer");
        }
        var request = new DecideRequest
        {
            Form = DecideRequestForm.Message,
            Version = version,
            TenantId = tenantId,
            RequestId = topRequestId ?? messageId,
            MessageId = messageId,
            TaskType = type,
            Payload = payload,
            PayloadEncoding = encoding,
            TimestampMs = timestamp,
            TraceId = OptionalString(root, "trace_id"u8, "trace_id") ?? OptionalString(message, "trace_id"u8, "message.trace_id"),
        };
        // The message form carries metadata inside the message; a top-level one is merged over it.
        var metadata = ReadMetadata(message, "message.metadata");
        return ReadCommon(root, request with { Metadata = metadata }, root);
    }

    private static DecideRequest ReadCommon(JsonElement root, DecideRequest request, JsonElement top)
    {
        string? policyId = null;
        if (top.TryGetProperty("policy_id"u8, out var p) && p.ValueKind != JsonValueKind.Null)
        {
            policyId = p.ValueKind == JsonValueKind.String ? p.GetString() : throw Invalid.Type("policy_id", "invalid field type: policy_id must be a string");
            if (string.IsNullOrWhiteSpace(policyId))
            {
                throw Invalid.Value("policy_id", "invalid field value: policy_id must not be empty");
            }
        }
        double? maxCost = null, maxLatency = null;
        if (root.TryGetProperty("constraints"u8, out var c) && c.ValueKind != JsonValueKind.Null)
        {
            if (c.ValueKind != JsonValueKind.Object)
            {
                throw Invalid.Type("constraints", "invalid field type: constraints must be an object");
            }
            maxCost = OptionalNonNegative(c, "max_cost"u8, "constraints.max_cost");
            maxLatency = OptionalNonNegative(c, "max_latency_ms"u8, "constraints.max_latency_ms");
        }
        var metadata = request.Metadata;
        if (root.TryGetProperty("metadata"u8, out _))
        {
            var top2 = ReadMetadata(root, "metadata");
            if (metadata.Count == 0)
            {
                metadata = top2;
            }
            else
            {
                var merged = new Dictionary<string, string>(metadata.Count + top2.Count, StringComparer.Ordinal);
                foreach (var pair in metadata) { merged[pair.Key] = pair.Value; }
                foreach (var pair in top2) { merged[pair.Key] = pair.Value; }
                metadata = merged;
            }
        }
        string? sessionId = null, userId = null;
        var context = new Dictionary<string, string>(StringComparer.Ordinal);
        if (root.TryGetProperty("context"u8, out var ctx) && ctx.ValueKind != JsonValueKind.Null)
        {
            if (ctx.ValueKind != JsonValueKind.Object)
            {
                throw Invalid.Type("context", "invalid field type: context must be an object");
            }
            sessionId = OptionalString(ctx, "session_id"u8, "context.session_id");
            userId = OptionalString(ctx, "user_id"u8, "context.user_id");
            foreach (var member in ctx.EnumerateObject())
            {
                if (member.Value.ValueKind == JsonValueKind.String)
                {
                    context[member.Name] = member.Value.GetString()!;
                }
            }
        }
        var push = false;
        if (root.TryGetProperty("push_assignment"u8, out var pa) && pa.ValueKind != JsonValueKind.Null)
        {
            push = pa.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw Invalid.Type("push_assignment", "invalid field type: push_assignment must be a boolean"),
            };
        }
        var subject = OptionalString(root, "assignment_subject"u8, "assignment_subject") ?? DecideRequest.DefaultAssignmentSubject;
        if (!IsValidSubject(subject))
        {
            throw Invalid.Value("assignment_subject", "invalid field value: assignment_subject must be a NATS subject without spaces or wildcards");
        }
        return request with
        {
            PolicyId = policyId,
            MaxCost = maxCost,
            MaxLatencyMs = maxLatency,
            Metadata = metadata,
            SessionId = sessionId,
            UserId = userId,
            Context = context,
            PushAssignment = push,
            AssignmentSubject = subject,
        };
    }

    private static Dictionary<string, string> ReadMetadata(JsonElement parent, string field)
    {
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!parent.TryGetProperty("metadata"u8, out var m) || m.ValueKind == JsonValueKind.Null)
        {
            return metadata;
        }
        if (m.ValueKind != JsonValueKind.Object)
        {
            throw Invalid.Type(field, $"invalid field type: {field} must be an object");
        }
        foreach (var member in m.EnumerateObject())
        {
            metadata[member.Name] = member.Value.ValueKind == JsonValueKind.String ? member.Value.GetString()! : member.Value.GetRawText();
        }
        return metadata;
    }

    /// <summary>
    /// The payload of <c>task</c> or <c>message</c>: <c>payload</c> (a JSON value, a string holding
    /// JSON, or text), or the bytes of <c>payload_base64</c>. A string is decoded as base64 only when
    /// the request says so (<c>payload_encoding: "base64"</c>): "test" or "ping" are valid base64
    /// too, and guessing turned such text into garbage.
    /// </summary>
    private static (ReadOnlyMemory<byte> Payload, PayloadEncoding Encoding) ReadPayload(JsonElement parent, string prefix)
    {
        var field = prefix + ".payload";
        var base64Field = prefix + ".payload_base64";
        var encodingField = prefix + ".payload_encoding";
        var declared = OptionalString(parent, "payload_encoding"u8, encodingField);
        if (declared is not (null or "base64"))
        {
            throw Invalid.Value(encodingField, $"invalid field value: {encodingField} must be \"base64\" when present (got '{declared}')");
        }
        var hasPayload = parent.TryGetProperty("payload"u8, out var payload) && payload.ValueKind != JsonValueKind.Null;
        if (parent.TryGetProperty("payload_base64"u8, out var encoded) && encoded.ValueKind != JsonValueKind.Null)
        {
            if (hasPayload)
            {
                throw Invalid.Value(base64Field, $"invalid field value: give {field} or {base64Field}, not both");
            }
            if (encoded.ValueKind != JsonValueKind.String)
            {
                throw Invalid.Type(base64Field, $"invalid field type: {base64Field} must be a base64 string");
            }
            return (DecodeBase64(encoded.GetString()!, base64Field), PayloadEncoding.Base64);
        }
        if (!hasPayload)
        {
            throw Invalid.Missing(field);
        }
        if (declared is "base64")
        {
            return payload.ValueKind == JsonValueKind.String
                ? (DecodeBase64(payload.GetString()!, field), PayloadEncoding.Base64)
                : throw Invalid.Type(field, $"invalid field type: {field} must be a base64 string ({encodingField} is \"base64\")");
        }
        if (payload.ValueKind != JsonValueKind.String)
        {
            // The value's own UTF-8 bytes, as they came: no round trip through a string. The reader
            // does not check UTF-8 inside strings it was not asked to read, so check it here.
            var raw = JsonMarshal.GetRawUtf8Value(payload);
            return Utf8.IsValid(raw)
                ? (raw.ToArray(), PayloadEncoding.Json)
                : throw new Invalid(new Cp1Error(Cp1ErrorCodes.InvalidRequest, "request body is not valid UTF-8 JSON", null, Cp1ErrorTypes.InvalidJson));
        }
        var text = payload.GetString()!;
        var trimmed = text.AsSpan().TrimStart();
        if (!trimmed.IsEmpty && trimmed[0] is '{' or '[')
        {
            var bytes = Encoding.UTF8.GetBytes(text);
            try
            {
                using var inner = JsonDocument.Parse(bytes, DocumentOptions);
                return (bytes, PayloadEncoding.JsonString);
            }
            catch (JsonException)
            {
                throw Invalid.Value(field, $"invalid field value: {field} looks like JSON but does not parse");
            }
        }
        return (Encoding.UTF8.GetBytes(text), PayloadEncoding.Text);
    }

    private static byte[] DecodeBase64(string text, string field)
    {
        var decoded = new byte[text.Length / 4 * 3 + 3];
        return Convert.TryFromBase64String(text, decoded, out var written)
            ? decoded.AsSpan(0, written).ToArray()
            : throw Invalid.Value(field, $"invalid field value: {field} is not valid base64");
    }

    private static bool IsValidSubject(string subject)
    {
        if (subject.Length == 0 || subject.Length > 255 || subject[0] == '.' || subject[^1] == '.')
        {
            return false;
        }
        var previousDot = false;
        foreach (var ch in subject)
        {
            if (ch <= ' ' || ch == '*' || ch == '>' || ch == 127 || (ch == '.' && previousDot))
            {
                return false;
            }
            previousDot = ch == '.';
        }
        return true;
    }

    private static string? PeekString(JsonElement element, ReadOnlySpan<byte> name)
    {
        try
        {
            return element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value)
                && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    private static string RequiredString(JsonElement parent, ReadOnlySpan<byte> name, string field)
    {
        if (!parent.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            throw Invalid.Missing(field);
        }
        if (value.ValueKind != JsonValueKind.String)
        {
            throw Invalid.Type(field, $"invalid field type: {field} must be a string");
        }
        var text = value.GetString()!;
        return string.IsNullOrWhiteSpace(text) ? throw Invalid.Missing(field) : text;
    }

    private static string? OptionalString(JsonElement parent, ReadOnlySpan<byte> name, string field)
    {
        if (!parent.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        return value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : throw Invalid.Type(field, $"invalid field type: {field} must be a string");
    }

    private static JsonElement RequiredObject(JsonElement parent, ReadOnlySpan<byte> name, string field)
    {
        if (!parent.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            throw Invalid.Missing(field);
        }
        return value.ValueKind == JsonValueKind.Object ? value : throw Invalid.Type(field, $"invalid field type: {field} must be an object");
    }

    private static double? OptionalNonNegative(JsonElement parent, ReadOnlySpan<byte> name, string field)
    {
        if (!parent.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out var number) || !double.IsFinite(number))
        {
            throw Invalid.Type(field, $"invalid field type: {field} must be a number");
        }
        return number >= 0 ? number : throw Invalid.Value(field, $"invalid field value: {field} must not be negative");
    }

    // Property names encoded once: the writer then neither transcodes nor checks them per reply.
    private static class Names
    {
        public static readonly JsonEncodedText Ok = JsonEncodedText.Encode("ok");
        public static readonly JsonEncodedText Decision = JsonEncodedText.Encode("decision");
        public static readonly JsonEncodedText ProviderId = JsonEncodedText.Encode("provider_id");
        public static readonly JsonEncodedText Priority = JsonEncodedText.Encode("priority");
        public static readonly JsonEncodedText ExpectedLatencyMs = JsonEncodedText.Encode("expected_latency_ms");
        public static readonly JsonEncodedText ExpectedCost = JsonEncodedText.Encode("expected_cost");
        public static readonly JsonEncodedText Reason = JsonEncodedText.Encode("reason");
        public static readonly JsonEncodedText PolicyId = JsonEncodedText.Encode("policy_id");
        public static readonly JsonEncodedText Metadata = JsonEncodedText.Encode("metadata");
        public static readonly JsonEncodedText Error = JsonEncodedText.Encode("error");
        public static readonly JsonEncodedText Code = JsonEncodedText.Encode("code");
        public static readonly JsonEncodedText Message = JsonEncodedText.Encode("message");
        public static readonly JsonEncodedText Details = JsonEncodedText.Encode("details");
        public static readonly JsonEncodedText Field = JsonEncodedText.Encode("field");
        public static readonly JsonEncodedText Type = JsonEncodedText.Encode("type");
        public static readonly JsonEncodedText RetryAfterSeconds = JsonEncodedText.Encode("retry_after_seconds");
        public static readonly JsonEncodedText Context = JsonEncodedText.Encode("context");
        public static readonly JsonEncodedText RequestId = JsonEncodedText.Encode("request_id");
        public static readonly JsonEncodedText TraceId = JsonEncodedText.Encode("trace_id");
    }

    private static DecideParseResult Fail(Cp1Error error, string? requestId, string? traceId) =>
        new() { Error = error, RequestId = requestId, TraceId = traceId };

    /// <summary>Thrown inside the decoder only; <see cref="Parse"/> turns it into a result.</summary>
    private sealed class Invalid(Cp1Error error) : Exception(error.Message)
    {
        public Cp1Error Error { get; } = error;

        public static Invalid Missing(string field) =>
            new(new Cp1Error(Cp1ErrorCodes.InvalidRequest, $"missing required field: {field}", field, Cp1ErrorTypes.RequiredFieldMissing));

        public static Invalid Type(string field, string message) =>
            new(new Cp1Error(Cp1ErrorCodes.InvalidRequest, message, field, Cp1ErrorTypes.InvalidType));

        public static Invalid Value(string field, string message) =>
            new(new Cp1Error(Cp1ErrorCodes.InvalidRequest, message, field, Cp1ErrorTypes.InvalidValue));
    }
}
