using System.Collections.Immutable;
using Beamline.Cp1;
using Beamline.Host.Routing;
using Beamline.Pipeline;
using Beamline.Pipeline.Costs;
using Beamline.Cp2;
using DecideRequest = Beamline.Cp2.DecideRequest;
using Beamline.Tenancy;

namespace Beamline.Host.Grpc;

/// <summary>
/// CP2 requests as the pipeline's request: checked field by field (the first problem is an
/// <c>invalid_request</c> naming its field, as CP1's decoder does), the tenant and limits taken
/// from the caller's API key, never from the message.
/// </summary>
internal static class Cp2Requests
{
    /// <summary>The protocol version CP2 speaks.</summary>
    public const string Version = "2";

    /// <summary>The longest <c>message.message_id</c>, as CP1's request ids.</summary>
    public const int MaxIdLength = 128;

    /// <summary>
    /// The pipeline request of <paramref name="request"/> from <paramref name="principal"/>, or the
    /// error that refuses it. <paramref name="timeout"/> is the caller's deadline, if it gave one.
    /// </summary>
    public static PipelineRequest? From(DecideRequest request, TenantPrincipal principal, string face, TimeSpan? timeout, bool stream, out Cp1Error? error)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(principal);
        error = Validate(request);
        if (error is not null)
        {
            return null;
        }
        var message = request.Message;
        var caller = KeyCaller.From(principal);
        if (request.Constraints is { AllowedProviders.Count: > 0 } constraints)
        {
            caller = Narrowed(caller, principal, constraints.AllowedProviders);
        }
        Dictionary<string, string> metadata = new(message.Metadata.Count, StringComparer.Ordinal);
        foreach (var (key, value) in message.Metadata)
        {
            metadata[key] = value;
        }
        IReadOnlyDictionary<string, string>? context = null;
        string? sessionId = null, userId = null;
        if (request.Context.Count > 0)
        {
            var copy = new Dictionary<string, string>(request.Context.Count, StringComparer.Ordinal);
            foreach (var (key, value) in request.Context)
            {
                copy[key] = value;
            }
            context = copy;
            sessionId = copy.GetValueOrDefault("session_id");
            userId = copy.GetValueOrDefault("user_id");
        }
        var (payload, kind) = message.PayloadCase switch
        {
            Message.PayloadOneofCase.PayloadBytes => (message.PayloadBytes.Memory, PayloadKind.Binary),
            Message.PayloadOneofCase.PayloadText => (Utf8(message.PayloadText), PayloadKind.Text),
            Message.PayloadOneofCase.PayloadJson => (Utf8(message.PayloadJson), PayloadKind.Json),
            _ => (ReadOnlyMemory<byte>.Empty, PayloadKind.None),
        };
        // Extensions and providers read a JSON payload as JSON: one that is not is the caller's error, said here.
        if (kind == PayloadKind.Json && !IsJson(payload.Span))
        {
            error = Invalid("message.payload_json", Cp1ErrorTypes.InvalidJson, "invalid field value: message.payload_json is not one JSON value");
            return null;
        }
        return new PipelineRequest
        {
            Caller = caller,
            RequestId = message.MessageId,
            TraceId = message.TraceId.Length == 0 ? null : message.TraceId,
            PolicyId = request.PolicyId.Length == 0 ? null : request.PolicyId,
            MessageType = message.MessageType,
            Payload = payload,
            PayloadKind = kind,
            Metadata = metadata,
            SessionId = sessionId,
            UserId = userId,
            Context = context,
            MaxCost = MaxCostUsd(request.Budget),
            MaxLatencyMs = request.Constraints is { HasMaxLatencyMs: true } c ? c.MaxLatencyMs : null,
            Timeout = timeout,
            Stream = stream,
            Face = face,
        };
    }

    // The first problem, in field order; null when the request is valid.
    private static Cp1Error? Validate(DecideRequest request)
    {
        if (request.Version.Length != 0 && request.Version != Version)
        {
            return Invalid("version", Cp1ErrorTypes.InvalidValue, $"invalid field value: version must be \"{Version}\" (got '{request.Version}')");
        }
        if (request.Message is not { } message)
        {
            return Invalid("message", Cp1ErrorTypes.RequiredFieldMissing, "missing required field: message");
        }
        if (message.MessageId.Length == 0)
        {
            return Invalid("message.message_id", Cp1ErrorTypes.RequiredFieldMissing, "missing required field: message.message_id");
        }
        if (message.MessageId.Length > MaxIdLength)
        {
            return Invalid("message.message_id", Cp1ErrorTypes.InvalidValue, $"invalid field value: message.message_id is longer than {MaxIdLength} characters");
        }
        if (message.MessageType.Length == 0)
        {
            return Invalid("message.message_type", Cp1ErrorTypes.RequiredFieldMissing, "missing required field: message.message_type");
        }
        if (message.TraceId.Length > MaxIdLength)
        {
            return Invalid("message.trace_id", Cp1ErrorTypes.InvalidValue, $"invalid field value: message.trace_id is longer than {MaxIdLength} characters");
        }
        if (request.Budget is { } budget)
        {
            if (budget.HasMaxCostUsd && budget.HasMaxCostNanos)
            {
                return Invalid("budget", Cp1ErrorTypes.InvalidValue, "invalid field value: budget takes max_cost_usd or max_cost_nanos, not both");
            }
            if (budget.HasMaxCostUsd && !(budget.MaxCostUsd >= 0 && double.IsFinite(budget.MaxCostUsd)))
            {
                return Invalid("budget.max_cost_usd", Cp1ErrorTypes.InvalidValue, "invalid field value: budget.max_cost_usd must be a non-negative number");
            }
            if (budget.HasMaxCostNanos && budget.MaxCostNanos < 0)
            {
                return Invalid("budget.max_cost_nanos", Cp1ErrorTypes.InvalidValue, "invalid field value: budget.max_cost_nanos must not be negative");
            }
        }
        if (request.Constraints is { HasMaxLatencyMs: true } constraints && !(constraints.MaxLatencyMs >= 0 && double.IsFinite(constraints.MaxLatencyMs)))
        {
            return Invalid("constraints.max_latency_ms", Cp1ErrorTypes.InvalidValue, "invalid field value: constraints.max_latency_ms must be a non-negative number");
        }
        return null;
    }

    private static double? MaxCostUsd(CostBudget? budget) => budget switch
    {
        { HasMaxCostUsd: true } => budget.MaxCostUsd,
        { HasMaxCostNanos: true } => (double)Nanos.ToUsd(budget.MaxCostNanos),
        _ => null,
    };

    // The request's allowed providers within what the key allows: it may narrow, never widen.
    private static KeyCaller Narrowed(KeyCaller caller, TenantPrincipal principal, IReadOnlyList<string> asked)
    {
        var allowed = ImmutableArray.CreateBuilder<string>(asked.Count);
        foreach (var provider in asked)
        {
            if (caller.AllowedProviders is not { } byKey || byKey.Contains(provider))
            {
                allowed.Add(provider);
            }
        }
        return new KeyCaller
        {
            TenantId = caller.TenantId,
            KeyId = caller.KeyId,
            TeamId = caller.TeamId,
            AllowedProviders = allowed.ToImmutable(),
            AllowedPolicies = caller.AllowedPolicies,
            Principal = principal,
        };
    }

    private static bool IsJson(ReadOnlySpan<byte> utf8)
    {
        try
        {
            var reader = new System.Text.Json.Utf8JsonReader(utf8, new System.Text.Json.JsonReaderOptions { MaxDepth = 64 });
            while (reader.Read())
            {
            }
            return reader.BytesConsumed > 0;
        }
        catch (System.Text.Json.JsonException)
        {
            return false;
        }
    }

    private static ReadOnlyMemory<byte> Utf8(string text) => System.Text.Encoding.UTF8.GetBytes(text);

    private static Cp1Error Invalid(string field, string type, string message) => new(Cp1ErrorCodes.InvalidRequest, message, field, type);

    /// <summary>
    /// The key a CP2 caller sent (<c>authorization: Bearer &lt;key&gt;</c>, in gRPC metadata or a
    /// NATS header) as a principal, or the <c>unauthorized</c> error.
    /// </summary>
    public static TenantPrincipal? Authenticate(string? authorization, ITenantDirectory directory, out Cp1Error? error)
    {
        ArgumentNullException.ThrowIfNull(directory);
        const string Bearer = "Bearer ";
        if (authorization is null || !authorization.StartsWith(Bearer, StringComparison.OrdinalIgnoreCase))
        {
            error = new Cp1Error(Cp1ErrorCodes.Unauthorized, "an API key is required: authorization: Bearer <api key>");
            return null;
        }
        if (!directory.TryAuthenticate(authorization.AsSpan(Bearer.Length).Trim(), out var principal))
        {
            error = new Cp1Error(Cp1ErrorCodes.Unauthorized, "the API key is not valid");
            return null;
        }
        error = null;
        return principal;
    }
}
