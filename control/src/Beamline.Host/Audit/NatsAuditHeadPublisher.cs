using System.Buffers;
using System.Text.Json;
using System.Threading.Channels;
using Beamline.Audit;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using NATS.Client.Core;

namespace Beamline.Host.Audit;

/// <summary>
/// Publishes the audit head (<c>{"seq","hash","time"}</c>, no entry content) on
/// <see cref="AuditOptions.HeadSubject"/> after every durable batch, so that a copy of the head
/// lives outside the data directory. Newest head wins: while NATS is slow or down, older heads are
/// replaced, never queued; the audit writer never waits for NATS.
/// </summary>
internal sealed partial class NatsAuditHeadPublisher(INatsConnection connection, IOptions<AuditOptions> options,
    ILogger<NatsAuditHeadPublisher> logger) : IAuditHeadPublisher, IHostedService, IDisposable
{
    private static readonly TimeSpan PublishTimeout = TimeSpan.FromSeconds(5);

    private readonly Channel<AuditHead> _heads = Channel.CreateBounded<AuditHead>(new BoundedChannelOptions(1)
    {
        FullMode = BoundedChannelFullMode.DropOldest,
        SingleReader = true,
    });
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;
    private bool _failing;

    public void Publish(AuditHead head) => _heads.Writer.TryWrite(head);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _loop = Task.Run(() => RunAsync(_stop.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _heads.Writer.TryComplete(); // the last head is still published, within the shutdown deadline
        if (_loop is null)
        {
            return;
        }
        try
        {
            await _loop.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            await _stop.CancelAsync().ConfigureAwait(false);
        }
    }

    public void Dispose() => _stop.Dispose();

    private async Task RunAsync(CancellationToken token)
    {
        var subject = options.Value.HeadSubject;
        var buffer = new ArrayBufferWriter<byte>(128);
        try
        {
            await foreach (var head in _heads.Reader.ReadAllAsync(token).ConfigureAwait(false))
            {
                buffer.ResetWrittenCount();
                using (var writer = new Utf8JsonWriter(buffer))
                {
                    head.WriteTo(writer);
                }
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token);
                timeout.CancelAfter(PublishTimeout);
                try
                {
                    await connection.PublishAsync(subject, buffer.WrittenMemory, serializer: NatsRawSerializer<ReadOnlyMemory<byte>>.Default,
                        cancellationToken: timeout.Token).ConfigureAwait(false);
                    _failing = false;
                }
                catch (Exception e) when (e is NatsException or ObjectDisposedException or TimeoutException
                    || (e is OperationCanceledException && !token.IsCancellationRequested))
                {
                    if (!_failing)
                    {
                        _failing = true; // once per run of failures
                        LogPublishFailed(subject, e.Message);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // Stopped at the shutdown deadline.
        }
    }

    [LoggerMessage(1, LogLevel.Warning, "The audit head is not published on {Subject}: {Reason}")]
    private partial void LogPublishFailed(string subject, string reason);
}
