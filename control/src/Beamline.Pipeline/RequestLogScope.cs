using System.Collections;

namespace Beamline.Pipeline;

/// <summary>
/// The log scope of one request: <c>tenant_id</c>, <c>request_id</c> and <c>trace_id</c> on every
/// line logged while the pipeline runs it (a JSON console writes them as the scope's properties).
/// </summary>
internal sealed class RequestLogScope(PipelineRequest request) : IReadOnlyList<KeyValuePair<string, object?>>
{
    /// <inheritdoc />
    public int Count => 3;

    /// <inheritdoc />
    public KeyValuePair<string, object?> this[int index] => index switch
    {
        0 => new("tenant_id", request.TenantId),
        1 => new("request_id", request.RequestId),
        2 => new("trace_id", request.TraceId),
        _ => throw new ArgumentOutOfRangeException(nameof(index)),
    };

    /// <inheritdoc />
    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator()
    {
        for (var i = 0; i < Count; i++)
        {
            yield return this[i];
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>The text form, for consoles that print scopes as text.</summary>
    public override string ToString() => $"tenant_id={request.TenantId} request_id={request.RequestId} trace_id={request.TraceId}";
}
