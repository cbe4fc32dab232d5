using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using Beamline.Interop.Nats;
using Beamline.Worker.V2;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Beamline.Dispatch.Nats;

/// <summary>
/// The distributed path: a block is a NATS request on <c>caf.exec.v2.&lt;pool&gt;</c>, answered by
/// whichever <c>beamline-worker</c> of the pool's queue group takes it.
/// </summary>
public sealed partial class NatsBlockDispatcher : IBlockDispatcher, IAsyncDisposable
{
    /// <summary>The subject prefix of block requests; the pool name follows.</summary>
    public const string SubjectPrefix = "caf.exec.v2.";

    /// <summary>Header naming the tenant, so that brokers and workers can account without decoding.</summary>
    public const string TenantHeader = "Beamline-Tenant";

    /// <summary>Header carrying the block's deadline budget in milliseconds.</summary>
    public const string DeadlineHeader = "Beamline-Deadline-Ms";

    private readonly NatsConnection _connection;
    private readonly DispatchOptions _options;
    private readonly ILogger<NatsBlockDispatcher> _logger;
    private readonly ConcurrentDictionary<string, string> _subjects = new(StringComparer.Ordinal);

    /// <summary>Connects to the configured NATS server.</summary>
    public NatsBlockDispatcher(IOptions<DispatchOptions> options, ILogger<NatsBlockDispatcher> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        _options = options.Value;
        _logger = logger;
        var url = _options.Nats.Url ?? throw new ArgumentException("Beamline:Nats:Url is not set.", nameof(options));
        _connection = NatsConnection.Connect(new NatsConnectionOptions
        {
            Url = url,
            Name = _options.Nats.ConnectionName,
        });
        LogConnected(url);
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
        var headers = new NatsHeaders();
        if (request.TenantId.Length > 0)
        {
            headers.Set(TenantHeader, request.TenantId);
        }
        if (request.Traceparent.Length > 0)
        {
            headers.Set("traceparent", request.Traceparent);
        }
        headers.Set(DeadlineHeader, request.DeadlineMs.ToString(CultureInfo.InvariantCulture));

        try
        {
            Task<NatsReply> pending;
            var size = request.CalculateSize();
            var buffer = ArrayPool<byte>.Shared.Rent(size);
            try
            {
                request.WriteTo(buffer.AsSpan(0, size));

                // RequestAsync has copied the payload into the outgoing message when it returns.
                pending = _connection.RequestAsync(subject, buffer.AsMemory(0, size), headers,
                    deadline + _options.Nats.ReplyGrace, NatsReplyHeaders.Skip, cancellationToken);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
            var reply = await pending.ConfigureAwait(false);
            return ExecResult.Parser.ParseFrom(reply.Data.Span);
        }
        catch (NatsNoRespondersException)
        {
            return ExecErrorCodes.Failure(request, ExecStatus.Error, ExecErrorCodes.NoResponders,
                $"no worker serves pool '{request.Pool}' (nobody subscribes to {subject})");
        }
        catch (NatsTimeoutException)
        {
            LogTimedOut(request.BlockId, subject, (long)deadline.TotalMilliseconds);
            return ExecErrorCodes.Failure(request, ExecStatus.Timeout, ExecErrorCodes.DeadlineExceeded,
                $"no result from pool '{request.Pool}' within the block's deadline of {(long)deadline.TotalMilliseconds} ms");
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return ExecErrorCodes.Failure(request, ExecStatus.Cancelled, ExecErrorCodes.Cancelled, "cancelled by the caller");
        }
        catch (InvalidProtocolBufferException e)
        {
            LogMalformedResult(request.BlockId, subject, e.Message);
            return ExecErrorCodes.Failure(request, ExecStatus.Error, ExecErrorCodes.InternalError,
                "the worker answered with a malformed ExecResult");
        }
        catch (NatsException e)
        {
            LogTransportFailure(request.BlockId, subject, e.Message);
            return ExecErrorCodes.Failure(request, ExecStatus.Error, ExecErrorCodes.ResourceUnavailable,
                $"NATS is unavailable: {e.Message}");
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        try
        {
            await _connection.DrainAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (NatsException e)
        {
            LogTransportFailure("-", "drain", e.Message);
        }
        await _connection.DisposeAsync().ConfigureAwait(false);
    }

    [LoggerMessage(1, LogLevel.Information, "Dispatching blocks over NATS at {Url}.")]
    private partial void LogConnected(string url);

    [LoggerMessage(2, LogLevel.Warning, "Block '{BlockId}' on {Subject} got no result within {DeadlineMs} ms.")]
    private partial void LogTimedOut(string blockId, string subject, long deadlineMs);

    [LoggerMessage(3, LogLevel.Error, "Block '{BlockId}' on {Subject}: malformed result: {Reason}")]
    private partial void LogMalformedResult(string blockId, string subject, string reason);

    [LoggerMessage(4, LogLevel.Error, "Block '{BlockId}' on {Subject}: NATS failure: {Reason}")]
    private partial void LogTransportFailure(string blockId, string subject, string reason);
}
