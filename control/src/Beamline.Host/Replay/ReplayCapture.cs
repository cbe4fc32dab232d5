using System.Threading.Channels;
using Beamline.Extensions.BuiltIn;
using Beamline.Pipeline;
using Beamline.Pipeline.Costs;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Beamline.Host.Replay;

/// <summary>
/// Keeps the finished requests of the tenants that opted in (<see cref="ReplayOptions.Tenants"/>)
/// for replay. On the request path it only copies the bodies (at most
/// <see cref="ReplayOptions.MaxBodyBytes"/> each) into a bounded queue, never waiting: when the
/// queue is full the request is not kept, and the drop is counted and logged. One background
/// writer masks PII in the copies (<see cref="PiiMasking"/>) and writes them to
/// <see cref="ReplayStore"/> in batches; another purges what is older than
/// <see cref="ReplayOptions.Retention"/>, at start and every <see cref="ReplayOptions.PurgeInterval"/>.
/// A streamed answer's text is not kept: only its request, status, usage and cost.
/// </summary>
internal sealed partial class ReplayCapture : IRequestAccounting, IHostedService, IDisposable, IAsyncDisposable
{
    private const int MaxBatch = 256;

    private readonly ReplayStore _store;
    private readonly ReplayOptions _options;
    private readonly HashSet<string> _tenants;
    private readonly TimeProvider _time;
    private readonly ILogger<ReplayCapture> _logger;
    private readonly Channel<ReplayRecord> _queue;
    private readonly CancellationTokenSource _stopping = new();
    private Task _writer = Task.CompletedTask;
    private Task _purger = Task.CompletedTask;
    private long _dropped;
    private long _droppedUnlogged;
    private long _queuedBytes;
    private int _disposed;
    private long _written;

    public ReplayCapture(ReplayStore store, IOptions<ReplayOptions> options, TimeProvider time, ILogger<ReplayCapture> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _store = store;
        _options = options.Value;
        _tenants = new HashSet<string>(_options.Tenants ?? [], StringComparer.Ordinal);
        _time = time;
        _logger = logger;
        _queue = Channel.CreateBounded<ReplayRecord>(new BoundedChannelOptions(_options.QueueCapacity)
        {
            // Wait, so that TryWrite says false when full (DropWrite would say true and drop silently); nothing waits.
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
        });
    }

    /// <summary>Requests not kept because the queue was full or the write failed.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Requests written.</summary>
    public long Written => Interlocked.Read(ref _written);

    /// <summary>Whether the tenant opted in.</summary>
    public bool Keeps(string tenantId) => _tenants.Contains(tenantId);

    /// <inheritdoc />
    public void Decided(PipelineRequest request, DecideResult result)
    {
        // A decide has no answer to compare: only executes are kept.
    }

    /// <inheritdoc />
    public void Executed(PipelineRequest request, ExecuteResult result)
    {
        if (!_tenants.Contains(request.TenantId))
        {
            return;
        }
        var record = Capture(request, result, _options.MaxBodyBytes, _time.GetUtcNow());
        // Bounded by bytes as well as by count: 4,096 bodies of 256 KiB would be 2 GiB waiting to be masked.
        var size = Size(record);
        if (Interlocked.Add(ref _queuedBytes, size) > MaxQueuedBytes || !_queue.Writer.TryWrite(record))
        {
            Interlocked.Add(ref _queuedBytes, -size);
            Interlocked.Increment(ref _dropped);
            Interlocked.Increment(ref _droppedUnlogged);
        }
    }

    /// <summary>The unmasked copy of a finished request, bodies cut at <paramref name="maxBodyBytes"/>.</summary>
    internal static ReplayRecord Capture(PipelineRequest request, ExecuteResult result, int maxBodyBytes, DateTimeOffset at)
    {
        var requestKind = request.PayloadKind;
        var requestTruncated = request.Payload.Length > maxBodyBytes;
        // Cut JSON is no longer JSON: it is kept (and masked) as text.
        var requestBody = requestKind is PayloadKind.Binary or PayloadKind.None ? null : Copy(request.Payload, maxBodyBytes);
        if (requestTruncated && requestKind == PayloadKind.Json)
        {
            requestKind = PayloadKind.Text;
        }
        // A stream's Output is the provider's status document, not the answer, which went out in chunks.
        var answered = result.IsSuccess && !request.Stream;
        return new ReplayRecord
        {
            TenantId = request.TenantId,
            RequestId = request.RequestId,
            At = at,
            Face = request.Face,
            Format = request.Format,
            MessageType = request.MessageType,
            PolicyId = request.PolicyId,
            UsedPolicyId = result.PolicyId,
            PinnedProvider = request.PinnedProvider,
            ProviderId = result.ProviderId ?? (result.Attempts.Count == 0 ? null : result.Attempts[^1].ProviderId),
            Model = result.Model,
            Status = result.Error?.Code ?? "ok",
            ErrorMessage = result.Error?.Message,
            Stream = request.Stream,
            RequestKind = requestKind,
            RequestBody = requestBody,
            RequestTruncated = requestTruncated,
            ResponseBody = answered ? Copy(result.Output, maxBodyBytes) : null,
            ResponseTruncated = answered && result.Output.Length > maxBodyBytes,
            Metadata = new Dictionary<string, string>(request.Metadata, StringComparer.Ordinal),
            Usage = result.Usage,
            CostNanos = result.CostNanos,
        };
    }

