using System.Diagnostics;

namespace Beamline.Interop.Tests.Infrastructure;

/// <summary>Compiles small C programs and shared libraries with the system's <c>cc</c> (against interop/include).</summary>
internal static class CCompiler
{
    /// <summary>Compiles <paramref name="source"/> into an executable or a shared library under a fresh temp folder.</summary>
    public static string Compile(string name, string source, bool sharedLibrary)
    {
        string dir = Directory.CreateTempSubdirectory("beamline-interop-tests-").FullName;
        string sourcePath = Path.Combine(dir, name + ".c");
        File.WriteAllText(sourcePath, source);
        string output = Path.Combine(dir, sharedLibrary ? $"lib{name}.so" : name);

        var args = new List<string> { "-std=c11", "-Wall", "-Werror", "-I", Repo.IncludeDir, "-o", output, sourcePath };
        if (sharedLibrary)
        {
            args.InsertRange(0, ["-shared", "-fPIC"]);
        }

        (int exitCode, string text) = Run("cc", args);
        if (exitCode != 0)
        {
            throw new InvalidOperationException($"cc failed ({exitCode}) compiling {sourcePath}:\n{text}");
        }

        return output;
    }

    /// <summary>Runs a program to completion, returning its exit code and its output (stdout, then stderr).</summary>
    public static (int ExitCode, string Output) Run(string program, IEnumerable<string> args)
    {
        var info = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        Process process;
        try
        {
            process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {program}.");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException($"Could not run '{program}': is a C compiler installed (Debian: build-essential)? {ex.Message}", ex);
        }

        using (process)
        {
            Task<string> stdout = process.StandardOutput.ReadToEndAsync();
            Task<string> stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromMinutes(1)))
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"{program} did not finish within a minute.");
            }

            return (process.ExitCode, stdout.Result + stderr.Result);
        }
    }
}
