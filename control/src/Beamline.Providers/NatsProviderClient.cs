using System.Buffers;
using System.Text.Json;
using System.Runtime.CompilerServices;
using Beamline.Pipeline;
using Beamline.Pipeline.Providers;
using Beamline.Dispatch;
using Beamline.Nats;
using Beamline.Policies;
using Beamline.Routing.Catalog;
using Microsoft.Extensions.Options;
using NATS.Client.Core;

namespace Beamline.Providers;

/// <summary>
/// Calls a custom CP1 provider (kind <c>nats_provider</c>): request-reply on
/// <c>beamline.provider.{id}.v{N}</c> with <c>{trace_id, tenant_id, request_id, provider_id,
/// task_type, payload, metadata}</c> and the <c>Beamline-Tenant</c> header. The reply is the
/// provider's answer; an object with <c>error</c> (a string or <c>{code, message}</c>) or
/// <c>"status": "error"</c> is a failure of that provider. Needs NATS (<c>Beamline:Nats:Url</c>);
/// while NATS is down an attempt fails at once (a fallback may take over).
/// </summary>
internal sealed class NatsProviderClient(IOptions<DispatchOptions> dispatchOptions, INatsConnection? connection = null,
    NatsConnectionMonitor? monitor = null) : IProviderClient
{
    /// <inheritdoc />
    public bool Serves(ProviderKind kind) => kind == ProviderKind.NatsProvider;

    /// <inheritdoc />
    public string? Refuse(ProviderCall call) => null;

    /// <inheritdoc />
    public ValueTask<ProviderAnswer> CallAsync(ProviderCall call, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(call);
        return new(CallAsync(call.Provider, call.Request, call.Timeout, cancellationToken));
    }

    /// <summary>A custom provider answers whole (the CP1 provider contract has no stream): one final item.</summary>
    public async IAsyncEnumerable<ProviderStreamItem> StreamAsync(ProviderCall call, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var answer = await CallAsync(call, cancellationToken).ConfigureAwait(false);
        yield return new ProviderStreamItem(default, answer);
    }

    /// <summary>The error code of an attempt at a NATS provider without a NATS connection.</summary>
    public const string NatsNotConfigured = "nats_not_configured";

    private readonly TimeSpan _defaultTimeout = dispatchOptions.Value.DefaultDeadline;

    /// <summary>Calls <paramref name="provider"/> for <paramref name="request"/>. Never throws but for cancellation.</summary>
    public async Task<ProviderAnswer> CallAsync(ProviderDescriptor provider, PipelineRequest request, TimeSpan budget, CancellationToken cancellationToken)
    {
        if (connection is null || monitor is null)
        {
            return new ProviderAnswer(false, FailureKinds.ServerError, "error", NatsNotConfigured,
                $"provider '{provider.Id}' is a NATS provider and this control plane has no NATS connection (Beamline:Nats:Url)", 0, default);
        }
        var outage = monitor.OutageToken;
        if (!monitor.IsConnected)
        {
            return new ProviderAnswer(false, FailureKinds.ServiceUnavailable | FailureKinds.ServerError, "error", ExecErrorCodes.ResourceUnavailable,
                $"NATS is {monitor.State}: {provider.Subject} cannot be reached", 0, default);
        }
        var timeout = provider.TimeoutMs > 0 ? TimeSpan.FromMilliseconds(provider.TimeoutMs) : _defaultTimeout;
        // Never past what is left of the request's deadline.
        if (budget > TimeSpan.Zero && budget < timeout)
        {
            timeout = budget;
        }
        var headers = new NatsHeaders { ["Beamline-Tenant"] = request.TenantId };
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, outage);
        try
        {
            var reply = await connection.RequestAsync<byte[], byte[]>(provider.Subject, Body(provider, request), headers,
                replyOpts: new NatsSubOpts { Timeout = timeout }, cancellationToken: linked.Token).ConfigureAwait(false);
            reply.EnsureSuccess();
            return Interpret(reply.Data ?? []);
        }
        catch (NatsNoRespondersException)
        {
            return new ProviderAnswer(false, FailureKinds.ServiceUnavailable | FailureKinds.ServerError, "error", ExecErrorCodes.NoResponders,
                $"no one serves {provider.Subject}", 0, default);
        }
        catch (NatsNoReplyException)
        {
            return new ProviderAnswer(false, FailureKinds.Timeout, "timeout", ExecErrorCodes.DeadlineExceeded,
                $"{provider.Subject} did not answer within {timeout.TotalMilliseconds} ms", 0, default);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return new ProviderAnswer(false, FailureKinds.None, "cancelled", ExecErrorCodes.Cancelled, "the caller went away", 0, default);
        }
        catch (OperationCanceledException) when (outage.IsCancellationRequested)
        {
            return new ProviderAnswer(false, FailureKinds.ServiceUnavailable | FailureKinds.ServerError, "error", ExecErrorCodes.ResourceUnavailable,
                $"the NATS connection dropped while waiting for {provider.Subject}", 0, default);
        }
        catch (Exception e) when (e is NatsException or ObjectDisposedException)
        {
            return new ProviderAnswer(false, FailureKinds.ServiceUnavailable | FailureKinds.ServerError, "error", ExecErrorCodes.InternalError,
                $"the request to {provider.Subject} failed: {e.Message}", 0, default);
        }
    }

    /// <summary>The CP1 provider request.</summary>
    internal static byte[] Body(ProviderDescriptor provider, PipelineRequest request)
    {
        var buffer = new ArrayBufferWriter<byte>(request.Payload.Length + 256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            if (request.TraceId is not null)
            {
                writer.WriteString("trace_id", request.TraceId);
            }
            writer.WriteString("tenant_id", request.TenantId);
            writer.WriteString("request_id", request.RequestId);
            writer.WriteString("provider_id", provider.Id);
            writer.WriteString("task_type", request.MessageType);
            switch (request.PayloadKind)
            {
                case PayloadKind.Json:
                    writer.WritePropertyName("payload");
                    writer.WriteRawValue(request.Payload.Span, skipInputValidation: true);
                    break;
                case PayloadKind.Binary:
                    writer.WriteBase64String("payload_base64", request.Payload.Span);
                    break;
                default:
                    writer.WriteString("payload", request.Payload.Span);
                    break;
            }
            writer.WriteStartObject("metadata");
            foreach (var (key, value) in request.Metadata)
            {
                writer.WriteString(key, value);
            }
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>A reply is a success unless it is a JSON object that says it failed.</summary>
    internal static ProviderAnswer Interpret(ReadOnlyMemory<byte> reply)
    {
        try
        {
            using var document = JsonDocument.Parse(reply);
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object)
            {
                var failed = root.TryGetProperty("status", out var status) && status.ValueKind == JsonValueKind.String && status.GetString() == "error";
                if (root.TryGetProperty("error", out var error) && error.ValueKind is not JsonValueKind.Null || failed)
                {
                    var (code, message) = error.ValueKind switch
                    {
                        JsonValueKind.String => ("provider_error", error.GetString()),
                        JsonValueKind.Object => (
                            error.TryGetProperty("code", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString()! : "provider_error",
                            error.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null),
                        _ => ("provider_error", null),
                    };
                    var kind = code is "rate_limited" or "429" ? FailureKinds.RateLimited : FailureKinds.ServerError;
                    return new ProviderAnswer(false, kind, "error", code, message ?? "the provider answered an error", 0, reply);
                }
            }
        }
        catch (JsonException)
        {
            // Not JSON: the provider's answer as it is.
        }
        return new ProviderAnswer(true, FailureKinds.None, "ok", null, null, 0, reply);
    }
}
