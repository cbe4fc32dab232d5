using System.Collections.Concurrent;
using System.Globalization;

namespace Beamline.Chaos.Load;

/// <summary>One path of a scenario's load and how many requests it keeps in flight.</summary>
public sealed record LoadPlan(ILoadPath Path, int InFlight);

/// <summary>One request as its client saw it.</summary>
public sealed record SentRequest(string Path, string Id, Outcome Outcome, TimeSpan SentAt, TimeSpan AnsweredAt);

/// <summary>
/// Keeps each plan's requests in flight (closed loops: a new request when one is answered) until
/// told to stop sending, then waits for every request sent to be answered or given up as lost.
/// Ids are unique per run: <c>&lt;path&gt;-&lt;n&gt;</c>. After an answer that says the service is
/// unavailable a loop pauses briefly, as a client backs off, rather than spin through an outage.
/// </summary>
public sealed class LoadDriver(IReadOnlyList<LoadPlan> plans, TimeProvider? time = null)
{
    private static readonly TimeSpan Backoff = TimeSpan.FromMilliseconds(50);
    private readonly ConcurrentQueue<SentRequest> _requests = new();
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private long _sequence;

    /// <summary>Every request answered or lost so far.</summary>
    public IReadOnlyCollection<SentRequest> Requests => _requests;

    /// <summary>Runs until <paramref name="stopSending"/>, then until every request has its outcome; <paramref name="abort"/> ends it at once.</summary>
    public Task RunAsync(long startTimestamp, CancellationToken stopSending, CancellationToken abort)
    {
        var loops = new List<Task>();
        foreach (var plan in plans)
        {
            for (var i = 0; i < plan.InFlight; i++)
            {
                loops.Add(Task.Run(() => LoopAsync(plan.Path, startTimestamp, stopSending, abort), abort));
            }
        }
        return Task.WhenAll(loops);
    }

    private async Task LoopAsync(ILoadPath path, long start, CancellationToken stopSending, CancellationToken abort)
    {
        while (!stopSending.IsCancellationRequested && !abort.IsCancellationRequested)
        {
            var id = string.Create(CultureInfo.InvariantCulture, $"{path.Name}-{Interlocked.Increment(ref _sequence)}");
            var sentAt = _time.GetElapsedTime(start);
            var outcome = await path.SendAsync(id, abort).ConfigureAwait(false);
            _requests.Enqueue(new SentRequest(path.Name, id, outcome, sentAt, _time.GetElapsedTime(start)));
            if (outcome.Answer == Answer.Error && outcome.Code is "resource_unavailable" or "no_responders" or "not_published")
            {
                await Task.Delay(Backoff, _time, abort).ConfigureAwait(false);
            }
        }
    }
}
