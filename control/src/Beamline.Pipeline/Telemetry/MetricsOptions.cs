namespace Beamline.Pipeline.Telemetry;

/// <summary>
/// The metrics' settings (<c>Beamline:Metrics</c>). The caps bound the label values a scrape can
/// carry: the first values seen are kept, later ones are reported as <see cref="PipelineMetrics.Other"/>.
/// </summary>
public sealed class MetricsOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Beamline:Metrics";

    /// <summary>
    /// Whether metrics are recorded and served on <c>/metrics</c>. Defaults to true; false records
    /// nothing and maps no scrape endpoint (the baseline of the telemetry benchmark).
    /// </summary>
    public bool Enabled { get; set; } = true;

    /// <summary>How many distinct tenants get their own label value. Defaults to 100.</summary>
    public int MaxTenants { get; set; } = 100;

    /// <summary>How many distinct policies get their own label value. Defaults to 100.</summary>
    public int MaxPolicies { get; set; } = 100;

    /// <summary>How many distinct providers get their own label value. Defaults to 100.</summary>
    public int MaxProviders { get; set; } = 100;

    /// <summary>How many distinct models get their own label value (tokens and cost). Defaults to 200.</summary>
    public int MaxModels { get; set; } = 200;

    /// <summary>How many distinct extensions get their own label value. Defaults to 100.</summary>
    public int MaxExtensions { get; set; } = 100;

    /// <summary>How many distinct block pools get their own label value (a block names its pool). Defaults to 100.</summary>
    public int MaxPools { get; set; } = 100;

    /// <summary>
    /// Whether <c>GET /metrics</c> asks for the admin key (<c>Authorization: Bearer</c>), as the
    /// admin API does. Defaults to false: most scrapers send no credentials, so the endpoint is
    /// open on the addresses the control plane listens on.
    /// </summary>
    public bool RequireAdminKey { get; set; }
}
