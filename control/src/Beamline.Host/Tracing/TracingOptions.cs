using Microsoft.Extensions.Options;

namespace Beamline.Host.Tracing;

/// <summary>
/// Tracing settings (<c>Beamline:Tracing</c>). Where spans go is the standard OpenTelemetry
/// configuration: <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> (or <c>OTEL_EXPORTER_OTLP_TRACES_ENDPOINT</c>,
/// or <c>OTEL_TRACES_EXPORTER=otlp</c>) turns tracing on, <c>OTEL_EXPORTER_OTLP_PROTOCOL</c>,
/// <c>OTEL_SERVICE_NAME</c>, <c>OTEL_BSP_*</c> and the rest apply as usual. Without an exporter
/// tracing is not registered at all.
/// </summary>
public sealed class TracingOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Beamline:Tracing";

    /// <summary>
    /// The share of new traces recorded, 0 to 1 (a request that arrives with a <c>traceparent</c>
    /// follows its caller's decision instead). Defaults to 1.
    /// </summary>
    public double SampleRatio { get; set; } = 1.0;

    /// <summary>
    /// Also record the NATS client's own spans (every publish and delivery, NATS.Net's
    /// <c>NATS.Net</c> source), beside Beamline's. Defaults to false: Beamline's spans already cover
    /// the requests it sends and serves over NATS, and the client's would add one for every
    /// heartbeat and assignment message too.
    /// </summary>
    public bool NatsClientSpans { get; set; }

    /// <summary>Whether the OpenTelemetry configuration names an exporter for traces.</summary>
    public static bool ExporterConfigured(Microsoft.Extensions.Configuration.IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var exporter = configuration["OTEL_TRACES_EXPORTER"];
        if (string.Equals(exporter, "none", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }
        return string.Equals(exporter, "otlp", StringComparison.OrdinalIgnoreCase)
            || !string.IsNullOrWhiteSpace(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"])
            || !string.IsNullOrWhiteSpace(configuration["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]);
    }
}

/// <summary>Refuses a sample ratio outside 0..1.</summary>
internal sealed class TracingOptionsValidator : IValidateOptions<TracingOptions>
{
    public ValidateOptionsResult Validate(string? name, TracingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.SampleRatio is >= 0 and <= 1
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail($"{TracingOptions.SectionName}:SampleRatio must be between 0 and 1 (got {options.SampleRatio})");
    }
}
