using System.CommandLine;
using Beamline.Cli.Commands;

var root = new RootCommand("Beamline: AI request router and execution control plane.")
{
    ServeCommand.Create(),
    ExecCommand.Create(),
    BenchCommand.Create(),
    PolicyCommand.Create(),
};
return await root.Parse(args).InvokeAsync().ConfigureAwait(false);
