using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Beamline.Testing;

/// <summary>
/// A real process started by a test: output captured line by line (for waiting on a ready line
/// and for failure messages), SIGTERM for graceful stops, killed on dispose.
/// </summary>
public sealed class ChildProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly SemaphoreSlim _lineArrived = new(0);

    private ChildProcess(Process process)
    {
        _process = process;
    }

    /// <summary>The process id.</summary>
    public int Id => _process.Id;

    /// <summary>True until the process exits.</summary>
    public bool IsRunning => !_process.HasExited;

    /// <summary>Everything the process printed so far (stdout and stderr).</summary>
    public string Output => string.Join('\n', _lines);

    /// <summary>The exit code, once exited.</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>Starts <paramref name="path"/> with <paramref name="args"/>.</summary>
    public static ChildProcess Start(string path, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null,
        string? workingDirectory = null)
    {
        var info = new ProcessStartInfo(path)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? "",
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        if (environment is not null)
        {
            foreach (var (key, value) in environment)
            {
                info.Environment[key] = value;
            }
        }
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var child = new ChildProcess(process);
        process.OutputDataReceived += (_, e) => child.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => child.OnLine(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    private void OnLine(string? line)
    {
        if (line is not null)
        {
            _lines.Enqueue(line);
            _lineArrived.Release();
        }
    }

    /// <summary>Waits for an output line containing <paramref name="text"/>; fails with the output so far.</summary>
    public async Task<string> WaitForLineAsync(string text, TimeSpan timeout)
    {
        var until = DateTime.UtcNow + timeout;
        while (true)
        {
            foreach (var line in _lines)
            {
                if (line.Contains(text, StringComparison.Ordinal))
                {
                    return line;
                }
            }
            if (_process.HasExited)
            {
                // Drain the last lines the reader may still deliver.
                _process.WaitForExit();
                foreach (var line in _lines)
                {
                    if (line.Contains(text, StringComparison.Ordinal))
                    {
                        return line;
                    }
                }
                throw new InvalidOperationException(
                    $"{_process.StartInfo.FileName} exited with {_process.ExitCode} before printing '{text}'. Output:\n{Output}");
            }
            var left = until - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
            {
                throw new TimeoutException($"{_process.StartInfo.FileName} did not print '{text}' within {timeout}. Output:\n{Output}");
            }
            await _lineArrived.WaitAsync(left < TimeSpan.FromMilliseconds(100) ? left : TimeSpan.FromMilliseconds(100)).ConfigureAwait(false);
        }
    }

    /// <summary>Sends SIGTERM (a graceful stop).</summary>
    public void Terminate()
    {
        if (!_process.HasExited && kill(_process.Id, 15) != 0)
        {
            throw new InvalidOperationException($"kill({_process.Id}, SIGTERM) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    /// <summary>
    /// Sends SIGSTOP: the process stops answering anything (as one cut off from the network or
    /// frozen by its host would) without dying; <see cref="Resume"/> lets it go on.
    /// </summary>
    public void Pause() => Signal(19, "SIGSTOP");

    /// <summary>Sends SIGCONT to a process stopped by <see cref="Pause"/>.</summary>
    public void Resume() => Signal(18, "SIGCONT");

    private void Signal(int signal, string name)
    {
        if (!_process.HasExited && kill(_process.Id, signal) != 0)
        {
            throw new InvalidOperationException($"kill({_process.Id}, {name}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    /// <summary>Waits for the process to exit and returns its exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"{_process.StartInfo.FileName} did not exit within {timeout}. Output:\n{Output}");
        }
        return _process.ExitCode;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync().ConfigureAwait(false);
        }
        _process.Dispose();
        _lineArrived.Dispose();
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);
}
