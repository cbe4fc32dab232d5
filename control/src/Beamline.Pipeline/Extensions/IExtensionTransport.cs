namespace Beamline.Pipeline.Extensions;

/// <summary>
/// Calls an extension that is a service of its own (a registry entry with a subject): the NATS
/// transport in the host. One call, one answer read into the contract; a transport failure is a
/// failed <see cref="ExtensionReply"/>, never an exception. Timeouts and retries are the caller's
/// (<see cref="ExtensionRunner"/>): the timeout bounds this one attempt.
/// </summary>
public interface IExtensionTransport
{
    /// <summary>Sends <paramref name="input"/> to <paramref name="entry"/>'s subject and reads its answer.</summary>
    ValueTask<ExtensionReply> CallAsync(ExtensionEntry entry, ExtensionInput input, TimeSpan timeout, CancellationToken cancellationToken);
}

/// <summary>
/// A built-in extension, run in-process (the embedded default needs no NATS). Pure and fast:
/// given the merged config, it answers like a NATS extension would.
/// </summary>
public interface IBuiltInExtension
{
    /// <summary>The id policies name it by.</summary>
    string Id { get; }

    /// <summary>The type it is written for.</summary>
    ExtensionType Type { get; }

    /// <summary>Runs on a whole payload.</summary>
    ExtensionReply Invoke(ExtensionInput input);
}

/// <summary>
/// A post extension that can rewrite an answer as it streams, chunk by chunk, holding back only
/// a bounded tail (for example a PII entity split across two chunks).
/// </summary>
public interface IStreamingPostExtension : IBuiltInExtension
{
    /// <summary>Starts rewriting one stream.</summary>
    IStreamRewriter BeginStream(ExtensionInput input);
}

/// <summary>
/// Rewrites one stream's text: every <see cref="Push"/> returns the text that may be sent now
/// (possibly less than was pushed, never more than a bounded hold-back behind), and
/// <see cref="Flush"/> what is left at the end. Concatenating the outputs equals rewriting the
/// concatenated input whole.
/// </summary>
public interface IStreamRewriter
{
    /// <summary>Takes the next piece of text; returns what can be emitted now.</summary>
    string Push(string text);

    /// <summary>
    /// The end of the stream, or of one run of text in it (a content block): returns the rest and
    /// starts afresh, so that more text may follow (a stream may hold several runs).
    /// </summary>
    string Flush();
}

/// <summary>The registry as the pipeline reads it: the current entries, live.</summary>
public interface IExtensionRegistry
{
    /// <summary>The enabled entry <paramref name="id"/>, or false.</summary>
    bool TryGet(string id, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ExtensionEntry? entry);

    /// <summary>Every entry (enabled or not), ordered by id.</summary>
    IReadOnlyList<ExtensionEntry> Entries { get; }
}

/// <summary>A registry with no entries: only built-ins run (benchmarks, tests, hosts without a registry).</summary>
public sealed class EmptyExtensionRegistry : IExtensionRegistry
{
    /// <inheritdoc />
    public IReadOnlyList<ExtensionEntry> Entries => [];

    /// <inheritdoc />
    public bool TryGet(string id, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ExtensionEntry? entry)
    {
        entry = null;
        return false;
    }
}
