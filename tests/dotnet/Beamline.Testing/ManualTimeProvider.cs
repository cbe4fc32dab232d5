namespace Beamline.Testing;

/// <summary>A clock that moves only when a test advances it.</summary>
public sealed class ManualTimeProvider : TimeProvider
{
    private long _ticks = TimeSpan.FromDays(1).Ticks;

    /// <inheritdoc />
    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    /// <inheritdoc />
    public override long GetTimestamp() => Interlocked.Read(ref _ticks);

    /// <inheritdoc />
    public override DateTimeOffset GetUtcNow() => new(new DateTime(2025, 1, 1, 0, 0, 0, DateTimeKind.Utc).Ticks + Interlocked.Read(ref _ticks), TimeSpan.Zero);

    /// <summary>Moves the clock forward.</summary>
    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
}
