using System.CommandLine;
using Beamline.Host;
using Microsoft.AspNetCore.Builder;

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
        var command = new Command("serve", "Run the control plane (HTTP on Kestrel); blocks run in-process unless --nats is given.")
        {
            nats, config, urls,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var overrides = CommonOptions.Overrides(parse.GetValue(nats));
            if (parse.GetValue(urls) is { Length: > 0 } listen)
            {
                overrides[$"{HostOptions.SectionName}:Urls"] = listen;
            }
            var app = BeamlineWebHost.Build([], overrides, parse.GetValue(config)?.FullName);
            await app.RunAsync().ConfigureAwait(false);
            return 0;
        });
        return command;
    }
}
