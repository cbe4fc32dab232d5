using System.Buffers;
using System.Text.Json;
using System.Threading.Channels;
using Beamline.Pipeline.Activity;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using NATS.Client.Core;

namespace Beamline.Host.Activity;

/// <summary>
/// Publishes the activity stream on NATS when <c>Beamline:Nats:Url</c> is set (and
/// <see cref="ActivityOptions.PublishToNats"/>): every event, as <see cref="ActivityJson"/>, on
/// <c>beamline.activity.v1.&lt;tenant_id&gt;</c>. It is one subscriber of the <see cref="ActivityBus"/>
/// like any SSE reader, read by one loop: publishing never slows a request, and while NATS is down
/// or slow events are dropped and counted (<see cref="NotPublished"/>, the bus's
/// <see cref="ActivityBus.Dropped"/>), never buffered without bound.
/// </summary>
/// <remarks>
/// A tenant id that is not one NATS subject token (empty, or with <c>.</c>, <c>*</c>, <c>&gt;</c>,
/// whitespace, control or non-ASCII characters) is skipped, not rewritten: a rewritten id could
/// land on another tenant's subject. Tenancy only admits plain ids, so this is a safeguard.
/// On stop, what is already buffered is published until the host's shutdown deadline; events
/// emitted after that are not.
/// </remarks>
internal sealed partial class ActivityNatsPublisher(ActivityBus bus, INatsConnection connection, IOptions<ActivityOptions> options,
    ILogger<ActivityNatsPublisher> logger) : IHostedService, IDisposable
{
    /// <summary>The subjects' prefix; the tenant id is the last token.</summary>
    public const string SubjectPrefix = "beamline.activity.v1.";

    // Subjects by tenant id, built once; cleared if it ever grows past this many tenants.
    private const int MaxCachedSubjects = 10_000;

    private readonly CancellationTokenSource _stop = new();
    private readonly Dictionary<string, string?> _subjects = new(StringComparer.Ordinal);
    private ActivitySubscription? _subscription;
    private Task? _loop;
    private long _published;
    private long _notPublished;
    private bool _failing;

    /// <summary>Events published so far.</summary>
    public long Published => Interlocked.Read(ref _published);

    /// <summary>Events read from the bus but not published (NATS down, a refused tenant id, a publish error).</summary>
    public long NotPublished => Interlocked.Read(ref _notPublished);

    /// <summary>
    /// The subject for <paramref name="tenantId"/>'s events, or null when the id is not a single
    /// plain subject token.
    /// </summary>
    public static string? SubjectFor(string tenantId)
    {
        if (string.IsNullOrEmpty(tenantId))
        {
            return null;
        }
        foreach (var c in tenantId)
        {
            if (c <= ' ' || c >= '\u007f' || c is '.' or '*' or '>')
            {
                return null;
            }
        }
        return SubjectPrefix + tenantId;
    }

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (!options.Value.PublishToNats)
        {
            LogDisabled();
            return Task.CompletedTask;
        }
        _subscription = bus.Subscribe();
        _loop = Task.Run(() => RunAsync(_subscription.Reader, _stop.Token), CancellationToken.None);
        if (connection.ConnectionState != NatsConnectionState.Open)
        {
            _ = ConnectAsync(); // NATS.Net connects on first use; until it is open, events are dropped
        }
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_subscription is null || _loop is null)
        {
            return;
        }
        _subscription.Dispose(); // no new events; the loop publishes what is buffered, then ends
        try
        {
            await _loop.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            await _stop.CancelAsync().ConfigureAwait(false);
            await _loop.ConfigureAwait(false);
        }
        LogStopped(Published, NotPublished);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _subscription?.Dispose();
        _stop.Dispose();
    }

    private async Task RunAsync(ChannelReader<ActivityEvent> reader, CancellationToken token)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using var json = new Utf8JsonWriter(buffer);
        try
        {
            while (await reader.WaitToReadAsync(token).ConfigureAwait(false))
            {
                while (reader.TryRead(out var activity))
                {
                    if (await PublishAsync(activity, buffer, json, token).ConfigureAwait(false))
                    {
                        Interlocked.Increment(ref _published);
                    }
                    else
                    {
                        Interlocked.Increment(ref _notPublished);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // Stopped at the shutdown deadline.
        }
    }

    private async ValueTask<bool> PublishAsync(ActivityEvent activity, ArrayBufferWriter<byte> buffer, Utf8JsonWriter json, CancellationToken token)
    {
        if (connection.ConnectionState != NatsConnectionState.Open)
        {
            return false; // no waiting for a reconnect: the buffer would fill while events go stale
        }
        if (Subject(activity.TenantId) is not { } subject)
        {
            return false;
        }
        buffer.ResetWrittenCount(); // the previous publish was awaited: its bytes are in NATS.Net's buffer
        json.Reset(buffer);
        ActivityJson.Write(json, activity);
        json.Flush();
        if (connection.ServerInfo is { MaxPayload: > 0 } info && buffer.WrittenCount + subject.Length + 512 > info.MaxPayload)
        {
            return false;
        }
        try
        {
            await connection.PublishAsync(subject, buffer.WrittenMemory, serializer: NatsRawSerializer<ReadOnlyMemory<byte>>.Default,
                cancellationToken: token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is NatsException or ObjectDisposedException or TimeoutException)
        {
            if (!_failing)
            {
                _failing = true; // once per run of failures, not once per event
                LogPublishFailed(e.Message);
            }
            return false;
        }
        _failing = false;
        return true;
    }

    private string? Subject(string tenantId)
    {
        if (!_subjects.TryGetValue(tenantId, out var subject))
        {
            if (_subjects.Count >= MaxCachedSubjects)
            {
                _subjects.Clear();
            }
            subject = SubjectFor(tenantId);
            _subjects[tenantId] = subject;
            if (subject is null)
            {
                LogTenantSkipped(tenantId);
            }
        }
        return subject;
    }

    private async Task ConnectAsync()
    {
        try
        {
            await connection.ConnectAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is NatsException or ObjectDisposedException or OperationCanceledException or TimeoutException)
        {
            // The connection's owner reports it (NatsConnectionMonitor, /healthz); events are dropped meanwhile.
        }
    }

    [LoggerMessage(1, LogLevel.Information, "The activity stream is not published on NATS (Beamline:Activity:PublishToNats is false).")]
    private partial void LogDisabled();

    [LoggerMessage(2, LogLevel.Warning, "Activity events are not published on NATS: {Reason}")]
    private partial void LogPublishFailed(string reason);

    [LoggerMessage(3, LogLevel.Warning, "Activity events of tenant '{TenantId}' are not published on NATS: the id is not a plain subject token.")]
    private partial void LogTenantSkipped(string tenantId);

    [LoggerMessage(4, LogLevel.Information, "Activity publishing stopped: {Published} events published, {NotPublished} not.")]
    private partial void LogStopped(long published, long notPublished);
}
