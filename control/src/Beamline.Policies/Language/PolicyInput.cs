using System.Text;

namespace Beamline.Policies.Language;

/// <summary>
/// The request fields a language policy reads (<c>request.*</c>), plus the evaluation's working
/// state. The router keeps one per thread and refills it for each decision, so evaluating
/// allocates nothing; an instance must not be shared between threads.
/// </summary>
public sealed class PolicyInput
{
    internal const int MaxCallDepth = 128;

    private string? _payloadText;
    private string? _cachedContextKey;
    private string? _cachedContextValue;

    /// <summary>Creates an input with room for the evaluation's variables.</summary>
    public PolicyInput() => Stack = new Value[64];

    /// <summary><c>request.tenant_id</c>.</summary>
    public string? TenantId { get; set; }

    /// <summary><c>request.request_id</c>.</summary>
    public string? RequestId { get; set; }

    /// <summary><c>request.message_type</c>.</summary>
    public string? MessageType { get; set; }

    /// <summary><c>request.session_id</c>.</summary>
    public string? SessionId { get; set; }

    /// <summary><c>request.user_id</c>.</summary>
    public string? UserId { get; set; }

    /// <summary><c>request.context["key"]</c> (besides <c>session_id</c> and <c>user_id</c>).</summary>
    public IReadOnlyDictionary<string, string>? Context { get; set; }

    /// <summary><c>request.constraints.max_cost</c>.</summary>
    public double? MaxCost { get; set; }

    /// <summary><c>request.constraints.max_latency_ms</c>, also <c>request.latency_sla</c>.</summary>
    public double? MaxLatencyMs { get; set; }

    /// <summary><c>request.input_tokens</c>.</summary>
    public int InputTokens { get; set; }

    /// <summary><c>request.output_tokens</c>.</summary>
    public int OutputTokens { get; set; }

    /// <summary>The payload bytes (UTF-8); <c>request.payload</c> decodes them once, when a policy reads it.</summary>
    public ReadOnlyMemory<byte> Payload
    {
        get;
        set
        {
            field = value;
            _payloadText = null;
        }
    }

    internal Value[] Stack;

    internal int FramePointer;

    internal int StackPointer;

    internal int Steps;

    internal int Budget;

    internal int Depth;

    /// <summary>True while the compiler folds constants: reading the request is then "not constant".</summary>
    internal bool ConstantMode;

    internal string PayloadText => _payloadText ??= Encoding.UTF8.GetString(Payload.Span);

    /// <summary>The value of <c>request.context[key]</c>.</summary>
    internal string? GetContextValue(string key) => key switch
    {
        "session_id" => SessionId,
        "user_id" => UserId,
        _ => Context is not null && Context.TryGetValue(key, out var value) ? value : null,
    };

    /// <summary>
    /// <c>request.context[key]</c> for a key fixed in the policy: the last one looked up is kept, as
    /// policies often test the same key in rule after rule (keys are compared by reference: each
    /// is one string of the compiled policy).
    /// </summary>
    internal string? GetContextValueCached(string key)
    {
        if (ReferenceEquals(key, _cachedContextKey))
        {
            return _cachedContextValue;
        }
        _cachedContextValue = Context is { } context && context.TryGetValue(key, out var value) ? value : null;
        _cachedContextKey = key;
        return _cachedContextValue;
    }

    internal void Begin(int budget, int locals)
    {
        _cachedContextKey = null;
        Steps = 0;
        Depth = 0;
        Budget = budget;
        FramePointer = 0;
        StackPointer = locals;
        EnsureStack(locals);
    }

    internal void EnsureStack(int size)
    {
        if (size > Stack.Length)
        {
            Array.Resize(ref Stack, Math.Max(size, Stack.Length * 2));
        }
    }
}

/// <summary>A failure while evaluating a policy (a type error, the step budget, the call depth), at a line and column.</summary>
internal sealed class PolicyRuntimeException(int line, int column, string message) : Exception(message)
{
    public int Line { get; } = line;

    public int Column { get; } = column;
}

/// <summary>Thrown in constant mode when an expression reads the request: it is not constant.</summary>
internal sealed class NotConstantException : Exception
{
    public static readonly NotConstantException Instance = new();
}
