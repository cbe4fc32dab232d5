using System.Buffers;
using System.Globalization;
using Beamline.Cp1;
using Beamline.Host.Grpc;
using Beamline.Host.Tracing;
using Beamline.Cp2;
using DecideRequest = Beamline.Cp2.DecideRequest;
using Google.Protobuf;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using NATS.Client.Core;

namespace Beamline.Host.Routing;

/// <summary>
/// CP2 over NATS when <c>Beamline:Nats:Url</c> is set: <see cref="DecideSubject"/>,
/// <see cref="ExecuteSubject"/> and <see cref="GetDecisionSubject"/>, request-reply with protobuf bodies (proto/beamline/router/v2), in
/// the queue group CP1 uses. The bus is trusted, as for CP1: no secret travels in a NATS message.
/// The request names its tenant in <see cref="TenantHeader"/> (an id, not a key); NATS itself
/// (accounts, user permissions on the subjects) controls who may publish. A missing or unknown
/// tenant is <c>unauthorized</c>; a request that carries an <see cref="AuthorizationHeader"/> is
/// refused (<c>invalid_request</c>), so that no client gets used to sending its key on the bus.
/// The caller is the tenant with its own limits, charged at the tenant level. Every reply says what it is in <see cref="KindHeader"/>; an execute sends its chunks, then one
/// result or error, to the reply subject. The faces only translate: <see cref="Cp2Processor"/> and
/// the pipeline behind it do the work, as for gRPC.
/// </summary>
internal sealed partial class NatsCp2Service(
    Cp2Processor processor,
    IServiceProvider services,
    IOptions<HostOptions> hostOptions,
    IOptions<ShutdownOptions> shutdownOptions,
    ILogger<NatsCp2Service> logger) : IHostedService
{
    /// <summary>The CP2 decide subject (body: DecideRequest; reply: DecideResponse or google.rpc.Status).</summary>
    public const string DecideSubject = "beamline.router.v2.decide";

    /// <summary>The CP2 execute subject (body: DecideRequest; replies: ExecuteEvent chunks, then an ExecuteEvent result or a google.rpc.Status).</summary>
    public const string ExecuteSubject = "beamline.router.v2.execute";

    /// <summary>The CP2 subject answering a stored decision of the tenant (body: GetDecisionRequest; reply: DecideResponse or google.rpc.Status).</summary>
    public const string GetDecisionSubject = "beamline.router.v2.get_decision";

    /// <summary>The reply header saying what the body is: <c>decision</c>, <c>chunk</c>, <c>result</c> or <c>error</c>.</summary>
    public const string KindHeader = "Beamline-Kind";

    /// <summary>The request header with the caller's deadline in milliseconds, relative to its arrival (as gRPC's grpc-timeout).</summary>
    public const string TimeoutHeader = "Beamline-Timeout-Ms";

    /// <summary>The request header naming the caller's tenant (its id, as CP1's <c>tenant_id</c> and the blocks' header).</summary>
    public const string TenantHeader = "Beamline-Tenant";

    /// <summary>A request header that is always refused here: API keys never travel on NATS.</summary>
    public const string AuthorizationHeader = "Authorization";

    private const string Face = "cp2_nats";

    private readonly int _maxDecideBytes = hostOptions.Value.MaxDecideRequestBytes;
    private readonly int _maxExecuteBytes = hostOptions.Value.MaxRequestBytes;
    private readonly int _maxExecutesInFlight = hostOptions.Value.MaxNatsExecutesInFlight;
    private readonly CancellationTokenSource _stopping = new();
    private readonly NatsFaceSubscriptions _subscriptions = new();
    private INatsConnection? _connection;
    private int _inFlight;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _connection = services.GetService<INatsConnection>();
        if (_connection is null)
        {
            return; // CP1's service says that NATS is off
        }
        var connection = _connection;
        await _subscriptions.StartAsync(() => SubscribeAllAsync(connection), cancellationToken).ConfigureAwait(false);
    }

    private async Task SubscribeAllAsync(INatsConnection connection)
    {
        await SubscribeAsync(connection, DecideSubject, ServeDecideAsync).ConfigureAwait(false);
        await SubscribeAsync(connection, ExecuteSubject, ServeExecuteAsync).ConfigureAwait(false);
        await SubscribeAsync(connection, GetDecisionSubject, ServeGetDecisionAsync).ConfigureAwait(false);
        await connection.PingAsync(_subscriptions.Closed).ConfigureAwait(false);
        LogListening(connection.Opts.Url, DecideSubject, ExecuteSubject, GetDecisionSubject);
    }

    private Task SubscribeAsync(INatsConnection connection, string subject, Func<INatsSub<NatsMemoryOwner<byte>>, Task> serve)
        => _subscriptions.SubscribeAsync(connection, subject, NatsDecideService.QueueGroup, serve);

    // Decides answer on the loop when the pipeline answers at once (no extensions), as CP1 does.
    private async Task ServeDecideAsync(INatsSub<NatsMemoryOwner<byte>> subscription)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        await foreach (var msg in subscription.Msgs.ReadAllAsync().ConfigureAwait(false))
        {
            using var body = msg.Data;
            if (msg.ReplyTo is not { } replyTo)
            {
                continue;
            }
            buffer.ResetWrittenCount();
            string kind;
            var caller = System.Diagnostics.Activity.Current;
            var span = NatsTraceContext.StartFace(DecideSubject, msg.Headers);
            try
            {
                var request = Read(body.Memory.Span, msg.Headers, _maxDecideBytes, out var tenant, out var timeout, out var refused);
                if (request is null)
                {
                    kind = WriteError(buffer, refused!, null);
                }
                else
                {
                    var pending = processor.DecideAsync(request, tenant!, Face, timeout, _stopping.Token);
                    if (!pending.IsCompletedSuccessfully)
                    {
                        _ = CompleteDecideAsync(pending, replyTo, span);
                        span = null; // ends with the decide
                        continue;
                    }
                    kind = Write(buffer, pending.Result);
                }
            }
            catch (Exception e)
            {
                LogFailed(DecideSubject, e);
                buffer.ResetWrittenCount();
                kind = WriteError(buffer, new Cp1Error(Cp1ErrorCodes.Internal, "internal error"), null);
            }
            finally
            {
                span?.Dispose();
                System.Diagnostics.Activity.Current = caller;
            }
            await ReplyAsync(replyTo, buffer.WrittenMemory, kind).ConfigureAwait(false);
        }
    }

    private async Task CompleteDecideAsync(ValueTask<Cp2Outcome<DecideResponse>> pending, string replyTo, System.Diagnostics.Activity? span)
    {
        using var _ = span;
        Interlocked.Increment(ref _inFlight);
        var buffer = new ArrayBufferWriter<byte>(512);
        try
        {
            string kind;
            try
            {
                kind = Write(buffer, await pending.ConfigureAwait(false));
            }
            catch (Exception e)
            {
                var stopped = e is OperationCanceledException && _stopping.IsCancellationRequested;
                if (!stopped)
                {
                    LogFailed(DecideSubject, e);
                }
                buffer.ResetWrittenCount();
                kind = WriteError(buffer, new Cp1Error(Cp1ErrorCodes.Internal, stopped ? "the control plane stopped before the decide finished" : "internal error"), null);
            }
            await ReplyAsync(replyTo, buffer.WrittenMemory, kind).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    // Executes await providers: each runs off the loop, on its own copy of the request.
    private async Task ServeExecuteAsync(INatsSub<NatsMemoryOwner<byte>> subscription)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        await foreach (var msg in subscription.Msgs.ReadAllAsync().ConfigureAwait(false))
        {
            using var body = msg.Data;
            if (msg.ReplyTo is not { } replyTo)
            {
                continue;
            }
            Cp1Error? refused = null;
            if (Interlocked.Increment(ref _inFlight) > _maxExecutesInFlight)
            {
                refused = new Cp1Error(Cp1ErrorCodes.QuotaExceeded,
                    $"this control plane already runs {_maxExecutesInFlight} executes from NATS (Beamline:Http:MaxNatsExecutesInFlight)") { RetryAfterSeconds = 1 };
            }
            else if (_stopping.IsCancellationRequested)
            {
                refused = new Cp1Error(Cp1ErrorCodes.Internal, "the control plane is stopping");
            }
            Pipeline.Caller? tenant = null;
            TimeSpan? timeout = null;
            var request = refused is null ? Read(body.Memory.Span, msg.Headers, _maxExecuteBytes, out tenant, out timeout, out refused) : null;
            if (request is null)
            {
                Interlocked.Decrement(ref _inFlight);
                buffer.ResetWrittenCount();
                var kind = WriteError(buffer, refused!, null);
                await ReplyAsync(replyTo, buffer.WrittenMemory, kind).ConfigureAwait(false);
                continue;
            }
            _ = ExecuteAsync(request, tenant!, timeout, replyTo, msg.Headers);
        }
    }

    private async Task ExecuteAsync(DecideRequest request, Pipeline.Caller tenant, TimeSpan? timeout, string replyTo, NatsHeaders? headers)
    {
        using var span = NatsTraceContext.StartFace(ExecuteSubject, headers);
        await Task.Yield(); // off the subscription's loop before any work
        var buffer = new ArrayBufferWriter<byte>(1024);
        try
        {
            string kind;
            try
            {
                var outcome = await processor.ExecuteAsync(request, tenant, Face, timeout,
                    (item, token) => ReplyAsync(replyTo, item.ToByteArray(), "chunk").AsTask(), _stopping.Token).ConfigureAwait(false);
                kind = outcome.Error is { } error ? WriteError(buffer, error, outcome.FailedResult) : Write(buffer, outcome.Answer!, "result");
            }
            catch (Exception e)
            {
                var stopped = e is OperationCanceledException && _stopping.IsCancellationRequested;
                if (!stopped)
                {
                    LogFailed(ExecuteSubject, e);
                }
                buffer.ResetWrittenCount();
                kind = WriteError(buffer, new Cp1Error(Cp1ErrorCodes.Internal, stopped ? "the control plane stopped before the execute finished" : "internal error"), null);
            }
            await ReplyAsync(replyTo, buffer.WrittenMemory, kind).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    // The request, its tenant's caller and its deadline; or null and the refusal.
    private DecideRequest? Read(ReadOnlySpan<byte> body, NatsHeaders? headers, int maxBytes, out Pipeline.Caller? tenant,
        out TimeSpan? timeout, out Cp1Error? refused)
    {
        if (!Admit(body.Length, headers, maxBytes, out tenant, out timeout, out refused))
        {
            return null;
        }
        try
        {
            return DecideRequest.Parser.ParseFrom(body);
        }
        catch (InvalidProtocolBufferException)
        {
            refused = new Cp1Error(Cp1ErrorCodes.InvalidRequest, "the body is not a beamline.router.v2.DecideRequest", null, Cp1ErrorTypes.InvalidJson);
            return null;
        }
    }

    // What every CP2 request on the bus must pass before its body is read: no key, a known tenant, the size limit, a valid deadline.
    private bool Admit(int bodyLength, NatsHeaders? headers, int maxBytes, out Pipeline.Caller? tenant, out TimeSpan? timeout, out Cp1Error? refused)
    {
        timeout = null;
        tenant = null;
        // Refused even when the key is valid (it is never looked at, nor echoed): the bus carries no secret.
        if (HasHeader(headers, AuthorizationHeader))
        {
            refused = new Cp1Error(Cp1ErrorCodes.InvalidRequest,
                $"API keys never travel on NATS: drop the {AuthorizationHeader} header and name the tenant in the {TenantHeader} header (NATS permissions control who may publish)",
                AuthorizationHeader, Cp1ErrorTypes.InvalidValue);
            return false;
        }
        tenant = Cp2Requests.TrustedTenant(Header(headers, TenantHeader), TenantHeader, processor.Directory, out refused);
        if (tenant is null)
        {
            return false;
        }
        if (bodyLength > maxBytes)
        {
            refused = new Cp1Error(Cp1ErrorCodes.InvalidRequest, $"request too large: {bodyLength} bytes exceeds the limit of {maxBytes} bytes", null, Cp1ErrorTypes.TooLarge);
            return false;
        }
        if (Header(headers, TimeoutHeader) is { } given)
        {
            if (!int.TryParse(given, NumberStyles.None, CultureInfo.InvariantCulture, out var ms) || ms <= 0)
            {
                refused = new Cp1Error(Cp1ErrorCodes.InvalidRequest, $"invalid header value: {TimeoutHeader} must be a positive whole number of milliseconds",
                    TimeoutHeader, Cp1ErrorTypes.InvalidValue);
                return false;
            }
            timeout = TimeSpan.FromMilliseconds(ms);
        }
        return true;
    }

    // Any spelling of the name counts (HTTP habits: "authorization").
    private static bool HasHeader(NatsHeaders? headers, string name)
    {
        if (headers is null || headers.Count == 0)
        {
            return false;
        }
        if (headers.ContainsKey(name))
        {
            return true;
        }
        foreach (var key in headers.Keys)
        {
            if (string.Equals(key, name, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }
        return false;
    }

    private static string? Header(NatsHeaders? headers, string name)
        => headers is not null && headers.TryGetValue(name, out var values) && values.Count == 1 ? values[0] : null;

    private static string Write(ArrayBufferWriter<byte> buffer, in Cp2Outcome<DecideResponse> outcome)
        => outcome.Error is { } error ? WriteError(buffer, error, null) : Write(buffer, outcome.Answer!, "decision");

    private static string Write(ArrayBufferWriter<byte> buffer, IMessage message, string kind)
    {
        message.WriteTo(buffer);
        return kind;
    }

    private static string WriteError(ArrayBufferWriter<byte> buffer, Cp1Error error, Cp2.ExecuteResult? result)
    {
        Cp2Errors.ToStatus(error, result).WriteTo(buffer);
        return "error";
    }

    private async ValueTask ReplyAsync(string replyTo, ReadOnlyMemory<byte> body, string kind)
    {
        if (_connection is not { } connection)
        {
            return;
        }
        try
        {
            await connection.PublishAsync(replyTo, body, new NatsHeaders { [KindHeader] = kind }).ConfigureAwait(false);
        }
        catch (Exception e) when (e is NatsException or ObjectDisposedException or OperationCanceledException)
        {
            LogReplyFailed(replyTo, e.Message); // the requester times out or sees the outage
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_connection is null)
        {
            return;
        }
        var deadline = DateTime.UtcNow + shutdownOptions.Value.Timeout;
        // Drain: what the server already sent is still answered; then decides and executes in flight finish or are cancelled.
        await _subscriptions.DrainAsync(_connection, deadline, LogReplyFailed).ConfigureAwait(false);
        await NatsFaceSubscriptions.StopInFlightAsync(() => Volatile.Read(ref _inFlight), _stopping, deadline, shutdownOptions.Value.Timeout).ConfigureAwait(false);
        await NatsFaceSubscriptions.FlushAsync(_connection, LogReplyFailed).ConfigureAwait(false);
    }

    [LoggerMessage(1, LogLevel.Information, "CP2 over NATS: {Url}, subjects {DecideSubject}, {ExecuteSubject} and {GetDecisionSubject}.")]
    private partial void LogListening(string url, string decideSubject, string executeSubject, string getDecisionSubject);

    [LoggerMessage(2, LogLevel.Error, "A CP2 request on {Subject} failed unexpectedly.")]
    private partial void LogFailed(string subject, Exception error);

    [LoggerMessage(3, LogLevel.Warning, "A CP2 reply to {ReplyTo} was not sent: {Reason}")]
    private partial void LogReplyFailed(string replyTo, string reason);
}
