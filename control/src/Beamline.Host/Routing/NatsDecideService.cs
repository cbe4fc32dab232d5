using Beamline.Cp1;
using Beamline.Dispatch;
using Beamline.Interop.Nats;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Beamline.Host.Routing;

/// <summary>
/// CP1 decide over NATS when <c>Beamline:Nats:Url</c> is set: request-reply on
/// <see cref="DecideSubject"/> in queue group <see cref="QueueGroup"/> (control planes share the
/// load), and the admin views (NatsDecideService.Admin.cs; no queue group: every instance answers
/// for itself). The bus is trusted: requests carry <c>tenant_id</c>
/// and no API key; an unknown tenant is <c>unauthorized</c>. Handlers run on the nats.c delivery
/// thread and never block: a decide is synchronous and sub-microsecond, the assignment publish
/// is buffered.
/// </summary>
internal sealed partial class NatsDecideService(
    DecideProcessor processor,
    ExecuteProcessor executor,
    RoutingService routing,
    AssignmentPublisher publisher,
    NatsProviderClient providers,
    IOptions<DispatchOptions> dispatchOptions,
    IOptions<HostOptions> hostOptions,
    ILogger<NatsDecideService> logger) : IHostedService, IAsyncDisposable
{
    /// <summary>The CP1 decide subject.</summary>
    public const string DecideSubject = "beamline.router.v1.decide";

    /// <summary>The queue group shared by every control plane.</summary>
    public const string QueueGroup = "beamline-router";

    /// <summary>The CP1 admin subject answering the circuit breakers' states.</summary>
    public const string BreakerStatesSubject = "beamline.router.v1.admin.get_circuit_breaker_states";

    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(5);

    private readonly int _maxRequestBytes = hostOptions.Value.MaxDecideRequestBytes;
    private readonly RoutingService _routing = routing;
    private NatsConnection? _connection;
    private NatsConnection? _immediate;
    private NatsReplyBatcher? _replies;
    private NatsSubscription? _decide;
    private NatsSubscription? _breakers;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var url = dispatchOptions.Value.Nats.Url;
        if (string.IsNullOrEmpty(url))
        {
            LogDisabled();
            return Task.CompletedTask;
        }
        _connection = NatsConnection.Connect(new NatsConnectionOptions
        {
            Url = url,
            Name = "beamline-router " + _routing.InstanceId,
            SendAsap = false, // replies are batched under load: see Reply
            CallbackErrorHandler = error => LogCallbackError(error),
        });
        _immediate = NatsConnection.Connect(new NatsConnectionOptions
        {
            Url = url,
            Name = "beamline-router " + _routing.InstanceId + " (immediate replies)",
            CallbackErrorHandler = error => LogCallbackError(error),
        });
        _replies = new NatsReplyBatcher(_connection, _immediate);
        _decide = _connection.Subscribe(DecideSubject, QueueGroup, OnDecide);
        _execute = _connection.Subscribe(ExecuteSubject, QueueGroup, OnExecute);
        _breakers = _connection.Subscribe(BreakerStatesSubject, null, OnBreakerStates);
        _extensionHealth = _connection.Subscribe(ExtensionHealthSubject, null, OnExtensionHealth);
        _dryRun = _connection.Subscribe(DryRunSubject, null, OnDryRun);
        _complexity = _connection.Subscribe(ComplexitySubject, null, OnComplexity);
        _providerStats = _connection.Subscribe(ProviderStatsSubject, null, OnProviderStats);
        _connection.Flush(TimeSpan.FromSeconds(5));
        publisher.Connection = _connection;
        providers.Connection = _immediate;
        LogListening(url, DecideSubject, QueueGroup);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        // Drain: stop taking new requests, answer those already delivered, then close.
        foreach (var subscription in new[] { _decide, _execute, _breakers, _extensionHealth, _dryRun, _complexity, _providerStats })
        {
            if (subscription is not null)
            {
                try
                {
                    await subscription.DrainAsync(DrainTimeout, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (e is NatsException or OperationCanceledException or TimeoutException)
                {
                    LogDrainFailed(subscription.Subject, e.Message);
                }
            }
        }
        await StopExecutesAsync(cancellationToken).ConfigureAwait(false);
        publisher.Connection = null;
        providers.Connection = null;
        await DisposeAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        _decide?.Dispose();
        _execute?.Dispose();
        _breakers?.Dispose();
        _extensionHealth?.Dispose();
        _dryRun?.Dispose();
        _complexity?.Dispose();
        _providerStats?.Dispose();
        _decide = _execute = _breakers = _extensionHealth = _dryRun = _complexity = _providerStats = null;
        if (Interlocked.Exchange(ref _connection, null) is { } connection)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
        if (Interlocked.Exchange(ref _immediate, null) is { } immediate)
        {
            await immediate.DisposeAsync().ConfigureAwait(false);
        }
    }

    private void OnDecide(NatsMsg msg)
    {
        var (buffer, writer) = ReplyBuffers.Rent();
        try
        {
            processor.Process(msg.Data, principal: null, writer, _maxRequestBytes);
            writer.Flush();
        }
        catch (Exception e)
        {
            // Every request gets one answer: a bug here becomes a CP1 `internal` error.
            LogDecideFailed(e);
            (buffer, writer) = ReplyBuffers.Rent();
            DecideCodec.WriteError(writer, new Cp1Error(Cp1ErrorCodes.Internal, "internal error"), null, null);
            writer.Flush();
        }
        Reply(msg, buffer.WrittenSpan, _decide);
    }

    // Every handler on this service's connection replies through here: batched under load, at
    // once when idle (NatsReplyBatcher).
    private void Reply(NatsMsg msg, ReadOnlySpan<byte> data, NatsSubscription? subscription)
    {
        if (_replies is { } replies && subscription is not null)
        {
            replies.Respond(msg, data, subscription);
        }
        else
        {
            msg.Respond(data); // a message delivered before Subscribe returned
        }
    }

    [LoggerMessage(1, LogLevel.Information, "CP1 decide over NATS: {Url}, subject {Subject}, queue group {QueueGroup}.")]
    private partial void LogListening(string url, string subject, string queueGroup);

    [LoggerMessage(2, LogLevel.Information, "CP1 decide over NATS is off: Beamline:Nats:Url is not set (HTTP only).")]
    private partial void LogDisabled();

    [LoggerMessage(3, LogLevel.Error, "A CP1 decide over NATS failed unexpectedly.")]
    private partial void LogDecideFailed(Exception error);

    [LoggerMessage(4, LogLevel.Error, "A NATS message handler failed.")]
    private partial void LogCallbackError(Exception error);

    [LoggerMessage(5, LogLevel.Warning, "Draining the NATS subscription {Subject} failed: {Reason}")]
    private partial void LogDrainFailed(string subject, string reason);
}
