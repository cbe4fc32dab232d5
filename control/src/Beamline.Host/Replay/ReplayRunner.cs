using System.Collections.Concurrent;
using System.Globalization;
using Beamline.Extensions.BuiltIn;
using Beamline.Pipeline;
using Beamline.Pipeline.Providers;
using Beamline.Routing;
using Microsoft.Extensions.Options;

namespace Beamline.Host.Replay;

/// <summary>One replay's outcome: the new request's id, its result and its answer's text (masked).</summary>
/// <param name="RequestId">The replay's request id: <c>replay-&lt;original id&gt;-&lt;n&gt;</c>.</param>
/// <param name="Result">What the pipeline answered.</param>
/// <param name="Text">The answer's text, PII masked as the original's was, or null when it failed.</param>
internal sealed record ReplayRun(string RequestId, ExecuteResult Result, string? Text);

/// <summary>
/// Runs a kept request again: as a dry run (the router's decision only — no quota, no extension,
/// no provider, no sticky session or breaker trial), or through <see cref="RequestPipeline"/> as a
/// new request of the same tenant, a trusted caller at the tenant level (no key, so no key or team
/// limits), charged and accounted like any other. The kept payload is the masked one: that is what
/// the provider gets.
/// </summary>
internal sealed class ReplayRunner(ReplayStore store, RequestPipeline pipeline, IEnumerable<IStreamTextCodec> codecs,
    IOptions<ReplayOptions> options, TimeProvider time, Beamline.Tenancy.ITenantDirectory directory)
{
    /// <summary>The face name of replayed requests.</summary>
    public const string Face = "replay";

    // The last replay number given per (tenant, original id) in this process, so that replays
    // started together never share an id while the capture of the previous one is still queued.
    private readonly ConcurrentDictionary<(string Tenant, string RequestId), int> _numbers = new();

    /// <summary>The kept, unexpired requests with this id (of one tenant when given); two or more: ambiguous.</summary>
    public Task<IReadOnlyList<ReplayRecord>> FindAsync(string requestId, string? tenantId, CancellationToken cancellationToken)
        => store.FindAsync(requestId, tenantId, time.GetUtcNow() - options.Value.Retention, cancellationToken);

    /// <summary>Why <paramref name="record"/> cannot be run again, or null when it can.</summary>
    public static string? CannotReplay(ReplayRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (record.RequestTruncated)
        {
            return $"request '{record.RequestId}' was kept cut short (its body was larger than Beamline:Replay:MaxBodyBytes): it cannot be replayed";
        }
        return record.RequestBody is null
            ? $"request '{record.RequestId}' had a binary or empty payload, which is not kept: it cannot be replayed"
            : null;
    }

    /// <summary>The router's decision for the kept request (pinned to <paramref name="provider"/> when given), without side effects.</summary>
    public RouteDecision DryRun(ReplayRecord original, string? provider)
    {
        var request = Rebuild(original, provider, original.RequestId);
        return pipeline.Routing.Decide(request.ToRouteRequest() with { DryRun = true });
    }

    /// <summary>Runs the kept request again as a new request, pinned to <paramref name="provider"/> when given.</summary>
    public async Task<ReplayRun> ExecuteAsync(ReplayRecord original, string? provider, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(original);
        var requestId = await NextIdAsync(original, cancellationToken).ConfigureAwait(false);
        var request = Rebuild(original, provider, requestId);
        if (!original.Stream)
        {
            var result = await pipeline.ExecuteAsync(request, cancellationToken).ConfigureAwait(false);
            return new ReplayRun(requestId, result, result.IsSuccess ? PiiMasking.MaskText(ReplayText.OfAnswer(result.Output)) : null);
        }
        // A stream is replayed as one: its payload asks for one, and its provider answers in events.
        var reader = new ReplayText.StreamReader(codecs);
        await foreach (var item in pipeline.ExecuteStreamAsync(request, cancellationToken).ConfigureAwait(false))
        {
            if (item.Result is { } final)
            {
                return new ReplayRun(requestId, final, final.IsSuccess ? PiiMasking.MaskText(reader.Finish()) : null);
            }
            reader.Push(item);
        }
        throw new InvalidOperationException("the pipeline's stream ended without its result");
    }

    private PipelineRequest Rebuild(ReplayRecord original, string? provider, string requestId)
    {
        var request = new PipelineRequest
        {
            // The tenant's own limits hold for a replay as for the trusted bus: a pinned provider it may not use is refused.
            Caller = new Caller
            {
                TenantId = original.TenantId,
                AllowedProviders = directory.TryGetTenant(original.TenantId, out var tenant) ? tenant.Limits.AllowedProviders : null,
            },
            RequestId = requestId,
            PolicyId = original.PolicyId,
            MessageType = original.MessageType,
            Payload = original.RequestBody,
            PayloadKind = original.RequestKind,
            Format = original.Format,
            Stream = original.Stream,
            PinnedProvider = provider ?? original.PinnedProvider,
            Face = Face,
        };
        foreach (var pair in original.Metadata)
        {
            request.Metadata[pair.Key] = pair.Value;
        }
        return request;
    }

    private async Task<string> NextIdAsync(ReplayRecord original, CancellationToken cancellationToken)
    {
        var prefix = $"replay-{original.RequestId}-";
        var kept = 0;
        foreach (var id in await store.FindIdsWithPrefixAsync(original.TenantId, prefix, cancellationToken).ConfigureAwait(false))
        {
            if (int.TryParse(id.AsSpan(prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > kept)
            {
                kept = n;
            }
        }
        var next = _numbers.AddOrUpdate((original.TenantId, original.RequestId), kept + 1, (_, last) => Math.Max(last, kept) + 1);
        return prefix + next.ToString(CultureInfo.InvariantCulture);
    }
}
