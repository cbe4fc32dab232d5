using System.Globalization;
using Beamline.Chaos.Cluster;
using Beamline.Chaos.Load;

namespace Beamline.Chaos.Scenarios;

/// <summary>What a scenario's <see cref="ChaosScenario.InjectAsync"/> works with: the cluster, the clock of the load, a timeline, probes.</summary>
public sealed class ScenarioContext(ChaosCluster cluster, LoadPaths paths, ChaosOptions options, long startTimestamp, TimeProvider time)
{
    private readonly List<string> _timeline = [];

    /// <summary>The running processes.</summary>
    public ChaosCluster Cluster => cluster;

    /// <summary>The load paths (for probes).</summary>
    public LoadPaths Paths => paths;

    /// <summary>The run's options.</summary>
    public ChaosOptions Options => options;

    /// <summary>Time since the load started.</summary>
    public TimeSpan Elapsed => time.GetElapsedTime(startTimestamp);

    /// <summary>Time from NATS back to full service, when the scenario measured it.</summary>
    public TimeSpan? Recovery { get; set; }

    /// <summary>What happened when, in order (for the report).</summary>
    public IReadOnlyList<string> Timeline
    {
        get
        {
            lock (_timeline)
            {
                return [.. _timeline];
            }
        }
    }

    /// <summary>Adds <paramref name="text"/> to the timeline at the current time and prints it.</summary>
    public void Note(string text)
    {
        var line = string.Create(CultureInfo.InvariantCulture, $"t={Elapsed.TotalSeconds:F1}s {text}");
        lock (_timeline)
        {
            _timeline.Add(line);
        }
        Console.Error.WriteLine($"    {line}");
    }

    /// <summary>Waits until <paramref name="seconds"/> after the load started.</summary>
    public async Task At(double seconds, CancellationToken cancellationToken)
    {
        var left = TimeSpan.FromSeconds(seconds) - Elapsed;
        if (left > TimeSpan.Zero)
        {
            await Task.Delay(left, time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// How long after <paramref name="since"/> (a value of <see cref="Elapsed"/>) every probed path
    /// answers ok again: a probe request on each of <paramref name="probed"/> every 100 ms, each
    /// with its own id (never counted in the table), until one sent after <paramref name="since"/>
    /// succeeds on every path; null when that has not happened within <paramref name="limit"/>.
    /// </summary>
    public async Task<TimeSpan?> MeasureRecoveryAsync(TimeSpan since, IReadOnlyList<ILoadPath> probed, TimeSpan limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(probed);
        var firstOk = new TimeSpan?[probed.Count];
        var probes = new List<Task>();
        var sequence = 0;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        stop.CancelAfter(limit);
        try
        {
            while (!stop.IsCancellationRequested && firstOk.Any(t => t is null))
            {
                for (var i = 0; i < probed.Count; i++)
                {
                    if (firstOk[i] is not null)
                    {
                        continue;
                    }
                    var index = i;
                    var id = string.Create(CultureInfo.InvariantCulture, $"probe-{probed[i].Name}-{++sequence}");
                    probes.Add(Task.Run(async () =>
                    {
                        var outcome = await probed[index].SendAsync(id, stop.Token).ConfigureAwait(false);
                        if (outcome.Answer == Answer.Ok)
                        {
                            var at = Elapsed - since;
                            lock (firstOk)
                            {
                                firstOk[index] = firstOk[index] is { } earlier && earlier < at ? earlier : at;
                            }
                        }
                    }, CancellationToken.None));
                }
                await Task.Delay(100, stop.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // The limit passed.
        }
        await stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await Task.WhenAll(probes).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Probes still waiting when the limit passed.
        }
        lock (firstOk)
        {
            return firstOk.Any(t => t is null) ? null : firstOk.Max();
        }
    }
}
