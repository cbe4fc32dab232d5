using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;
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
        _runtime = ExecRuntime.Create(configJson: WithFsRoot(executorConfig, inProcess.FsRoot));
        _pools = new PoolLimiter(inProcess.Pools, inProcess.QueueLimit);
        if (inProcess.PluginDirectory is { Length: > 0 } dir)
        {
            LoadPlugins(dir);
        }
    }

    /// <inheritdoc />
    public string Mode => DispatchModes.InProcess;

    /// <summary>
    /// The executor configuration with <c>fs.root</c> = <paramref name="fsRoot"/> added when it
    /// names none (a root the file names wins); unchanged without <paramref name="fsRoot"/>.
    /// </summary>
    internal static string? WithFsRoot(string? executorConfig, string? fsRoot)
    {
        if (string.IsNullOrEmpty(fsRoot))
        {
            return executorConfig;
        }
        JsonNode? parsed;
        try
        {
            parsed = string.IsNullOrWhiteSpace(executorConfig) ? new JsonObject() : JsonNode.Parse(executorConfig, documentOptions: new JsonDocumentOptions
            {
                CommentHandling = JsonCommentHandling.Skip,
                AllowTrailingCommas = true,
            });
        }
        catch (JsonException)
        {
            return executorConfig; // the executors say what is wrong with it
        }
        if (parsed is not JsonObject root)
        {
            return executorConfig; // not an object: the executors say what is wrong with it
        }
        if (root["fs"] is not JsonObject fs)
        {
            if (root["fs"] is not null)
            {
                return executorConfig; // not an object: the executors say what is wrong with it
            }
            fs = new JsonObject();
            root["fs"] = fs;
        }
        if (fs["root"] is null)
        {
            fs["root"] = fsRoot;
        }
        return root.ToJsonString();
    }

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

    /// <inheritdoc />
    public async IAsyncEnumerable<ExecStreamItem> DispatchStreamAsync(ExecRequest request,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        request.Stream = true;
        PoolLimiter.Admission admission;
        var cancelled = false;
        try
        {
            admission = await _pools.EnterAsync(request.Pool, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            (admission, cancelled) = (PoolLimiter.Admission.NotOffered, true);
        }
        if (cancelled || admission.State != PoolLimiter.AdmissionState.Entered)
        {
            admission.Dispose();
            yield return new ExecStreamItem(null, cancelled ? ExecErrorCodes.Failure(request, ExecStatus.Cancelled, ExecErrorCodes.Cancelled,
                "cancelled while waiting for a slot in the pool") : admission.State switch
            {
                PoolLimiter.AdmissionState.NotOffered => ExecErrorCodes.Failure(request, ExecStatus.Error, ExecErrorCodes.ResourceUnavailable,
                    $"pool '{request.Pool}' is not offered in-process"),
                _ => ExecErrorCodes.Failure(request, ExecStatus.Error, ExecErrorCodes.ResourceUnavailable, $"pool '{request.Pool}' is full"),
            });
            yield break;
        }

        // The executor emits chunks on its own thread; a bounded channel carries them to the
        // reader, and holds the executor back when the reader is slower (backpressure).
        var items = System.Threading.Channels.Channel.CreateBounded<ExecStreamItem>(new System.Threading.Channels.BoundedChannelOptions(64)
        {
            SingleReader = true,
            SingleWriter = true,
        });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var run = Task.Run(() =>
        {
            using (admission)
            {
                var result = RunStream(request, chunk =>
                {
                    if (stop.IsCancellationRequested)
                    {
                        return false;
                    }
                    try
                    {
                        items.Writer.WriteAsync(new ExecStreamItem(ExecChunk.Parser.ParseFrom(chunk), null), stop.Token).AsTask().GetAwaiter().GetResult();
                        return true;
                    }
                    catch (OperationCanceledException)
                    {
                        return false; // the reader went away: cancel the block
                    }
                });
                items.Writer.TryWrite(new ExecStreamItem(null, result));
                items.Writer.TryComplete();
            }
        }, CancellationToken.None);
        try
        {
            await foreach (var item in items.Reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
            {
                yield return item;
            }
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await run.ConfigureAwait(false);
        }
    }

    private ExecResult RunStream(ExecRequest request, ExecChunkHandler onChunk)
    {
        var size = request.CalculateSize();
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(size, 1));
        try
        {
            request.WriteTo(buffer.AsSpan(0, size));
            return ExecResult.Parser.ParseFrom(_runtime.ExecuteStream(buffer.AsSpan(0, size), onChunk));
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
