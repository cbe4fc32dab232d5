using Beamline.Dispatch;
using Beamline.Host.Tracing;
using Beamline.Pipeline.Telemetry;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using NATS.Client.OpenTelemetry;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers OpenTelemetry tracing when an exporter is configured.</summary>
public static class TracingServiceCollectionExtensions
{
    /// <summary>
    /// When the OpenTelemetry configuration names a trace exporter (<see cref="TracingOptions.ExporterConfigured"/>):
    /// a tracer provider over Beamline's spans (<see cref="PipelineTracing"/>), ASP.NET Core's server
    /// spans and HttpClient's client spans, sampled parent-based with <c>Beamline:Tracing:SampleRatio</c>
    /// for new traces, exported over OTLP; and a span around every dispatched block. Otherwise
    /// nothing: no listener exists, so every span start is a branch that returns null.
    /// </summary>
    public static IServiceCollection AddBeamlineTracing(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        if (!TracingOptions.ExporterConfigured(configuration) || services.Any(d => d.ServiceType == typeof(TracingOptions)))
        {
            return services;
        }
        var section = configuration.GetSection(TracingOptions.SectionName);
        services.AddOptions<TracingOptions>().Bind(section).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TracingOptions>, TracingOptionsValidator>());
        services.AddSingleton<TracingOptions>(); // marks the registration done
        var options = section.Get<TracingOptions>() ?? new TracingOptions();
        // Blocks are traced around whichever dispatcher AddBeamlineDispatch (and metrics) chose.
        if (services.LastOrDefault(d => d.ServiceType == typeof(IBlockDispatcher)) is { } dispatcher)
        {
            services.Replace(ServiceDescriptor.Singleton<IBlockDispatcher>(sp => new TracedBlockDispatcher(Resolve(sp, dispatcher))));
        }
        services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("beamline"))
            .WithTracing(tracing =>
            {
                tracing
                    .SetSampler(new ParentBasedSampler(new TraceIdRatioBasedSampler(Math.Clamp(options.SampleRatio, 0, 1))))
                    .AddSource(PipelineTracing.SourceName)
                    .AddAspNetCoreInstrumentation(aspNetCore => aspNetCore.Filter = RecordsRequest)
                    .AddHttpClientInstrumentation()
                    .AddOtlpExporter();
                if (options.NatsClientSpans)
                {
                    tracing.AddNatsClientInstrumentation();
                }
            });
        return services;
    }

    // Scrapes and probes are not requests worth a trace.
    private static bool RecordsRequest(HttpContext context)
        => !context.Request.Path.StartsWithSegments("/metrics", StringComparison.Ordinal)
           && !context.Request.Path.StartsWithSegments("/healthz", StringComparison.Ordinal);

    private static IBlockDispatcher Resolve(IServiceProvider services, ServiceDescriptor descriptor) => descriptor switch
    {
        { ImplementationFactory: { } factory } => (IBlockDispatcher)factory(services),
        { ImplementationInstance: IBlockDispatcher instance } => instance,
        { ImplementationType: { } type } => (IBlockDispatcher)ActivatorUtilities.CreateInstance(services, type),
        _ => throw new InvalidOperationException("the block dispatcher's registration cannot be wrapped"),
    };
}
