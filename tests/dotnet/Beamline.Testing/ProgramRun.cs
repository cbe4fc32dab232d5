using System.Diagnostics;

namespace Beamline.Testing;

/// <summary>Runs one of the project's programs to its end, with stdout and stderr apart (a command's exit code and its one error line).</summary>
public static class ProgramRun
{
    /// <summary>Runs <c>out/bin/<paramref name="program"/></c> with <paramref name="args"/>; killed after 60 s.</summary>
    public static async Task<(int Code, string Stdout, string Stderr)> RunAsync(string program, params string[] args)
    {
        var info = new ProcessStartInfo(RepoPaths.Program(program))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        return (process.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
    }
}
