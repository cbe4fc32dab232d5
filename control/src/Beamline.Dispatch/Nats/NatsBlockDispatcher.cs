using System.Collections.Concurrent;
using System.Globalization;
using Beamline.Nats;
using Beamline.Worker.V2;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using NATS.Client.Core;

namespace Beamline.Dispatch.Nats;

/// <summary>
/// The distributed path: a block is a NATS request on <c>caf.exec.v2.&lt;pool&gt;</c>, answered by
/// whichever <c>beamline-worker</c> of the pool's queue group takes it. While NATS is down a
/// block fails at once with <c>resource_unavailable</c>; a block waiting when the connection
/// drops fails at that moment, not at its deadline.
/// </summary>
public sealed partial class NatsBlockDispatcher : IBlockDispatcher
{
    /// <summary>The subject prefix of block requests; the pool name follows.</summary>
    public const string SubjectPrefix = "caf.exec.v2.";

    /// <summary>Header naming the tenant, so that brokers and workers can account without decoding.</summary>
    public const string TenantHeader = "Beamline-Tenant";

    /// <summary>Header carrying the block's deadline budget in milliseconds.</summary>
    public const string DeadlineHeader = "Beamline-Deadline-Ms";

    private readonly INatsConnection _connection;
    private readonly NatsConnectionMonitor _monitor;
    private readonly DispatchOptions _options;
    private readonly ILogger<NatsBlockDispatcher> _logger;
    private readonly ConcurrentDictionary<string, string> _subjects = new(StringComparer.Ordinal);
    private readonly NatsSubOpts _defaultReplyOpts;

    /// <summary>Dispatches on the control plane's NATS connection.</summary>
    public NatsBlockDispatcher(INatsConnection connection, NatsConnectionMonitor monitor, IOptions<DispatchOptions> options,
        ILogger<NatsBlockDispatcher> logger)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(monitor);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        _connection = connection;
        _monitor = monitor;
        _options = options.Value;
        _logger = logger;
        _defaultReplyOpts = new NatsSubOpts { Timeout = _options.DefaultDeadline + _options.Nats.ReplyGrace };
    }

    /// <inheritdoc />
    public string Mode => DispatchModes.Nats;

    /// <inheritdoc />
    public async ValueTask<ExecResult> DispatchAsync(ExecRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!PoolNames.IsValid(request.Pool))
        {
            return ExecErrorCodes.Failure(request, ExecStatus.Error, ExecErrorCodes.InvalidInput,
                $"pool '{request.Pool}' is not a valid pool name ({PoolNames.Rule})");
        }
        var subject = _subjects.GetOrAdd(request.Pool, static pool => SubjectPrefix + pool);
        var deadline = request.DeadlineMs > 0 ? TimeSpan.FromMilliseconds(request.DeadlineMs) : _options.DefaultDeadline;
        if (request.DeadlineMs == 0)
        {
            // The worker enforces the deadline too; give it the one we wait for.
            request.DeadlineMs = (uint)Math.Min(uint.MaxValue, (ulong)deadline.TotalMilliseconds);
        }

        // Taken before the state check: a drop after the check cancels it.
        var outage = _monitor.OutageToken;
        if (!_monitor.IsConnected)
        {
            return Unavailable(request, $"NATS is {_monitor.State}");
        }
        var headers = new NatsHeaders { [DeadlineHeader] = request.DeadlineMs.ToString(CultureInfo.InvariantCulture) };
        if (request.TenantId.Length > 0)
        {
            headers[TenantHeader] = request.TenantId;
        }
        if (request.Traceparent.Length > 0)
        {
            headers["traceparent"] = request.Traceparent;
        }
        var replyOpts = request.DeadlineMs == (uint)_options.DefaultDeadline.TotalMilliseconds
            ? _defaultReplyOpts
            : new NatsSubOpts { Timeout = deadline + _options.Nats.ReplyGrace };

        using var linked = cancellationToken.CanBeCanceled ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, outage) : null;
        try
        {
            var reply = await _connection.RequestAsync(subject, request, headers,
                ProtobufNatsSerializer<ExecRequest>.Default, ProtobufNatsSerializer<ExecResult>.Default,
                replyOpts: replyOpts, cancellationToken: linked?.Token ?? outage).ConfigureAwait(false);
            reply.EnsureSuccess();
            if (reply.Data is { } result)
            {
                return result;
            }
            LogMalformedResult(request.BlockId, subject, "an empty reply");
            return ExecErrorCodes.Failure(request, ExecStatus.Error, ExecErrorCodes.InternalError,
                "the worker answered with an empty ExecResult");
        }
        catch (NatsNoRespondersException)
        {
            return ExecErrorCodes.Failure(request, ExecStatus.Error, ExecErrorCodes.NoResponders,
                $"no worker serves pool '{request.Pool}' (nobody subscribes to {subject})");
        }
        catch (NatsNoReplyException)
        {
            LogTimedOut(request.BlockId, subject, (long)deadline.TotalMilliseconds);
            return ExecErrorCodes.Failure(request, ExecStatus.Timeout, ExecErrorCodes.DeadlineExceeded,
                $"no result from pool '{request.Pool}' within the block's deadline of {(long)deadline.TotalMilliseconds} ms");
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return ExecErrorCodes.Failure(request, ExecStatus.Cancelled, ExecErrorCodes.Cancelled, "cancelled by the caller");
        }
        catch (OperationCanceledException) when (outage.IsCancellationRequested)
        {
            return Unavailable(request, "the NATS connection dropped while the block was waiting for its result");
        }
        catch (NatsDeserializeException e)
        {
            LogMalformedResult(request.BlockId, subject, e.InnerException?.Message ?? e.Message);
            return ExecErrorCodes.Failure(request, ExecStatus.Error, ExecErrorCodes.InternalError,
                "the worker answered with a malformed ExecResult");
        }
        catch (NatsException e)
        {
            LogTransportFailure(request.BlockId, subject, e.Message);
            return Unavailable(request, e.Message);
        }
    }

    private static ExecResult Unavailable(ExecRequest request, string why) =>
        ExecErrorCodes.Failure(request, ExecStatus.Error, ExecErrorCodes.ResourceUnavailable, $"NATS is unavailable: {why}");

    [LoggerMessage(2, LogLevel.Warning, "Block '{BlockId}' on {Subject} got no result within {DeadlineMs} ms.")]
    private partial void LogTimedOut(string blockId, string subject, long deadlineMs);

    [LoggerMessage(3, LogLevel.Error, "Block '{BlockId}' on {Subject}: malformed result: {Reason}")]
    private partial void LogMalformedResult(string blockId, string subject, string reason);

    [LoggerMessage(4, LogLevel.Error, "Block '{BlockId}' on {Subject}: NATS failure: {Reason}")]
    private partial void LogTransportFailure(string blockId, string subject, string reason);
}
