namespace Beamline.Routing;

/// <summary>The random numbers the weighted strategy draws; inject a seeded one for reproducible tests.</summary>
public interface IRandomSource
{
    /// <summary>A number in [0, 1).</summary>
    double NextDouble();
}

/// <summary>
/// A thread-safe, allocation-free source. With a seed it is reproducible (SplitMix64 over an
/// atomically advanced counter: the same seed gives the same sequence of draws, whichever
/// threads draw them); without one it is seeded from the system's randomness.
/// </summary>
public sealed class RandomSource : IRandomSource
{
    private long _state;

    /// <summary>A source seeded from <see cref="Random.Shared"/>.</summary>
    public RandomSource()
        : this(Random.Shared.NextInt64())
    {
    }

    /// <summary>A reproducible source.</summary>
    public RandomSource(long seed) => _state = seed;

    /// <summary>A shared unseeded source.</summary>
    public static RandomSource Shared { get; } = new();

    /// <inheritdoc />
    public double NextDouble()
    {
        var z = unchecked((ulong)Interlocked.Add(ref _state, unchecked((long)0x9E3779B97F4A7C15UL)));
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        z ^= z >> 31;
        return (z >> 11) * (1.0 / (1UL << 53));
    }
}
