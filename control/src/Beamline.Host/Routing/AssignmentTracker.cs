using System.Collections.Concurrent;
using System.Text.Json;
using Beamline.Tenancy.Quotas;

namespace Beamline.Host.Routing;

/// <summary>
/// The quota of pushed assignments. A push is outstanding work: the decide's in-flight slots
/// (<c>max_concurrent_requests</c> at the key, team and tenant levels) stay taken until the
/// worker's result for that <c>assignment_id</c> arrives on <see cref="ResultSubject"/> or the
/// assignment's <c>deadline_ms</c> passes, whichever comes first. The decide itself counted the
/// one request for <c>requests_per_minute</c>.
/// </summary>
internal sealed class AssignmentTracker(TimeProvider time) : IDisposable
{
    /// <summary>Where CP1 workers publish the ExecResult of an assignment.</summary>
    public const string ResultSubject = "caf.exec.result.v1";

    private readonly ConcurrentDictionary<string, Outstanding> _outstanding = new(StringComparer.Ordinal);

    /// <summary>Assignments whose slots are still held (for tests and metrics).</summary>
    public int Count => _outstanding.Count;

    /// <summary>Holds <paramref name="lease"/> for the assignment until its result or <paramref name="deadline"/>.</summary>
    public void Track(string assignmentId, IDisposable? lease, TimeSpan deadline)
    {
        var outstanding = new Outstanding(lease);
        if (!_outstanding.TryAdd(assignmentId, outstanding))
        {
            lease?.Dispose(); // ids are fresh GUIDs: never, but never leak a slot either
            return;
        }
        outstanding.Timer = time.CreateTimer(static state => ((AssignmentTrackerEntry)state!).Expire(), new AssignmentTrackerEntry(this, assignmentId),
            deadline, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Gives back the slots of <paramref name="assignmentId"/>; false when it is not (or no longer) held.</summary>
    public bool Complete(string assignmentId)
    {
        if (!_outstanding.TryRemove(assignmentId, out var outstanding))
        {
            return false;
        }
        outstanding.Release();
        return true;
    }

    /// <summary>Gives back the slots of the assignment a CP1 ExecResult (<c>{"assignment_id", ...}</c>) answers.</summary>
    public bool CompleteFromResult(ReadOnlySpan<byte> result)
    {
        if (_outstanding.IsEmpty)
        {
            return false;
        }
        try
        {
            var reader = new Utf8JsonReader(result);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isId = reader.ValueTextEquals("assignment_id"u8);
                if (!reader.Read())
                {
                    return false;
                }
                if (isId)
                {
                    return reader.TokenType == JsonTokenType.String && Complete(reader.GetString()!);
                }
                reader.Skip();
            }
        }
        catch (JsonException)
        {
            // Not a result this control plane can read: nothing to give back.
        }
        return false;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var id in _outstanding.Keys)
        {
            Complete(id);
        }
    }

    private sealed class Outstanding(IDisposable? lease)
    {
        private int _released;

        public ITimer? Timer { get; set; }

        public void Release()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                Timer?.Dispose();
                lease?.Dispose();
            }
        }
    }

    private sealed record AssignmentTrackerEntry(AssignmentTracker Tracker, string AssignmentId)
    {
        public void Expire() => Tracker.Complete(AssignmentId);
    }
}
