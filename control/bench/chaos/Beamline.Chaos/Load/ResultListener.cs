using System.Collections.Concurrent;
using System.Text.Json;
using NATS.Client.Core;

namespace Beamline.Chaos.Load;

/// <summary>
/// Reads every CP1 ExecResult (<c>caf.exec.result.v1</c>) and hands it to whoever waits for its
/// <c>assignment_id</c> or <c>request_id</c>; remembers which assignments answered each request
/// (a request answered by two assignments ran twice), and which worker acknowledged each request
/// (<c>caf.exec.assign.v1.ack</c>: where a lost one went). In the durable deployment it also
/// reads the control plane's results stream (an ordered consumer, which resumes after a NATS
/// restart where it stopped), as a CP1 router built for it does: a result published while this
/// listener was disconnected is not lost to it.
/// </summary>
public sealed class ResultListener : IAsyncDisposable
{
    /// <summary>Where CP1 workers publish results.</summary>
    public const string Subject = "caf.exec.result.v1";

    /// <summary>Where CP1 workers acknowledge assignments.</summary>
    public const string AckSubject = "caf.exec.assign.v1.ack";

    private readonly ConcurrentDictionary<string, TaskCompletionSource<CpResult>> _byAssignment = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, TaskCompletionSource<CpResult>> _byRequest = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, bool>> _assignmentsOfRequest = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _ackedBy = new(StringComparer.Ordinal);
    private readonly INatsSub<byte[]> _subscription;
    private readonly INatsSub<byte[]> _acks;
    private readonly Task _pump;
    private readonly Task _ackPump;
    private readonly Task _streamPump;
    private readonly CancellationTokenSource _stopping = new();

    private ResultListener(INatsConnection connection, INatsSub<byte[]> subscription, INatsSub<byte[]> acks, string? resultsStream)
    {
        _subscription = subscription;
        _acks = acks;
        _pump = Task.Run(PumpAsync);
        _ackPump = Task.Run(PumpAcksAsync);
        _streamPump = resultsStream is null ? Task.CompletedTask : Task.Run(() => PumpStreamAsync(connection, resultsStream, _stopping.Token));
    }

    /// <summary>A result's status and, when not success, its error code.</summary>
    public sealed record CpResult(string Status, string Code);

    /// <summary>
    /// Subscribes on <paramref name="connection"/>; the server has the subscription when this
    /// returns. With <paramref name="resultsStream"/> the results are also read from that stream.
    /// </summary>
    public static async Task<ResultListener> StartAsync(INatsConnection connection, string? resultsStream = null)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var subscription = await connection.SubscribeCoreAsync<byte[]>(Subject).ConfigureAwait(false);
        var acks = await connection.SubscribeCoreAsync<byte[]>(AckSubject).ConfigureAwait(false);
        await connection.PingAsync().ConfigureAwait(false);
        return new ResultListener(connection, subscription, acks, resultsStream);
    }

    /// <summary>A task that completes with the first result for <paramref name="assignmentId"/>.</summary>
    public Task<CpResult> ForAssignment(string assignmentId) =>
        _byAssignment.GetOrAdd(assignmentId, _ => new TaskCompletionSource<CpResult>(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    /// <summary>A task that completes with the first result for <paramref name="requestId"/>.</summary>
    public Task<CpResult> ForRequest(string requestId) =>
        _byRequest.GetOrAdd(requestId, _ => new TaskCompletionSource<CpResult>(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    /// <summary>How many different assignments answered <paramref name="requestId"/> with a result.</summary>
    public int AssignmentsAnswering(string requestId) =>
        _assignmentsOfRequest.TryGetValue(requestId, out var set) ? set.Count : 0;

    /// <summary>The workers that acknowledged <paramref name="requestId"/> (accepted or not), or null when none did.</summary>
    public string? AckedBy(string requestId) => _ackedBy.GetValueOrDefault(requestId);

    private async Task PumpAcksAsync()
    {
        await foreach (var msg in _acks.Msgs.ReadAllAsync().ConfigureAwait(false))
        {
            try
            {
                using var document = JsonDocument.Parse(msg.Data ?? []);
                var root = document.RootElement;
                if (Text(root, "request_id") is { } requestId && Text(root, "worker_id") is { } workerId)
                {
                    _ackedBy.AddOrUpdate(requestId, workerId, (_, before) => before.Contains(workerId, StringComparison.Ordinal) ? before : $"{before}+{workerId}");
                }
            }
            catch (JsonException)
            {
                // Not an ack of the contract: nothing to remember.
            }
        }
    }

    private async Task PumpAsync()
    {
        await foreach (var msg in _subscription.Msgs.ReadAllAsync().ConfigureAwait(false))
        {
            Take(msg.Data);
        }
    }

    // The results stream from its start, again after any failure (no stream yet, NATS away); a
    // result read twice changes nothing.
    private async Task PumpStreamAsync(INatsConnection connection, string stream, CancellationToken cancellationToken)
    {
        var js = new NATS.Client.JetStream.NatsJSContext(connection);
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var consumer = await js.CreateOrderedConsumerAsync(stream, cancellationToken: cancellationToken).ConfigureAwait(false);
                await foreach (var msg in consumer.ConsumeAsync<byte[]>(cancellationToken: cancellationToken).ConfigureAwait(false))
                {
                    Take(msg.Data);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is NatsException or OperationCanceledException)
            {
                await Task.Delay(200, CancellationToken.None).ConfigureAwait(false);
            }
        }
    }

    private void Take(byte[]? data)
    {
        if (data is null)
        {
            return;
        }
        string? assignmentId = null, requestId = null, status = null, code = null;
        try
        {
            using var document = JsonDocument.Parse(data);
            var root = document.RootElement;
            assignmentId = Text(root, "assignment_id");
            requestId = Text(root, "request_id");
            status = Text(root, "status");
            code = Text(root, "error_code");
        }
        catch (JsonException)
        {
            return;
        }
        var result = new CpResult(status ?? "", status == "success" ? "ok" : code ?? status ?? "unknown");
        if (assignmentId is not null)
        {
            _byAssignment.GetOrAdd(assignmentId, _ => new TaskCompletionSource<CpResult>(TaskCreationOptions.RunContinuationsAsynchronously))
                .TrySetResult(result);
        }
        if (requestId is not null)
        {
            _byRequest.GetOrAdd(requestId, _ => new TaskCompletionSource<CpResult>(TaskCreationOptions.RunContinuationsAsynchronously))
                .TrySetResult(result);
            if (assignmentId is not null)
            {
                _assignmentsOfRequest.GetOrAdd(requestId, _ => new ConcurrentDictionary<string, bool>(StringComparer.Ordinal))[assignmentId] = true;
            }
        }
    }

    private static string? Text(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _streamPump.ConfigureAwait(false);
        _stopping.Dispose();
        await _subscription.DisposeAsync().ConfigureAwait(false);
        await _acks.DisposeAsync().ConfigureAwait(false);
        await _pump.ConfigureAwait(false);
        await _ackPump.ConfigureAwait(false);
    }
}
