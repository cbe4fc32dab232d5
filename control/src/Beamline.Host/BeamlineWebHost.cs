using System.Text.Json;
using Beamline.Dispatch;
using Beamline.Host.Activity;
using Beamline.Host.Audit;
using Beamline.Host.Blocks;
using Beamline.Host.Dashboard;
using Beamline.Host.Extensions;
using Beamline.Host.Health;
using Beamline.Host.Http;
using Beamline.Host.Metrics;
using Beamline.Host.Routing;
using Beamline.Host.State;
using Beamline.Host.Usage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using HttpProtocols = Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Beamline.Host;

/// <summary>
/// Builds the control plane's web host: Kestrel (HTTP/1.1 and an h2c gRPC endpoint), dispatch,
/// the NATS connection, tenancy, CP1 decide (HTTP and NATS) and the HTTP API.
/// </summary>
public static class BeamlineWebHost
{
    /// <summary>
    /// Builds the host. <paramref name="overrides"/> (from command-line flags) win over
    /// appsettings, <c>BEAMLINE_</c>-prefixed environment variables and <c>--config</c> files.
    /// </summary>
    public static WebApplication Build(string[] args, IReadOnlyDictionary<string, string?>? overrides = null, string? configFile = null)
    {
        var builder = WebApplication.CreateSlimBuilder(args);
        QuietRequestLogging(builder.Configuration);
        if (configFile is not null)
        {
            builder.Configuration.AddJsonFile(Path.GetFullPath(configFile), optional: false, reloadOnChange: false);
        }
        if (overrides is not null)
        {
            builder.Configuration.AddInMemoryCollection(overrides);
        }
        // State never lands in the working directory, nor anywhere others can write (refused here).
        var state = StateDirectories.Prepare(builder.Configuration);
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Beamline:Tenancy:DataDirectory"] = state.DataDirectory,
            ["Beamline:InProcess:FsRoot"] = state.FsRoot,
        });
        LogFormat.Apply(builder);
        builder.Services.AddSingleton(state);
        builder.Services.AddOptions<HostOptions>().Bind(builder.Configuration.GetSection(HostOptions.SectionName));
        var hostOptions = builder.Configuration.GetSection(HostOptions.SectionName).Get<HostOptions>() ?? new HostOptions();
        var grpcOptions = builder.Configuration.GetSection(GrpcOptions.SectionName).Get<GrpcOptions>() ?? new GrpcOptions();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = hostOptions.MaxRequestBytes + 1L;
            kestrel.Configure(Endpoints(hostOptions.Urls, grpcOptions.Urls));
        });

        // SIGTERM: stop taking work, let what is in flight finish within the timeout, exit 0.
        var shutdown = builder.Configuration.GetSection(ShutdownOptions.SectionName).Get<ShutdownOptions>() ?? new ShutdownOptions();
        builder.Services.AddOptions<ShutdownOptions>().Bind(builder.Configuration.GetSection(ShutdownOptions.SectionName));
        builder.Services.Configure<Microsoft.Extensions.Hosting.HostOptions>(host =>
        {
            host.ShutdownTimeout = shutdown.Timeout + TimeSpan.FromSeconds(2);
            host.ServicesStopConcurrently = true; // HTTP and NATS drain side by side
        });

        builder.Services.AddBeamlineDispatch(builder.Configuration, retryInitialConnect: true);
        builder.Services.AddBeamlineTenancy(builder.Configuration);
        builder.Services.AddBeamlineBudgets(builder.Configuration);
        builder.Services.AddBeamlineSharedState(builder.Configuration);
        // The audit chain beside the tenancy database (audit.db, audit.head in the data directory).
        builder.Services.AddBeamlineAudit(builder.Configuration);
        // The activity bus and the extension registry first: the pipeline takes them (otherwise a
        // sink that drops all and a registry without entries).
        builder.Services.AddBeamlineActivity(builder.Configuration);
        builder.Services.AddBeamlineExtensionRegistry(builder.Configuration, state.DataDirectory);
        builder.Services.AddBeamlineMetrics(builder.Configuration);
        builder.Services.AddBeamlineTracing(builder.Configuration);
        builder.Services.AddBeamlineWorkers(builder.Configuration);
        builder.Services.AddBeamlineUsage(builder.Configuration);
        builder.Services.AddBeamlineExperiments(builder.Configuration);
        builder.Services.AddBeamlineDecide(builder.Configuration);
        builder.Services.AddBeamlineDashboard(builder.Configuration);
        builder.Services.AddBeamlineReplay(builder.Configuration, state.DataDirectory);
        builder.Services.AddGrpc(grpc => grpc.ResponseCompressionAlgorithm = "gzip");
        builder.Services.AddGrpcReflection();
        builder.Services.AddCp2(hostOptions);
        builder.Services.AddGrpcHealthChecks().AddCheck<NatsHealthCheck>("nats");

        var app = builder.Build();
        app.UseExceptionHandler(errors => errors.Run(WriteUnhandledAsync));
        app.UseClientAbortHandling();
        // Inside the exception handler: a change that failed is recorded with its 500.
        app.UseAdminAudit();
        app.MapHealthEndpoints();
        app.MapBeamlineMetrics();
        app.MapGrpcHealthChecksService();
        app.MapGrpcReflectionService();
        app.MapCp2();
        app.MapBlockEndpoints();
        app.MapDecideEndpoints();
        Beamline.Host.Gateway.OpenAIEndpoints.MapOpenAIEndpoints(app);
        Beamline.Host.Gateway.AnthropicEndpoints.MapAnthropicEndpoints(app);
        app.MapRouterAdminEndpoints();
        Beamline.Host.Replay.ReplayEndpoints.MapReplayEndpoints(app);
        Beamline.Host.Workers.WorkerEndpoints.MapWorkerEndpoints(app);
        app.MapActivityEndpoints();
        app.MapUsageEndpoints();
        app.MapExtensionAdminEndpoints();
        app.MapTenancyAdmin();
        app.MapDashboard();
        app.MapAuditEndpoints();
        Beamline.Host.Experiments.ExperimentEndpoints.MapExperimentEndpoints(app);
        app.Lifetime.ApplicationStarted.Register(() => state.Log(app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Beamline.Host")));
        app.Lifetime.ApplicationStarted.Register(() => ConfiguredKeys.Log(app.Configuration,
            app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Beamline.Host"), hostOptions.Urls.Split(';')[0]));
        return app;
    }

    // Kestrel's endpoints: the HTTP URLs (HTTP/1.1) and the gRPC URLs (HTTP/2 only).
    private static IConfiguration Endpoints(string httpUrls, string grpcUrls)
    {
        var endpoints = new Dictionary<string, string?>(StringComparer.Ordinal);
        var split = StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries;
        var i = 0;
        foreach (var url in httpUrls.Split(';', split))
        {
            endpoints[$"Endpoints:http{i++}:Url"] = url;
        }
        foreach (var url in grpcUrls.Split(';', split))
        {
            endpoints[$"Endpoints:grpc{i}:Url"] = url;
            endpoints[$"Endpoints:grpc{i++}:Protocols"] = nameof(HttpProtocols.Http2);
        }
        return new ConfigurationBuilder().AddInMemoryCollection(endpoints).Build();
    }

    private static Task WriteUnhandledAsync(HttpContext context)
    {
        // The client gets the CP1 shape, never a stack trace; the exception is already logged.
        var error = context.Features.Get<IExceptionHandlerFeature>()?.Error;
        var status = error is BadHttpRequestException bad ? bad.StatusCode : StatusCodes.Status500InternalServerError;
        var code = status < 500 ? Cp1Error.InvalidRequest : Cp1Error.Internal;
        var message = status < 500 ? error!.Message : "internal error";
        return JsonResponses.WriteAsync(context, status, output =>
        {
            using var writer = new Utf8JsonWriter(output);
            Cp1Error.Write(writer, code, message);
        });
    }

    // ASP.NET Core logs four lines at Information per HTTP request and gRPC call (request starting,
    // endpoint executing and executed, request finished): on the console that doubled the server's
    // CPU per unary gRPC decide. Warning by default, as ASP.NET's own templates set it; as the
    // first configuration source, any other (a --config file, Logging__LogLevel__... variables)
    // sets it back.
    private static void QuietRequestLogging(IConfigurationBuilder configuration)
        => configuration.Sources.Insert(0, new Microsoft.Extensions.Configuration.Memory.MemoryConfigurationSource
        {
            InitialData = [new("Logging:LogLevel:Microsoft.AspNetCore", "Warning")],
        });
}
