namespace Beamline.Host;

/// <summary>The HTTP host. Bound from <c>Beamline:Http</c>.</summary>
public sealed class HostOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Beamline:Http";

    /// <summary>Where Kestrel listens. Defaults to http://127.0.0.1:8080 (loopback only).</summary>
    public string Urls { get; set; } = "http://127.0.0.1:8080";

    /// <summary>Request bodies longer than this are refused before parsing. Defaults to 8 MiB.</summary>
    public int MaxRequestBytes { get; set; } = 8 * 1024 * 1024;

    /// <summary>CP1 decide bodies (HTTP and NATS) longer than this are refused before parsing. Defaults to 1 MiB.</summary>
    public int MaxDecideRequestBytes { get; set; } = Beamline.Cp1.DecideCodec.DefaultMaxRequestBytes;

    /// <summary>
    /// Route-then-execute requests from NATS (<c>beamline.router.v1.execute</c>) one control plane
    /// runs at once; more are answered <c>quota_exceeded</c> at once. Defaults to 1024.
    /// </summary>
    public int MaxNatsExecutesInFlight { get; set; } = 1024;
}