    /// <summary>The record as it may be written: every body, message and metadata value masked, bodies cut again if masking grew them.</summary>
    internal static ReplayRecord Mask(ReplayRecord record, int maxBodyBytes)
    {
        var metadata = new Dictionary<string, string>(record.Metadata.Count, StringComparer.Ordinal);
        foreach (var pair in record.Metadata)
        {
            metadata[pair.Key] = PiiMasking.MaskText(pair.Value);
        }
        var requestBody = record.RequestBody is null ? null : PiiMasking.Mask(record.RequestBody, record.RequestKind);
        // A cut answer is no longer JSON: masked as text (Mask falls back to text for anything that does not parse).
        var responseBody = record.ResponseBody is null ? null : PiiMasking.Mask(record.ResponseBody, PayloadKind.Json);
        return record with
        {
            RequestBody = requestBody is { } maskedRequest ? Copy(maskedRequest, maxBodyBytes) : null,
            RequestTruncated = record.RequestTruncated || requestBody?.Length > maxBodyBytes,
            ResponseBody = responseBody is { } maskedResponse ? Copy(maskedResponse, maxBodyBytes) : null,
            ResponseTruncated = record.ResponseTruncated || responseBody?.Length > maxBodyBytes,
            ErrorMessage = record.ErrorMessage is null ? null : PiiMasking.MaskText(record.ErrorMessage),
            Metadata = metadata,
        };
    }

    private static byte[] Copy(ReadOnlyMemory<byte> bytes, int maxBytes) => bytes.Length > maxBytes ? bytes[..maxBytes].ToArray() : bytes.ToArray();

    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // A database that cannot be opened stops the start: replay was asked for and would silently keep nothing.
        await _store.InitializeAsync(cancellationToken).ConfigureAwait(false);
        await PurgeAsync(cancellationToken).ConfigureAwait(false);
        LogKeeping(_logger, _tenants.Count, _store.DatabasePath, _options.Retention);
        _writer = Task.Run(WriteLoopAsync, CancellationToken.None);
        _purger = Task.Run(PurgeLoopAsync, CancellationToken.None);
    }

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        // The purge stops now; the queue stays open: hosted services stop side by side with Kestrel's
        // drain, and requests finishing during it are still kept (DisposeAsync writes them).
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _purger.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>After the host drained: what is queued is written, then the writer ends.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _queue.Writer.TryComplete();
        try
        {
            await _writer.WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            LogDropped(_logger, _queue.Reader.Count, _options.QueueCapacity);
        }
        _stopping.Dispose();
    }

    /// <inheritdoc />
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <summary>The most bytes of bodies waiting to be masked and written.</summary>
    public const long MaxQueuedBytes = 64L * 1024 * 1024;

    private static long Size(ReplayRecord record) => (record.RequestBody?.Length ?? 0) + (record.ResponseBody?.Length ?? 0) + 512;

    private async Task WriteLoopAsync()
    {
        var reader = _queue.Reader;
        var batch = new List<ReplayRecord>(MaxBatch);
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            while (batch.Count < MaxBatch && reader.TryRead(out var record))
            {
                Interlocked.Add(ref _queuedBytes, -Size(record));
                try
                {
                    batch.Add(Mask(record, _options.MaxBodyBytes));
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    // Never write what could not be masked.
                    Interlocked.Increment(ref _dropped);
                    LogMaskFailed(_logger, record.TenantId, record.RequestId, e);
                }
            }
            try
            {
                await _store.WriteAsync(batch, CancellationToken.None).ConfigureAwait(false);
                Interlocked.Add(ref _written, batch.Count);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // Whatever the failure, the loop goes on: a writer that ended would drop everything unseen.
                Interlocked.Add(ref _dropped, batch.Count);
                LogWriteFailed(_logger, batch.Count, e);
            }
            if (Interlocked.Exchange(ref _droppedUnlogged, 0) is var dropped and > 0)
            {
                LogDropped(_logger, dropped, _options.QueueCapacity);
            }
        }
    }

    private async Task PurgeLoopAsync()
    {
        using var timer = new PeriodicTimer(_options.PurgeInterval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token).ConfigureAwait(false))
            {
                await PurgeAsync(_stopping.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
    }

    private async Task PurgeAsync(CancellationToken cancellationToken)
    {
        try
        {
            var purged = await _store.PurgeAsync(_time.GetUtcNow() - _options.Retention, cancellationToken).ConfigureAwait(false);
            if (purged > 0)
            {
                LogPurged(_logger, purged, _options.Retention);
            }
        }
        catch (Microsoft.Data.Sqlite.SqliteException e)
        {
            LogPurgeFailed(_logger, e);
        }
    }
}
