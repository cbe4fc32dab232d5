using System.Diagnostics;
using Beamline.Nats;
using Beamline.Pipeline.Extensions;
using NATS.Client.Core;

namespace Beamline.Extensions.Nats;

/// <summary>
/// Calls CP1 extensions that are NATS services: one request-reply on the entry's subject with the CP1
/// request (<see cref="ExtensionRequestWriter"/>) and the <c>Beamline-Tenant</c> header, the reply read
/// by <see cref="ExtensionReplyReader"/>. No responders, a NATS error status or a connection that is
/// down are <see cref="ExtensionFailure.Unavailable"/>; no reply within the timeout is
/// <see cref="ExtensionFailure.Timeout"/>. Never throws but for the caller's cancellation. The
/// current span's W3C <c>traceparent</c> (and <c>tracestate</c>) travel as headers.
/// </summary>
public sealed class NatsExtensionTransport : IExtensionTransport
{
    private static readonly NatsRawSerializer<ReadOnlyMemory<byte>> RequestSerializer = NatsRawSerializer<ReadOnlyMemory<byte>>.Default;
    private static readonly NatsRawSerializer<NatsMemoryOwner<byte>> ReplySerializer = NatsRawSerializer<NatsMemoryOwner<byte>>.Default;

    private readonly INatsConnection _connection;
    private readonly NatsConnectionMonitor? _monitor;

    /// <summary>Creates the transport over <paramref name="connection"/>.</summary>
    /// <param name="connection">The control plane's NATS connection.</param>
    /// <param name="monitor">When given, calls fail fast while the connection is down, and a drop ends a wait at once.</param>
    public NatsExtensionTransport(INatsConnection connection, NatsConnectionMonitor? monitor = null)
    {
        ArgumentNullException.ThrowIfNull(connection);
        _connection = connection;
        _monitor = monitor;
    }

    /// <inheritdoc />
    public async ValueTask<ExtensionReply> CallAsync(ExtensionEntry entry, ExtensionInput input, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentNullException.ThrowIfNull(input);
        if (string.IsNullOrEmpty(entry.Subject))
        {
            return ExtensionReply.Failed(ExtensionFailure.Unavailable, $"extension '{entry.Id}' has no subject");
        }
        var outage = _monitor?.OutageToken ?? CancellationToken.None;
        if (_monitor is { IsConnected: false })
        {
            return ExtensionReply.Failed(ExtensionFailure.Unavailable, $"NATS is {_monitor.State}: {entry.Subject} cannot be reached");
        }
        using var linked = outage.CanBeCanceled ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, outage) : null;
        var headers = new NatsHeaders { ["Beamline-Tenant"] = input.TenantId };
        // The W3C trace context of the call (the extension span), so that the service continues the trace.
        if (Activity.Current is { IdFormat: ActivityIdFormat.W3C } span)
        {
            headers["traceparent"] = span.Id;
            if (span.TraceStateString is { Length: > 0 } state)
            {
                headers["tracestate"] = state;
            }
        }
        using var body = new NatsBufferWriter<byte>(input.Payload.Length + 256);
        ExtensionRequestWriter.Write(body, input);
        try
        {
            var reply = await _connection.RequestAsync(entry.Subject, body.WrittenMemory, headers, RequestSerializer, ReplySerializer,
                replyOpts: new NatsSubOpts { Timeout = timeout }, cancellationToken: linked?.Token ?? cancellationToken).ConfigureAwait(false);
            using var data = reply.Data;
            if (reply.HasNoResponders)
            {
                return NoResponders(entry);
            }
            if (reply.Headers is { Code: >= 400 } status)
            {
                return ExtensionReply.Failed(ExtensionFailure.Unavailable, $"{entry.Subject} answered NATS status {status.Code} {status.MessageText}");
            }
            return ExtensionReplyReader.Read(data.Memory.Span, entry.Type, input.PayloadKind);
        }
        catch (NatsNoRespondersException)
        {
            return NoResponders(entry);
        }
        catch (NatsNoReplyException)
        {
            return ExtensionReply.Failed(ExtensionFailure.Timeout, $"no answer on {entry.Subject} within {timeout.TotalMilliseconds:0} ms");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && outage.IsCancellationRequested)
        {
            return ExtensionReply.Failed(ExtensionFailure.Unavailable, $"the NATS connection dropped while waiting for {entry.Subject}");
        }
        catch (Exception e) when (e is NatsException or ObjectDisposedException)
        {
            return ExtensionReply.Failed(ExtensionFailure.Unavailable, $"the request to {entry.Subject} failed: {e.Message}");
        }
    }

    private static ExtensionReply NoResponders(ExtensionEntry entry) =>
        ExtensionReply.Failed(ExtensionFailure.Unavailable, $"no one serves {entry.Subject}");
}
