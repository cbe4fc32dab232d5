namespace Beamline.Host;

/// <summary>Graceful shutdown. Bound from <c>Beamline:Shutdown</c>.</summary>
public sealed class ShutdownOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Beamline:Shutdown";

    /// <summary>
    /// On SIGTERM the control plane stops taking work (HTTP and NATS) and gives what is in flight
    /// this long to finish; what is left is cancelled and answered. Defaults to 10.
    /// </summary>
    public int TimeoutSeconds { get; set; } = 10;

    /// <summary><see cref="TimeoutSeconds"/> as a span (at least 1 s).</summary>
    public TimeSpan Timeout => TimeSpan.FromSeconds(Math.Max(1, TimeoutSeconds));
}
