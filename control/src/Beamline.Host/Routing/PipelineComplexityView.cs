using System.Globalization;
using System.Text.Json;
using Beamline.Policies;

namespace Beamline.Host.Routing;

/// <summary>
/// A policy's extension pipeline complexity, for <c>GET /admin/v1/policies/{tenant_id}/{policy_id}/complexity</c>
/// and <c>beamline.router.v1.admin.get_pipeline_complexity</c> (request <c>{tenant_id, policy_id}</c>).
/// The keys and the scoring are those of the CP1 router's <c>calculate_pipeline_complexity</c>:
/// <c>{"ok":true,"instance_id","tenant_id","policy_id", total_extensions, pre_count,
/// validators_count, post_count, complexity_score (0-100), complexity_level
/// (low|medium|high|very_high), estimated_latency_ms, recommended_limits{max_total, max_pre,
/// max_validators, max_post}, warnings[], recommendations[]}</c>. It is computed from the
/// policy's <c>pre</c>/<c>validators</c>/<c>post</c> lists as loaded; no extension is called.
/// </summary>
internal static class PipelineComplexityView
{
    /// <summary>Recommended most extensions in one pipeline (the CP1 router's default).</summary>
    public const int MaxTotal = 4;

    /// <summary>Recommended most extensions per stage (the CP1 router's default).</summary>
    public const int MaxPerStage = 2;

    /// <summary>The latency assumed per extension call, in ms (the CP1 router's default).</summary>
    public const int LatencyPerExtensionMs = 30;

    /// <summary>The pipeline latency above which a warning is given, in ms (the CP1 router's P95 target).</summary>
    public const int LatencyTargetMs = 150;

    /// <summary>Reads <c>{tenant_id, policy_id}</c> and writes the view; returns the HTTP status.</summary>
    public static int Write(Utf8JsonWriter writer, RoutingService routing, ReadOnlySpan<byte> body, int maxBytes)
    {
        if (RouterAdminJson.TryParseObject(body, maxBytes, out var document) is { } invalid)
        {
            return RouterAdminJson.WriteError(writer, routing.InstanceId, invalid);
        }
        using (document)
        {
            var root = document!.RootElement;
            var tenantError = RouterAdminJson.RequiredString(root, "tenant_id", out var tenantId);
            var policyError = RouterAdminJson.RequiredString(root, "policy_id", out var policyId);
            if ((tenantError ?? policyError) is { } error)
            {
                return RouterAdminJson.WriteError(writer, routing.InstanceId, error);
            }
            return Write(writer, routing, tenantId, policyId);
        }
    }

    /// <summary>Writes the view for one tenant's policy; returns the HTTP status.</summary>
    public static int Write(Utf8JsonWriter writer, RoutingService routing, string tenantId, string policyId)
    {
        if (!RouterAdminJson.TryFindPolicy(routing.Current, tenantId, policyId, out _, out var policy))
        {
            return RouterAdminJson.WriteError(writer, routing.InstanceId, RouterAdminJson.PolicyNotFound(tenantId, policyId));
        }
        writer.WriteStartObject();
        writer.WriteBoolean("ok", true);
        writer.WriteString("instance_id", routing.InstanceId);
        writer.WriteString("tenant_id", tenantId);
        writer.WriteString("policy_id", policy.Id);
        WriteComplexity(writer, policy.Pre.Length, policy.Validators.Length, policy.Post.Length);
        writer.WriteEndObject();
        return 200;
    }

    /// <summary>The 0-100 score: the pipeline's size against <see cref="MaxTotal"/>, plus penalties for crowded stages and excess.</summary>
    public static int Score(int pre, int validators, int post)
    {
        var total = pre + validators + post;
        var score = total <= MaxTotal ? total * 60 / MaxTotal : 60 + Math.Min(20, (total - MaxTotal) * 5);
        score += (pre > MaxPerStage ? 5 : 0) + (validators > MaxPerStage ? 5 : 0) + (post > MaxPerStage ? 5 : 0);
        score += total > MaxTotal ? Math.Min(20, (total - MaxTotal) * 4) : 0;
        return Math.Min(100, score);
    }

    /// <summary>The level of a score: low below 30, medium below 60, high below 80, else very_high.</summary>
    public static string Level(int score) => score switch
    {
        < 30 => "low",
        < 60 => "medium",
        < 80 => "high",
        _ => "very_high",
    };

    private static void WriteComplexity(Utf8JsonWriter writer, int pre, int validators, int post)
    {
        var total = pre + validators + post;
        var score = Score(pre, validators, post);
        var latency = total * LatencyPerExtensionMs;
        writer.WriteNumber("total_extensions", total);
        writer.WriteNumber("pre_count", pre);
        writer.WriteNumber("validators_count", validators);
        writer.WriteNumber("post_count", post);
        writer.WriteNumber("complexity_score", score);
        writer.WriteString("complexity_level", Level(score));
        writer.WriteNumber("estimated_latency_ms", latency);
        writer.WriteStartObject("recommended_limits");
        writer.WriteNumber("max_total", MaxTotal);
        writer.WriteNumber("max_pre", MaxPerStage);
        writer.WriteNumber("max_validators", MaxPerStage);
        writer.WriteNumber("max_post", MaxPerStage);
        writer.WriteEndObject();

        writer.WriteStartArray("warnings");
        if (total > MaxTotal)
        {
            writer.WriteStringValue(string.Create(CultureInfo.InvariantCulture, $"The pipeline has {total} extensions; at most {MaxTotal} are recommended, more add latency to every request."));
        }
        WriteStageWarning(writer, "pre-processors", pre);
        WriteStageWarning(writer, "validators", validators);
        WriteStageWarning(writer, "post-processors", post);
        if (latency > LatencyTargetMs)
        {
            writer.WriteStringValue(string.Create(CultureInfo.InvariantCulture, $"The estimated pipeline latency ({latency} ms) is above the {LatencyTargetMs} ms P95 target."));
        }
        writer.WriteEndArray();

        writer.WriteStartArray("recommendations");
        if (total > MaxTotal)
        {
            writer.WriteStringValue(string.Create(CultureInfo.InvariantCulture, $"Reduce the pipeline to {MaxTotal} extensions or fewer."));
        }
        WriteStageRecommendation(writer, "pre-processors", pre);
        WriteStageRecommendation(writer, "validators", validators);
        WriteStageRecommendation(writer, "post-processors", post);
        writer.WriteEndArray();
    }

    private static void WriteStageWarning(Utf8JsonWriter writer, string stage, int count)
    {
        if (count > MaxPerStage)
        {
            writer.WriteStringValue(string.Create(CultureInfo.InvariantCulture, $"{count} {stage}; at most {MaxPerStage} are recommended."));
        }
    }

    private static void WriteStageRecommendation(Utf8JsonWriter writer, string stage, int count)
    {
        if (count > MaxPerStage)
        {
            writer.WriteStringValue(string.Create(CultureInfo.InvariantCulture, $"Reduce the {stage} to {MaxPerStage} or fewer, or merge them."));
        }
    }
}
