using System.CommandLine;
using Beamline.Cli.Commands;

var root = new RootCommand("Beamline: AI request router and execution control plane.")
{
    ServeCommand.Create(),
    ExecCommand.Create(),
    BenchCommand.Create(),
    PolicyCommand.Create(),
    ReplayCommand.Create(),
    AuditCommand.Create(),
};
// SIGTERM and Ctrl-C belong to the commands: `serve` drains within Beamline:Shutdown:TimeoutSeconds
// (System.CommandLine would otherwise end the process 2 s after the signal).
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null }).ConfigureAwait(false);
