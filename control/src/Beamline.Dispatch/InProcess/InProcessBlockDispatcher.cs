using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;
using Beamline.Interop.Exec;
using Beamline.Worker.V2;
using Google.Protobuf;
using Microsoft.Extensions.DependencyInjection;
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
    private readonly PoolThreads _pools;
    private readonly DispatchOptions _options;
    private readonly ILogger<InProcessBlockDispatcher> _logger;

    /// <summary>Creates the runtime, registers the built-in executors, loads the configured plugins and starts the pools' threads.</summary>
    public InProcessBlockDispatcher(IOptions<DispatchOptions> options, ILogger<InProcessBlockDispatcher> logger)
        : this(options, logger, [])
    {
    }

    /// <summary>
    /// As the other constructor, with the credentials and providers of <paramref name="credentialSources"/>
    /// added to the executor configuration (<see cref="IExecutorCredentialSource"/>): blocks name
    /// them (<c>credential_ref</c>, <c>provider_ref</c>) instead of carrying secrets, and reach
    /// the providers' hosts without the tenants' allow-lists listing them.
    /// </summary>
    [ActivatorUtilitiesConstructor]
    public InProcessBlockDispatcher(IOptions<DispatchOptions> options, ILogger<InProcessBlockDispatcher> logger,
        IEnumerable<IExecutorCredentialSource> credentialSources)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentNullException.ThrowIfNull(credentialSources);
        _logger = logger;
        _options = options.Value;
        var inProcess = _options.InProcess;
        string? executorConfig = inProcess.ExecutorConfigFile is { Length: > 0 } configFile
            ? File.ReadAllText(configFile)
            : null;
        var credentials = new List<ExecutorCredential>();
        var providers = new List<ExecutorProvider>();
        foreach (var source in credentialSources)
        {
            credentials.AddRange(source.GetCredentials());
            providers.AddRange(source.GetProviders());
        }
        executorConfig = ExecutorConfigJson.WithCredentials(executorConfig, credentials);
        executorConfig = ExecutorConfigJson.WithProviders(executorConfig, providers);
        if (credentials.Count > 0 || providers.Count > 0)
        {
            LogCredentials(credentials.Count, providers.Count);
        }
        _runtime = ExecRuntime.Create(configJson: WithFsRoot(executorConfig, inProcess.FsRoot));
        _pools = new PoolThreads(inProcess.Pools, inProcess.QueueLimit);
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

    /// <summary>
    /// Runs the block within its deadline (<see cref="DispatchOptions.EffectiveDeadlineMs"/>): a block of an
    /// asynchronous type (<c>http.request</c>) on the runtime's event thread, holding no thread while it waits
    /// (<see cref="InProcessDispatchOptions.AsyncLimit"/>), any other on its pool's threads. Cancelling
    /// <paramref name="cancellationToken"/> (a client that went away) takes a queued block out and stops a
    /// running one (status cancelled).
    /// </summary>
    public ValueTask<ExecResult> DispatchAsync(ExecRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        request.DeadlineMs = _options.EffectiveDeadlineMs(request.Pool, request.DeadlineMs);
        if (MayRunAsync(request))
        {
            var block = new AsyncWholeBlock(this, request);
            switch (TryStartAsync(request, block, cancellationToken, out var refused))
            {
                case AsyncStart.Taken:
                    return new ValueTask<ExecResult>(block.Result.Task);
                case AsyncStart.Refused:
                    return ValueTask.FromResult(refused!);
                default:
                    break; // not an asynchronous type: its pool runs it
            }
        }
        var work = new WholeBlock(this, request, cancellationToken);
        return _pools.TryEnqueue(request.Pool, work) switch
        {
            PoolThreads.Admission.Queued => new ValueTask<ExecResult>(work.Result.Task),
            PoolThreads.Admission.NotOffered => ValueTask.FromResult(NotOffered(request)),
            _ => ValueTask.FromResult(Full(request)),
        };
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<ExecStreamItem> DispatchStreamAsync(ExecRequest request,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        request.Stream = true;
        request.DeadlineMs = _options.EffectiveDeadlineMs(request.Pool, request.DeadlineMs);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        System.Threading.Channels.ChannelReader<ExecStreamItem> items;
        Task done;
        var start = AsyncStart.NotAsync;
        if (MayRunAsync(request))
        {
            var block = new AsyncStreamedBlock(this, request, stop.Token);
            start = TryStartAsync(request, block, stop.Token, out var refused);
            if (start == AsyncStart.Refused)
            {
                yield return new ExecStreamItem(null, refused);
                yield break;
            }
            (items, done) = (block.Items.Reader, block.Done.Task);
        }
        else
        {
            (items, done) = (null!, Task.CompletedTask);
        }
        if (start == AsyncStart.NotAsync)
        {
            var work = new StreamedBlock(this, request, stop.Token);
            var admission = _pools.TryEnqueue(request.Pool, work);
            if (admission != PoolThreads.Admission.Queued)
            {
                yield return new ExecStreamItem(null, admission == PoolThreads.Admission.NotOffered ? NotOffered(request) : Full(request));
                yield break;
            }
            (items, done) = (work.Items.Reader, work.Done.Task);
        }
        try
        {
            await foreach (var item in items.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
            {
                yield return item;
            }
        }
        finally
        {
            // A reader that stops early cancels the block; it ends on its own thread.
            await stop.CancelAsync().ConfigureAwait(false);
            await done.ConfigureAwait(false);
        }
    }

    private static ExecResult NotOffered(ExecRequest request) =>
        ExecErrorCodes.Failure(request, ExecStatus.Error, ExecErrorCodes.ResourceUnavailable, $"pool '{request.Pool}' is not offered in-process");

    private static ExecResult Full(ExecRequest request) =>
        ExecErrorCodes.Failure(request, ExecStatus.Error, ExecErrorCodes.ResourceUnavailable, $"pool '{request.Pool}' is full");

    private static ExecResult CancelledWhileQueued(ExecRequest request) =>
        ExecErrorCodes.Failure(request, ExecStatus.Cancelled, ExecErrorCodes.Cancelled, "cancelled while waiting for a slot in the pool");

    // Runs on a pool thread. Never throws: every block gets its result.
    private ExecResult Run(ExecRequest request, ExecChunkHandler? onChunk, CancellationToken cancellationToken)
    {
        var size = request.CalculateSize();
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(size, 1));
        try
        {
            request.WriteTo(buffer.AsSpan(0, size));
            // The token reaches the running executor (C ABI v2 cancel flag): a caller that goes away stops its block.
            var result = onChunk is null
                ? _runtime.Execute(buffer.AsSpan(0, size), cancellationToken)
                : _runtime.ExecuteStream(buffer.AsSpan(0, size), onChunk, cancellationToken);
            return ExecResult.Parser.ParseFrom(result);
        }
        catch (BeamlineNativeException e)
        {
            LogNativeFailure(request.BlockId, e.Code, e.Message);
            return ExecErrorCodes.Failure(request, ExecStatus.Error, ExecErrorCodes.FromNative(e.Code), e.Message);
        }
#pragma warning disable CA1031 // A bug in a chunk handler or the runtime must still answer the block.
        catch (Exception e)
#pragma warning restore CA1031
        {
            LogRunFailed(request.BlockId, e);
            return ExecErrorCodes.Failure(request, ExecStatus.Error, ExecErrorCodes.InternalError, "internal error");
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>A block answered whole.</summary>
    private sealed class WholeBlock(InProcessBlockDispatcher owner, ExecRequest request, CancellationToken cancellationToken) : PoolThreads.PoolWork
    {
        public TaskCompletionSource<ExecResult> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override void Run() => Result.TrySetResult(cancellationToken.IsCancellationRequested
            ? CancelledWhileQueued(request)
            : owner.Run(request, null, cancellationToken));
    }

    /// <summary>
    /// A streamed block: the executor emits chunks on the pool thread; a bounded channel carries
    /// them to the reader and holds the executor back when the reader is slower.
    /// </summary>
    private sealed class StreamedBlock(InProcessBlockDispatcher owner, ExecRequest request, CancellationToken cancellationToken) : PoolThreads.PoolWork
    {
        public System.Threading.Channels.Channel<ExecStreamItem> Items { get; } =
            System.Threading.Channels.Channel.CreateBounded<ExecStreamItem>(new System.Threading.Channels.BoundedChannelOptions(64)
            {
                SingleReader = true,
                SingleWriter = true,
            });

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override void Run()
        {
            var result = cancellationToken.IsCancellationRequested
                ? CancelledWhileQueued(request)
                : owner.Run(request, OnChunk, cancellationToken);
            Items.Writer.TryWrite(new ExecStreamItem(null, result)); // the reader is either reading or gone
            Items.Writer.TryComplete();
            Done.TrySetResult();
        }

        private bool OnChunk(ReadOnlySpan<byte> chunk)
        {
            var item = new ExecStreamItem(ExecChunk.Parser.ParseFrom(chunk), null);
            try
            {
                Items.Writer.WriteAsync(item, cancellationToken).AsTask().GetAwaiter().GetResult();
                return true;
            }
            catch (OperationCanceledException)
            {
                return false; // the reader went away: cancel the block
            }
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

    [LoggerMessage(5, LogLevel.Error, "Block '{BlockId}' failed unexpectedly in-process.")]
    private partial void LogRunFailed(string blockId, Exception error);

    [LoggerMessage(2, LogLevel.Information, "Loaded native plugin '{Path}'.")]
    private partial void LogPluginLoaded(string path);

    [LoggerMessage(3, LogLevel.Error, "Refused native plugin '{Path}' ({Code}): {Message}")]
    private partial void LogPluginRefused(string path, BlErrc code, string message);

    [LoggerMessage(4, LogLevel.Warning, "Plugin directory '{Directory}' does not exist; no plugins loaded.")]
    private partial void LogPluginDirectoryMissing(string directory);

    [LoggerMessage(6, LogLevel.Information, "The in-process http.request executor was given {Count} credential(s) by name (their secrets stay in the environment) and the hosts of {Providers} provider(s).")]
    private partial void LogCredentials(int count, int providers);
}
