using Beamline.Dispatch;
using Beamline.Host.Metrics;
using Beamline.Pipeline.Telemetry;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the control plane's metrics and their Prometheus exporter.</summary>
public static class MetricsServiceCollectionExtensions
{
    /// <summary>
    /// Adds <see cref="PipelineMetrics"/> (settings from <c>Beamline:Metrics</c>) and an OpenTelemetry
    /// meter provider that listens to the <c>Beamline</c> meter and ASP.NET Core's, and serves them
    /// to Prometheus (<c>MapBeamlineMetrics</c> maps the scrape endpoint).
    /// </summary>
    public static IServiceCollection AddBeamlineMetrics(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddMetrics();
        services.AddOptions<MetricsOptions>().Bind(configuration.GetSection(MetricsOptions.SectionName)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<MetricsOptions>, MetricsOptionsValidator>());
        if (!configuration.GetValue($"{MetricsOptions.SectionName}:{nameof(MetricsOptions.Enabled)}", true))
        {
            return services; // nothing recorded, nothing exported: MapBeamlineMetrics maps no endpoint
        }
        var first = !services.Any(d => d.ServiceType == typeof(PipelineMetrics));
        services.TryAddSingleton<PipelineMetrics>();
        services.TryAddSingleton<BreakerGauges>();
        // Blocks are measured around whichever dispatcher AddBeamlineDispatch chose (once).
        if (first && services.LastOrDefault(d => d.ServiceType == typeof(IBlockDispatcher)) is { ImplementationFactory: { } dispatcher })
        {
            services.Replace(ServiceDescriptor.Singleton<IBlockDispatcher>(sp =>
                new MeteredBlockDispatcher((IBlockDispatcher)dispatcher(sp), sp.GetRequiredService<PipelineMetrics>())));
        }
        services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("beamline"))
            .WithMetrics(metrics => metrics
            .AddMeter(PipelineMetrics.MeterName)
            .AddAspNetCoreInstrumentation()
            .AddPrometheusExporter());
        return services;
    }
}

/// <summary>Refuses negative label caps.</summary>
internal sealed class MetricsOptionsValidator : IValidateOptions<MetricsOptions>
{
    public ValidateOptionsResult Validate(string? name, MetricsOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.MaxTenants < 0 || options.MaxPolicies < 0 || options.MaxProviders < 0 || options.MaxExtensions < 0 || options.MaxPools < 0)
        {
            return ValidateOptionsResult.Fail("Beamline:Metrics: MaxTenants, MaxPolicies, MaxProviders, MaxExtensions and MaxPools must not be negative");
        }
        return ValidateOptionsResult.Success;
    }
}
