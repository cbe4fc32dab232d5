using System.Buffers;
using Beamline.Interop.Exec;
using Beamline.Worker.V2;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Beamline.Dispatch.InProcess;

/// <summary>
/// The embedded default: blocks run in this process through libbeamline_exec (the same
/// executors the worker runs), admitted per pool like on a worker.
/// </summary>
public sealed partial class InProcessBlockDispatcher : IBlockDispatcher, IDisposable
{
    private readonly ExecRuntime _runtime;
    private readonly PoolLimiter _pools;
    private readonly ILogger<InProcessBlockDispatcher> _logger;

    /// <summary>Creates the runtime, registers the built-in executors and loads the configured plugins.</summary>
    public InProcessBlockDispatcher(IOptions<DispatchOptions> options, ILogger<InProcessBlockDispatcher> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        _logger = logger;
        var inProcess = options.Value.InProcess;
        string? executorConfig = inProcess.ExecutorConfigFile is { Length: > 0 } configFile
            ? File.ReadAllText(configFile)
            : null;
        _runtime = ExecRuntime.Create(configJson: executorConfig);
        _pools = new PoolLimiter(inProcess.Pools, inProcess.QueueLimit);
        if (inProcess.PluginDirectory is { Length: > 0 } dir)
        {
            LoadPlugins(dir);
        }
    }

    /// <inheritdoc />
    public string Mode => DispatchModes.InProcess;

    /// <summary>The block types this process can run.</summary>
    public IReadOnlyList<string> Executors => _runtime.ListExecutors();

    /// <inheritdoc />
    public ValueTask<ExecResult> DispatchAsync(ExecRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var admission = _pools.EnterAsync(request.Pool, cancellationToken);
        return admission.IsCompletedSuccessfully
            ? ValueTask.FromResult(RunAdmitted(request, admission.Result))
            : WaitThenRunAsync(request, admission);
    }

    private async ValueTask<ExecResult> WaitThenRunAsync(ExecRequest request, ValueTask<PoolLimiter.Admission> admission)
    {
        try
        {
            return RunAdmitted(request, await admission.ConfigureAwait(false));
        }
        catch (OperationCanceledException)
        {
            return ExecErrorCodes.Failure(request, ExecStatus.Cancelled, ExecErrorCodes.Cancelled, "cancelled while waiting for a slot in the pool");
        }
    }

    private ExecResult RunAdmitted(ExecRequest request, PoolLimiter.Admission admission)
    {
        using (admission)
        {
            switch (admission.State)
            {
                case PoolLimiter.AdmissionState.NotOffered:
                    return ExecErrorCodes.Failure(request, ExecStatus.Error, ExecErrorCodes.ResourceUnavailable,
                        $"pool '{request.Pool}' is not offered in-process");
                case PoolLimiter.AdmissionState.Full:
                    return ExecErrorCodes.Failure(request, ExecStatus.Error, ExecErrorCodes.ResourceUnavailable,
                        $"pool '{request.Pool}' is full");
            }
            return Run(request);
        }
    }

    private ExecResult Run(ExecRequest request)
    {
        var size = request.CalculateSize();
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(size, 1));
        try
        {
            request.WriteTo(buffer.AsSpan(0, size));
            var result = _runtime.Execute(buffer.AsSpan(0, size));
            return ExecResult.Parser.ParseFrom(result);
        }
        catch (BeamlineNativeException e)
        {
            LogNativeFailure(request.BlockId, e.Code, e.Message);
            return ExecErrorCodes.Failure(request, ExecStatus.Error, ExecErrorCodes.FromNative(e.Code), e.Message);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void LoadPlugins(string directory)
    {
        if (!Directory.Exists(directory))
        {
            LogPluginDirectoryMissing(directory);
            return;
        }
        foreach (var path in Directory.EnumerateFiles(directory, "*.so").Order(StringComparer.Ordinal))
        {
            try
            {
                _runtime.LoadPlugin(path);
                LogPluginLoaded(path);
            }
            catch (BeamlineNativeException e)
            {
                // One bad plugin must not take the control plane down; the others still load.
                LogPluginRefused(path, e.Code, e.Message);
            }
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _runtime.Dispose();
        _pools.Dispose();
    }

    [LoggerMessage(1, LogLevel.Error, "Block '{BlockId}' failed in the native runtime ({Code}): {Message}")]
    private partial void LogNativeFailure(string blockId, BlErrc code, string message);

    [LoggerMessage(2, LogLevel.Information, "Loaded native plugin '{Path}'.")]
    private partial void LogPluginLoaded(string path);

    [LoggerMessage(3, LogLevel.Error, "Refused native plugin '{Path}' ({Code}): {Message}")]
    private partial void LogPluginRefused(string path, BlErrc code, string message);

    [LoggerMessage(4, LogLevel.Warning, "Plugin directory '{Directory}' does not exist; no plugins loaded.")]
    private partial void LogPluginDirectoryMissing(string directory);
}
