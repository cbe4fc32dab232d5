using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace Beamline.Host.Routing;

/// <summary>
/// The JetStream side of pushed assignments (<see cref="AssignmentOptions.JetStream"/>): a
/// work-queue stream over the allowed assignment subjects, which the workers' one durable
/// consumer empties, and publishes that wait for the stream's acknowledgement. The stream is made
/// (or brought to this configuration) on the first publish and again after a failure, so that a
/// control plane started before JetStream was enabled, or one whose stream was deleted, recovers.
/// </summary>
internal sealed partial class AssignmentStream(ILogger logger, IOptions<AssignmentOptions> options, INatsConnection connection)
{
    private readonly AssignmentOptions _options = options.Value;
    private readonly NatsJSContext _js = new(connection);
    private readonly Lock _gate = new();
    private Task? _ensured;

    /// <summary>The stream's configuration for these options.</summary>
    internal static StreamConfig Config(AssignmentOptions options) => new(options.StreamName, [.. options.EffectiveAllowedSubjects])
    {
        Retention = StreamConfigRetention.Workqueue,
        Storage = StreamConfigStorage.File,
        DuplicateWindow = options.DuplicateWindow,
        MaxAge = options.MaxAge,
        Description = "Beamline CP1 ExecAssignments, taken by the workers' durable consumer (docs/cp1-worker.md)",
    };

    /// <summary>The results stream's configuration: every result kept for a while, for routers that missed one.</summary>
    internal static StreamConfig ResultsConfig(AssignmentOptions options) => new(options.ResultsStreamName, [AssignmentTracker.ResultSubject])
    {
        Retention = StreamConfigRetention.Limits,
        Storage = StreamConfigStorage.File,
        MaxAge = options.ResultsMaxAge,
        Description = "Beamline CP1 ExecResults, kept for routers that were disconnected when one was published (docs/cp1-worker.md)",
    };

    /// <summary>Makes both streams now (at start), rather than on the first publish. Never throws: the first publish tries again.</summary>
    public async Task EnsureAsync()
    {
        try
        {
            await EnsureStreamAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is NatsException or OperationCanceledException)
        {
            Forget();
            LogNotReady(e.Message);
        }
    }

    /// <summary>
    /// Publishes <paramref name="body"/> on <paramref name="subject"/> with <c>Nats-Msg-Id</c> =
    /// <paramref name="assignmentId"/> and returns once the stream has stored it (or had it
    /// already: a duplicate within the window is as good). Null on success, else why not.
    /// </summary>
    public async ValueTask<string?> PublishAsync(string subject, ReadOnlyMemory<byte> body, string assignmentId, CancellationToken cancellationToken)
    {
        try
        {
            await EnsureStreamAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_options.PublishTimeout);
            var ack = await _js.PublishAsync(subject, body, opts: new NatsJSPubOpts { MsgId = assignmentId }, cancellationToken: timeout.Token)
                .ConfigureAwait(false);
            if (ack.Error is { } error)
            {
                Forget(); // the stream may be gone or changed: made again on the next publish
                LogNotStored(subject, error.Description ?? error.Code.ToString(System.Globalization.CultureInfo.InvariantCulture));
                return $"the stream refused it ({error.Description})";
            }
            if (ack.Duplicate)
            {
                LogDuplicate(assignmentId);
            }
            return null;
        }
        catch (Exception e) when (e is NatsException or OperationCanceledException or ObjectDisposedException && !cancellationToken.IsCancellationRequested)
        {
            Forget();
            LogNotStored(subject, e.Message);
            return e is OperationCanceledException
                ? "the stream did not acknowledge it in time (it may still have stored it)"
                : $"the stream could not be reached ({e.Message})";
        }
    }

    // Shared by concurrent decides, so not cancelled by any one of them (the connection's
    // request timeout bounds it).
    private Task EnsureStreamAsync()
    {
        lock (_gate)
        {
            return _ensured ??= CreateOrUpdateAsync();
        }
    }

    private async Task CreateOrUpdateAsync()
    {
        var config = Config(_options);
        await _js.CreateOrUpdateStreamAsync(config, CancellationToken.None).ConfigureAwait(false);
        await _js.CreateOrUpdateStreamAsync(ResultsConfig(_options), CancellationToken.None).ConfigureAwait(false);
        LogStreamReady(config.Name!, string.Join(", ", config.Subjects!), _options.ResultsStreamName);
    }

    private void Forget()
    {
        lock (_gate)
        {
            _ensured = null;
        }
    }

    [LoggerMessage(1, LogLevel.Information, "Assignments go through the JetStream work-queue stream {Stream} ({Subjects}); results are kept in {Results}.")]
    private partial void LogStreamReady(string stream, string subjects, string results);

    [LoggerMessage(4, LogLevel.Warning, "The assignment streams are not ready yet ({Reason}); the first push tries again.")]
    private partial void LogNotReady(string reason);

    [LoggerMessage(2, LogLevel.Warning, "An assignment for {Subject} was not stored by JetStream: {Reason}")]
    private partial void LogNotStored(string subject, string reason);

    [LoggerMessage(3, LogLevel.Information, "Assignment {AssignmentId} was published again within the duplicate window; the stream kept the first.")]
    private partial void LogDuplicate(string assignmentId);
}
