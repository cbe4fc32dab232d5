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

    /// <summary>Header of the worker's replies: <c>chunk</c> or <c>result</c>.</summary>
    public const string KindHeader = "Beamline-Kind";

    /// <summary>Header carrying the block's deadline budget in milliseconds.</summary>
    public const string DeadlineHeader = "Beamline-Deadline-Ms";

    private readonly INatsConnection _connection;
    private readonly NatsConnectionMonitor _monitor;
    private readonly DispatchOptions _options;
    private readonly ILogger<NatsBlockDispatcher> _logger;
    private readonly ConcurrentDictionary<string, string> _subjects = new(StringComparer.Ordinal);

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
        // The worker enforces the deadline too; give it the one we wait for.
        request.DeadlineMs = _options.EffectiveDeadlineMs(request.Pool, request.DeadlineMs);
        var deadline = TimeSpan.FromMilliseconds(request.DeadlineMs);

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
        var replyOpts = new NatsSubOpts { Timeout = deadline + _options.Nats.ReplyGrace };

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

    /// <inheritdoc />
    public async IAsyncEnumerable<ExecStreamItem> DispatchStreamAsync(ExecRequest request,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        request.Stream = true;
        if (!PoolNames.IsValid(request.Pool))
        {
            yield return new ExecStreamItem(null, ExecErrorCodes.Failure(request, ExecStatus.Error, ExecErrorCodes.InvalidInput,
                $"pool '{request.Pool}' is not a valid pool name ({PoolNames.Rule})"));
            yield break;
        }
        var subject = _subjects.GetOrAdd(request.Pool, static pool => SubjectPrefix + pool);
        request.DeadlineMs = _options.EffectiveDeadlineMs(request.Pool, request.DeadlineMs);
        var deadline = TimeSpan.FromMilliseconds(request.DeadlineMs);
        var outage = _monitor.OutageToken;
        if (!_monitor.IsConnected)
        {
            yield return new ExecStreamItem(null, Unavailable(request, $"NATS is {_monitor.State}"));
            yield break;
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
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, outage);
        var replies = _connection.RequestManyAsync(subject, request, headers,
            ProtobufNatsSerializer<ExecRequest>.Default, NatsDefaultSerializer<NatsMemoryOwner<byte>>.Default,
            replyOpts: new NatsSubOpts { Timeout = deadline + _options.Nats.ReplyGrace, ThrowIfNoResponders = true },
            cancellationToken: linked.Token).GetAsyncEnumerator(linked.Token);
        try
        {
            while (true)
            {
                ExecStreamItem item;
                try
                {
                    if (!await replies.MoveNextAsync().ConfigureAwait(false))
                    {
                        item = new ExecStreamItem(null, ExecErrorCodes.Failure(request, ExecStatus.Timeout, ExecErrorCodes.DeadlineExceeded,
                            $"no result from pool '{request.Pool}' within the block's deadline of {(long)deadline.TotalMilliseconds} ms"));
                    }
                    else
                    {
                        item = ReadStreamReply(request, replies.Current);
                    }
                }
                catch (Exception e) when (Failure(request, subject, e, cancellationToken, outage) is { } failure)
                {
                    item = new ExecStreamItem(null, failure);
                }
                yield return item;
                if (item.IsResult)
                {
                    yield break;
                }
            }
        }
        finally
        {
            await replies.DisposeAsync().ConfigureAwait(false);
        }
    }

    // A reply of a streamed block: the worker marks chunks and the result with Beamline-Kind.
    private ExecStreamItem ReadStreamReply(ExecRequest request, NatsMsg<NatsMemoryOwner<byte>> msg)
    {
        using var data = msg.Data;
        try
        {
            var isChunk = msg.Headers is { } headers && headers.TryGetValue(KindHeader, out var kind) && kind == "chunk";
            return isChunk
                ? new ExecStreamItem(ExecChunk.Parser.ParseFrom(data.Span), null)
                : new ExecStreamItem(null, ExecResult.Parser.ParseFrom(data.Span));
        }
        catch (Google.Protobuf.InvalidProtocolBufferException e)
        {
            LogMalformedResult(request.BlockId, msg.Subject, e.Message);
            return new ExecStreamItem(null, ExecErrorCodes.Failure(request, ExecStatus.Error, ExecErrorCodes.InternalError,
                "the worker answered with a malformed ExecChunk or ExecResult"));
        }
    }

    private ExecResult? Failure(ExecRequest request, string subject, Exception e, CancellationToken cancellationToken, CancellationToken outage) => e switch
    {
        NatsNoRespondersException => ExecErrorCodes.Failure(request, ExecStatus.Error, ExecErrorCodes.NoResponders,
            $"no worker serves pool '{request.Pool}' (nobody subscribes to {subject})"),
        OperationCanceledException when cancellationToken.IsCancellationRequested =>
            ExecErrorCodes.Failure(request, ExecStatus.Cancelled, ExecErrorCodes.Cancelled, "cancelled by the caller"),
        OperationCanceledException when outage.IsCancellationRequested =>
            Unavailable(request, "the NATS connection dropped while the block was running"),
        NatsException nats => LogAndFail(request, subject, nats),
        _ => null,
    };

    private ExecResult LogAndFail(ExecRequest request, string subject, NatsException e)
    {
        LogTransportFailure(request.BlockId, subject, e.Message);
        return Unavailable(request, e.Message);
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
