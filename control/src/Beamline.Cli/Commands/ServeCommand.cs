using System.CommandLine;
using Beamline.Host;
using Beamline.Tenancy;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using HostingAbstractionsExtensions = Microsoft.Extensions.Hosting.HostingAbstractionsHostExtensions;

namespace Beamline.Cli.Commands;

/// <summary><c>beamline serve</c>: runs the control plane's HTTP host until SIGTERM/Ctrl-C.</summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var nats = CommonOptions.Nats();
        var config = CommonOptions.Config();
        var urls = new Option<string?>("--urls")
        {
            Description = "Where to listen (default http://127.0.0.1:8080; Beamline:Http:Urls).",
        };
        var grpcUrls = new Option<string?>("--grpc-urls")
        {
            Description = "Where gRPC listens, HTTP/2 cleartext (default http://127.0.0.1:8081; empty: off; Beamline:Grpc:Urls).",
        };
        var dataDir = new Option<DirectoryInfo?>("--data-dir")
        {
            Description = "Where state is kept: the tenancy database and the in-process sandboxes (default $XDG_DATA_HOME/beamline, else ~/.local/share/beamline; Beamline:Tenancy:DataDirectory).",
        };
        var command = new Command("serve", "Run the control plane (HTTP on Kestrel; CP1 decide on HTTP and, with --nats, on NATS); blocks run in-process unless --nats is given.")
        {
            nats, config, urls, grpcUrls, dataDir,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var overrides = CommonOptions.Overrides(parse.GetValue(nats));
            if (parse.GetValue(urls) is { Length: > 0 } listen)
            {
                overrides[$"{HostOptions.SectionName}:Urls"] = listen;
            }
            if (parse.GetValue(grpcUrls) is { } grpc)
            {
                overrides[$"{GrpcOptions.SectionName}:Urls"] = grpc;
            }
            if (parse.GetValue(dataDir) is { } directory)
            {
                overrides["Beamline:Tenancy:DataDirectory"] = directory.FullName;
            }
            WebApplication? app = null;
            try
            {
                app = BeamlineWebHost.Build([], overrides, parse.GetValue(config)?.FullName);
                // Options and the tenancy definitions are checked before the host starts: a host
                // that fails to start logs the error with its stack trace.
                app.Services.GetService<IStartupValidator>()?.Validate();
                await app.Services.GetRequiredService<TenantDirectory>().InitializeAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (ConfigurationErrors.Describe(e) is { } line)
            {
                if (app is not null)
                {
                    await app.DisposeAsync().ConfigureAwait(false);
                }
                await Console.Error.WriteLineAsync($"beamline serve: {line}").ConfigureAwait(false);
                return ConfigurationErrors.ExitCode;
            }
            // The host handles SIGTERM itself: graceful shutdown within Beamline:Shutdown:TimeoutSeconds.
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
            await HostingAbstractionsExtensions.WaitForShutdownAsync(app, cancellationToken).ConfigureAwait(false);
            await app.DisposeAsync().ConfigureAwait(false);
            return 0;
        });
        return command;
    }
}
