using System.Buffers;
using System.Text.Json;
using Beamline.Cp1;
using Beamline.Host.Tracing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using NATS.Client.Core;

namespace Beamline.Host.Routing;

/// <summary>
/// CP1 decide over NATS when <c>Beamline:Nats:Url</c> is set: request-reply on
/// <see cref="DecideSubject"/> in queue group <see cref="QueueGroup"/> (control planes share the
/// load), route-then-execute (NatsDecideService.Execute.cs) and the admin views
/// (NatsDecideService.Admin.cs; no queue group: every instance answers for itself). The bus is
/// trusted: requests carry <c>tenant_id</c> and no API key; an unknown tenant is <c>unauthorized</c>.
/// Each subject is one loop over its subscription on the control plane's NATS.Net connection;
/// NATS.Net coalesces the replies of a busy loop into few writes. Subscriptions survive
/// reconnects. On stop every subscription is drained (nothing the server already sent is lost),
/// what was delivered is answered, and executes in flight get until the shutdown timeout.
/// </summary>
internal sealed partial class NatsDecideService(
    DecideProcessor processor,
    Beamline.Pipeline.Extensions.ExtensionRunner extensions,
    ExecuteProcessor executor,
    RoutingService routing,
    DecisionStore decisions,
    AssignmentTracker assignments,
    IServiceProvider services,
    IOptions<HostOptions> hostOptions,
    IOptions<ShutdownOptions> shutdownOptions,
    ILogger<NatsDecideService> logger) : IHostedService
{
    /// <summary>The CP1 decide subject.</summary>
    public const string DecideSubject = "beamline.router.v1.decide";

    /// <summary>The queue group shared by every control plane.</summary>
    public const string QueueGroup = "beamline-router";

    /// <summary>The CP1 subject answering a stored decision by message id (the C gateway's GET /api/v1/routes/decide/{id}).</summary>
    public const string GetDecisionSubject = "beamline.router.v1.get_decision";

    /// <summary>The CP1 admin subject answering the circuit breakers' states.</summary>
    public const string BreakerStatesSubject = "beamline.router.v1.admin.get_circuit_breaker_states";

    private readonly int _maxRequestBytes = hostOptions.Value.MaxDecideRequestBytes;
    private readonly RoutingService _routing = routing;
    private readonly NatsFaceSubscriptions _subscriptions = new();
    private INatsConnection? _connection;

    // Handles one request; true when the reply is written, false when the handler answers later.
    private delegate bool Handler(ReadOnlySpan<byte> body, NatsRequest request, ReplyWriter reply);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _connection = services.GetService<INatsConnection>();
        if (_connection is null)
        {
            LogDisabled();
            return;
        }
        var connection = _connection;
        if (!await _subscriptions.StartAsync(() => SubscribeAllAsync(connection), cancellationToken).ConfigureAwait(false))
        {
            LogStartedDegraded(connection.Opts.Url);
        }
    }

    private async Task SubscribeAllAsync(INatsConnection connection)
    {
        await SubscribeAsync(connection, DecideSubject, QueueGroup, OnDecide).ConfigureAwait(false);
        await SubscribeExecuteAsync(connection).ConfigureAwait(false);
        await SubscribeAsync(connection, GetDecisionSubject, QueueGroup, OnGetDecision).ConfigureAwait(false);
        await SubscribeAssignmentResultsAsync(connection).ConfigureAwait(false);
        await SubscribeAsync(connection, BreakerStatesSubject, null, (body, request, reply) => Answer(body, request, reply, BreakerStates.Write, null)).ConfigureAwait(false);
        await SubscribeAsync(connection, ExtensionHealthSubject, null, (body, request, reply) => Answer(body, request, reply, (writer, routing, tenant) => ExtensionHealthView.Write(writer, routing, extensions, tenant), null)).ConfigureAwait(false);
        await SubscribeAsync(connection, DryRunSubject, null, (body, request, reply) => Answer(body, request, reply, null, DryRunView.Write)).ConfigureAwait(false);
        await SubscribeAsync(connection, ComplexitySubject, null, (body, request, reply) => Answer(body, request, reply, null, PipelineComplexityView.Write)).ConfigureAwait(false);
        await SubscribeAsync(connection, ProviderStatsSubject, null, (body, request, reply) => Answer(body, request, reply, ProviderStatsView.Write, null)).ConfigureAwait(false);
        // A round trip: the server has every subscription before the control plane says it listens.
        await connection.PingAsync(_subscriptions.Closed).ConfigureAwait(false);
        LogListening(connection.Opts.Url, DecideSubject, QueueGroup);
    }

    private Task SubscribeAsync(INatsConnection connection, string subject, string? queueGroup, Handler handler)
        => _subscriptions.SubscribeAsync(connection, subject, queueGroup, subscription => ServeAsync(subscription, handler));

    // One loop per subject: read, answer, next. It ends when the subscription is unsubscribed
    // and what was delivered before has been answered.
    private async Task ServeAsync(INatsSub<NatsMemoryOwner<byte>> subscription, Handler handler)
    {
        using var reply = new ReplyWriter();
        await foreach (var msg in subscription.Msgs.ReadAllAsync().ConfigureAwait(false))
        {
            using var body = msg.Data;
            if (msg.ReplyTo is not { } replyTo)
            {
                continue; // published, not requested: nobody to answer, and nothing to run for no one
            }
            reply.Restart();
            if (!handler(body.Memory.Span, new NatsRequest(msg.Subject, replyTo, msg.Headers), reply))
            {
                continue;
            }
            try
            {
                await msg.ReplyAsync(reply.Flush()).ConfigureAwait(false);
            }
            catch (Exception e) when (e is NatsException or ObjectDisposedException or OperationCanceledException)
            {
                LogReplyFailed(msg.Subject, e.Message); // the requester times out or sees the outage
            }
        }
    }

    private bool OnDecide(ReadOnlySpan<byte> body, NatsRequest request, ReplyWriter reply)
    {
        var caller = System.Diagnostics.Activity.Current;
        var face = NatsTraceContext.StartFace(DecideSubject, request.Headers);
        try
        {
            var start = processor.Start(body, principal: null, reply.Writer, _maxRequestBytes, "cp1_nats", _stopping.Token);
            if (start.Status == 0)
            {
                // Extensions to wait for: answered off this loop, which goes on with the next request.
                _ = CompleteDecideAsync(start, request.ReplyTo, face);
                face = null; // ends with the decide
                return false;
            }
        }
        catch (Exception e)
        {
            // Every request gets one answer: a bug here becomes a CP1 `internal` error.
            LogDecideFailed(e);
            reply.Restart();
            DecideCodec.WriteError(reply.Writer, new Cp1Error(Cp1ErrorCodes.Internal, "internal error"), null, null);
        }
        finally
        {
            face?.Dispose();
            // This runs on the subscription's loop, which must not stay inside this request's span.
            System.Diagnostics.Activity.Current = caller;
        }
        return true;
    }

    // get_decision: {"message_id", "tenant_id"?} as the C gateway asks it (no tenant: any tenant's).
    private bool OnGetDecision(ReadOnlySpan<byte> body, NatsRequest request, ReplyWriter reply)
    {
        try
        {
            if (GetDecisionRequest.Read(body, _maxRequestBytes, out var messageId, out var tenantId) is { } error)
            {
                DecideCodec.WriteError(reply.Writer, error, null, null);
            }
            else
            {
                decisions.Write(reply.Writer, messageId!, tenantId);
            }
        }
        catch (Exception e)
        {
            LogDecideFailed(e);
            reply.Restart();
            DecideCodec.WriteError(reply.Writer, new Cp1Error(Cp1ErrorCodes.Internal, "internal error"), null, null);
        }
        return true;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_connection is null)
        {
            return;
        }
        var deadline = DateTime.UtcNow + shutdownOptions.Value.Timeout;
        // Stop taking work (what the server already sent is still answered), then let executes in flight finish.
        await _subscriptions.DrainAsync(_connection, deadline, LogUnsubscribeFailed).ConfigureAwait(false);
        await StopExecutesAsync(deadline).ConfigureAwait(false);
        await NatsFaceSubscriptions.FlushAsync(_connection, LogUnsubscribeFailed).ConfigureAwait(false);
    }

    /// <summary>Where a request came from and where its answer goes.</summary>
    private readonly record struct NatsRequest(string Subject, string ReplyTo, NatsHeaders? Headers);

    /// <summary>A loop's own reply buffer: the loop answers one request at a time.</summary>
    private sealed class ReplyWriter : IDisposable
    {
        private readonly ArrayBufferWriter<byte> _buffer = new(1024);

        public ReplyWriter() => Writer = new Utf8JsonWriter(_buffer);

        public Utf8JsonWriter Writer { get; }

        public void Restart()
        {
            _buffer.ResetWrittenCount();
            Writer.Reset(_buffer);
        }

        public ReadOnlyMemory<byte> Flush()
        {
            Writer.Flush();
            return _buffer.WrittenMemory;
        }

        public void Dispose() => Writer.Dispose();
    }

    [LoggerMessage(1, LogLevel.Information, "CP1 decide over NATS: {Url}, subject {Subject}, queue group {QueueGroup}.")]
    private partial void LogListening(string url, string subject, string queueGroup);

    [LoggerMessage(2, LogLevel.Information, "CP1 decide over NATS is off: Beamline:Nats:Url is not set (HTTP only).")]
    private partial void LogDisabled();

    [LoggerMessage(3, LogLevel.Error, "A CP1 decide over NATS failed unexpectedly.")]
    private partial void LogDecideFailed(Exception error);

    [LoggerMessage(4, LogLevel.Warning, "NATS at {Url} is not reachable yet: the control plane starts degraded and subscribes when NATS comes (see /healthz).")]
    private partial void LogStartedDegraded(string url);

    [LoggerMessage(5, LogLevel.Warning, "Unsubscribing {Subject} failed: {Reason}")]
    private partial void LogUnsubscribeFailed(string subject, string reason);

    [LoggerMessage(6, LogLevel.Warning, "A reply on {Subject} was not sent: {Reason}")]
    private partial void LogReplyFailed(string subject, string reason);
}
