using System.Text.Json;

namespace Beamline.Pipeline.Extensions;

/// <summary>The registry's <c>type</c>: where an extension runs.</summary>
public enum ExtensionType
{
    /// <summary><c>pre</c>: may rewrite the payload and add metadata before routing.</summary>
    Pre,

    /// <summary><c>validator</c>: may reject the request.</summary>
    Validator,

    /// <summary><c>post</c>: may rewrite the provider's answer.</summary>
    Post,

    /// <summary><c>provider</c>: a custom provider (<c>beamline.provider.&lt;id&gt;.v&lt;N&gt;</c>).</summary>
    Provider,
}

/// <summary>
/// One registry entry, the upstream CP1 form: <c>{id, type, subject, timeout_ms, retry, enabled,
/// config, metadata}</c>. An entry with a <see cref="Subject"/> is called over NATS; it overrides a
/// built-in of the same id. <see cref="Config"/> and <see cref="Metadata"/> are detached copies.
/// </summary>
public sealed record ExtensionEntry
{
    /// <summary>The id policies name it by.</summary>
    public required string Id { get; init; }

    /// <summary>Its type.</summary>
    public required ExtensionType Type { get; init; }

    /// <summary>The NATS subject it serves, or null for a built-in (in-process) one.</summary>
    public string? Subject { get; init; }

    /// <summary>How long one call may take.</summary>
    public int TimeoutMs { get; init; } = 100;

    /// <summary>How many times a failed call is retried (within the request's deadline).</summary>
    public int Retry { get; init; }

    /// <summary>A disabled entry is treated as not registered.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>The entry's own <c>config</c> (a policy step's <c>config</c> is merged over it).</summary>
    public JsonElement? Config { get; init; }

    /// <summary>The entry's <c>metadata</c> (description, version, …).</summary>
    public JsonElement? Metadata { get; init; }
}
