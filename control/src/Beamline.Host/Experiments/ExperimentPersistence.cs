using Beamline.Experiments;
using Beamline.Host.State;
using Beamline.Tenancy;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Beamline.Host.Experiments;

/// <summary>
/// Keeps experiments across restarts: loads <see cref="ExperimentStateFile"/> into the registry at
/// start (before traffic), saves it every few seconds while something changed, and once more when
/// the host is disposed (after Kestrel's drain, so the last requests' figures are in it). A
/// promoted winner therefore keeps its traffic after a restart, and a running experiment resumes
/// its looks where it was (at most the last seconds of observations are lost in a crash).
/// </summary>
internal sealed partial class ExperimentPersistence(IServiceProvider services, ExperimentRegistry registry, ILogger<ExperimentPersistence> logger)
    : IHostedService, IDisposable
{
    private static readonly TimeSpan SaveEvery = TimeSpan.FromSeconds(5);
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _saveLock = new();
    private string _path = "";
    private long _savedVersion = -1;
    private Task _saving = Task.CompletedTask;
    private int _disposed;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var directory = services.GetService<StateDirectories>()?.DataDirectory
            ?? services.GetRequiredService<IOptions<TenancyOptions>>().Value.DataDirectory;
        _path = Path.Combine(directory, ExperimentStateFile.FileName);
        var saved = ExperimentStateFile.Read(_path); // a damaged file fails the start rather than losing experiments silently
        registry.Restore(saved);
        _savedVersion = registry.Version;
        if (saved.Count > 0)
        {
            LogRestored(saved.Count, _path);
        }
        _saving = Task.Run(SaveLoopAsync, CancellationToken.None);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    // The container disposes this once per registration (itself and as a hosted service): the second is a no-op.
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _stopping.Cancel();
        _saving.Wait(TimeSpan.FromSeconds(5));
        Save();
        _stopping.Dispose();
    }

    private async Task SaveLoopAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(SaveEvery, _stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            Save();
        }
    }

    private void Save()
    {
        if (_path.Length == 0)
        {
            return;
        }
        lock (_saveLock)
        {
            var version = registry.Version;
            if (version == _savedVersion)
            {
                return;
            }
            try
            {
                ExperimentStateFile.Write(_path, registry.Save());
                _savedVersion = version;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                LogSaveFailed(e, _path); // tried again at the next change
            }
        }
    }

    [LoggerMessage(1, LogLevel.Information, "Restored {Count} experiments from {Path}.")]
    private partial void LogRestored(int count, string path);

    [LoggerMessage(2, LogLevel.Warning, "Could not save the experiments to {Path}.")]
    private partial void LogSaveFailed(Exception exception, string path);
}
