using System.Text.Json;
using Beamline.Dispatch;
using Beamline.Host.Blocks;
using Beamline.Host.Http;
using Beamline.Host.Routing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Beamline.Host;

/// <summary>Builds the control plane's web host: Kestrel, dispatch, tenancy, CP1 decide (HTTP and NATS) and the HTTP API.</summary>
public static class BeamlineWebHost
{
    /// <summary>
    /// Builds the host. <paramref name="overrides"/> (from command-line flags) win over
    /// appsettings, <c>BEAMLINE_</c>-prefixed environment variables and <c>--config</c> files.
    /// </summary>
    public static WebApplication Build(string[] args, IReadOnlyDictionary<string, string?>? overrides = null, string? configFile = null)
    {
        var builder = WebApplication.CreateSlimBuilder(args);
        if (configFile is not null)
        {
            builder.Configuration.AddJsonFile(Path.GetFullPath(configFile), optional: false, reloadOnChange: false);
        }
        if (overrides is not null)
        {
            builder.Configuration.AddInMemoryCollection(overrides);
        }
        builder.Services.AddOptions<HostOptions>().Bind(builder.Configuration.GetSection(HostOptions.SectionName));
        var hostOptions = builder.Configuration.GetSection(HostOptions.SectionName).Get<HostOptions>() ?? new HostOptions();
        builder.WebHost.UseUrls(hostOptions.Urls);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = hostOptions.MaxRequestBytes + 1L;
        });
        builder.Services.AddBeamlineDispatch(builder.Configuration);
        builder.Services.AddBeamlineTenancy(builder.Configuration);
        builder.Services.AddBeamlineDecide(builder.Configuration);

        var app = builder.Build();
        app.UseExceptionHandler(errors => errors.Run(WriteUnhandledAsync));
        app.MapGet("/healthz", (IBlockDispatcher dispatcher) => Results.Json(
            new HealthResponse("ok", dispatcher.Mode), HostJsonContext.Default.HealthResponse));
        app.MapBlockEndpoints();
        app.MapDecideEndpoints();
        app.MapRouterAdminEndpoints();
        app.MapTenancyAdmin();
        app.Lifetime.ApplicationStarted.Register(() => ConfiguredKeys.Log(app.Configuration,
            app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Beamline.Host"), hostOptions.Urls.Split(';')[0]));
        return app;
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
}
