using System.Buffers;
using System.Text.Json;
using Beamline.Cp1;
using Beamline.Host.Routing;
using Beamline.Pipeline;
using Beamline.Pipeline.Costs;
using Beamline.Routing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using RequestBody = Beamline.Host.Http.RequestBody;

namespace Beamline.Host.Replay;

/// <summary>
/// <c>POST /admin/v1/replay/{request_id}</c> (docs/observability.md), with the admin key
/// (<c>Authorization: Bearer &lt;AdminKey&gt;</c>, checked before the body is read; else 401
/// <c>unauthorized</c>). Body, all optional: <c>{"provider":"&lt;id&gt;", "dry_run":bool,
/// "tenant_id":"&lt;id&gt;"}</c> (<c>tenant_id</c> is needed only when two tenants kept the same
/// request id). A request not kept, or expired, is 404 <c>not_found</c>. Reply:
/// <c>{"ok":true, "request_id", "tenant_id", "dry_run":false, "original":{…}, "replay":{…}, "diff"}</c>,
/// each side <c>{request_id, provider_id, model, status, error?, output, usage, cost_usd, cost_nanos}</c>
/// and <c>diff</c> the unified diff of the two outputs' text ("" when equal; null when either has
/// none); a dry run answers <c>"decision"</c> instead of <c>replay</c> and <c>diff</c>. A replay that
/// failed is still a 200: its <c>status</c> says how it ended.
/// </summary>
internal static class ReplayEndpoints
{
    /// <summary>Maps the replay endpoint.</summary>
    public static IEndpointRouteBuilder MapReplayEndpoints(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapPost("/admin/v1/replay/{requestId}", ReplayAsync);
        return endpoints;
    }

    private readonly record struct ReplayAsk(string? Provider, bool DryRun, string? TenantId);

    private static async Task ReplayAsync(HttpContext context)
    {
        var instanceId = context.RequestServices.GetRequiredService<RoutingService>().InstanceId;
        var buffer = new ArrayBufferWriter<byte>(4096);
        int status;
        using (var writer = new Utf8JsonWriter(buffer))
        {
            if (!TenancyAdminEndpoints.IsAdminAuthorized(context.Request))
            {
                context.Response.Headers.WWWAuthenticate = "Bearer";
                status = RouterAdminJson.WriteError(writer, instanceId, new Cp1Error(Cp1ErrorCodes.Unauthorized,
                    "a valid admin key is required: Authorization: Bearer <admin key>"));
            }
            else
            {
                status = await AnswerAsync(context, writer, instanceId, (string)context.Request.RouteValues["requestId"]!).ConfigureAwait(false);
            }
        }
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = buffer.WrittenCount;
        await context.Response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted).ConfigureAwait(false);
    }

    private static async Task<int> AnswerAsync(HttpContext context, Utf8JsonWriter writer, string instanceId, string requestId)
    {
        var limit = context.RequestServices.GetRequiredService<IOptions<HostOptions>>().Value.MaxDecideRequestBytes;
        ReplayAsk ask;
        using (var body = await RequestBody.ReadAsync(context, limit).ConfigureAwait(false))
        {
            if (body is null)
            {
                return RouterAdminJson.WriteError(writer, instanceId, new Cp1Error(Cp1ErrorCodes.InvalidRequest,
                    $"request too large: the limit is {limit} bytes", null, Cp1ErrorTypes.TooLarge));
            }
            if (Read(body.Memory.Span, limit, out ask) is { } invalid)
            {
                return RouterAdminJson.WriteError(writer, instanceId, invalid);
            }
        }
        if (context.RequestServices.GetService<ReplayRunner>() is not { } runner)
        {
            return RouterAdminJson.WriteError(writer, instanceId, new Cp1Error(Cp1ErrorCodes.NotFound,
                $"request '{requestId}' is not kept: request replay is off (no tenant in Beamline:Replay:Tenants)", "request_id"));
        }
        var found = await runner.FindAsync(requestId, ask.TenantId, context.RequestAborted).ConfigureAwait(false);
        if (found.Count == 0)
        {
            return RouterAdminJson.WriteError(writer, instanceId, new Cp1Error(Cp1ErrorCodes.NotFound,
                $"request '{requestId}' is not kept{(ask.TenantId is null ? "" : $" for tenant '{ask.TenantId}'")}: its tenant did not opt in to replay, or it expired",
                "request_id"));
        }
        if (found.Count > 1)
        {
            return RouterAdminJson.WriteError(writer, instanceId, new Cp1Error(Cp1ErrorCodes.InvalidRequest,
                $"request id '{requestId}' is kept for more than one tenant: name one with tenant_id", "tenant_id", Cp1ErrorTypes.RequiredFieldMissing));
        }
        var original = found[0];
        if (ask.DryRun)
        {
            WriteDryRun(writer, original, runner.DryRun(original, ask.Provider));
            return StatusCodes.Status200OK;
        }
        if (ReplayRunner.CannotReplay(original) is { } reason)
        {
            return RouterAdminJson.WriteError(writer, instanceId, new Cp1Error(Cp1ErrorCodes.InvalidRequest, reason, "request_id", Cp1ErrorTypes.InvalidValue));
        }
        var run = await runner.ExecuteAsync(original, ask.Provider, context.RequestAborted).ConfigureAwait(false);
        WriteReplay(writer, original, run);
        return StatusCodes.Status200OK;
    }

    private static Cp1Error? Read(ReadOnlySpan<byte> body, int limit, out ReplayAsk ask)
    {
        ask = default;
        if (body.Trim(" \t\r\n"u8).IsEmpty)
        {
            return null;
        }
        if (RouterAdminJson.TryParseObject(body, limit, out var document) is { } invalid)
        {
            return invalid;
        }
        using (document)
        {
            var root = document!.RootElement;
            string? provider = null, tenantId = null;
            var dryRun = false;
            if (root.TryGetProperty("provider", out var member) && member.ValueKind != JsonValueKind.Null
                && RouterAdminJson.RequiredString(root, "provider", out provider!) is { } providerError)
            {
                return providerError;
            }
            if (root.TryGetProperty("tenant_id", out member) && member.ValueKind != JsonValueKind.Null
                && RouterAdminJson.RequiredString(root, "tenant_id", out tenantId!) is { } tenantError)
            {
                return tenantError;
            }
            if (root.TryGetProperty("dry_run", out member) && member.ValueKind != JsonValueKind.Null)
            {
                if (member.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                {
                    return RouterAdminJson.InvalidType("dry_run", "a boolean");
                }
                dryRun = member.GetBoolean();
            }
            ask = new ReplayAsk(provider, dryRun, tenantId);
            return null;
        }
    }

    private static void WriteDryRun(Utf8JsonWriter writer, ReplayRecord original, in RouteDecision decision)
    {
        WriteHead(writer, original, dryRun: true);
        writer.WriteStartObject("decision");
        writer.WriteString("status", decision.IsSuccess ? "ok" : decision.ErrorCode ?? Cp1ErrorCodes.DecisionFailed);
        if (!decision.IsSuccess)
        {
            writer.WriteString("error", decision.ErrorMessage);
        }
        writer.WriteString("provider_id", decision.ProviderId);
        writer.WriteString("reason", decision.Reason);
        writer.WriteString("policy_id", decision.PolicyId);
        writer.WriteNumber("expected_latency_ms", (long)Math.Round(decision.ExpectedLatencyMs));
        writer.WriteNumber("expected_cost", Math.Round(decision.ExpectedCost, 9));
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    private static void WriteReplay(Utf8JsonWriter writer, ReplayRecord original, ReplayRun run)
    {
        WriteHead(writer, original, dryRun: false);
        var result = run.Result;
        writer.WriteStartObject("replay");
        writer.WriteString("request_id", run.RequestId);
        writer.WriteString("provider_id", result.ProviderId ?? (result.Attempts.Count == 0 ? null : result.Attempts[^1].ProviderId));
        writer.WriteString("model", result.Model);
        writer.WriteString("status", result.Error?.Code ?? "ok");
        if (result.Error is { } error)
        {
            writer.WriteString("error", error.Message);
        }
        writer.WriteString("output", run.Text);
        WriteUsage(writer, result.Usage, result.CostNanos);
        writer.WriteEndObject();
        var originalText = OriginalText(original);
        writer.WriteString("diff", originalText is null || run.Text is null
            ? null
            : ReplayText.Diff(originalText, run.Text, $"original/{original.RequestId}", $"replay/{run.RequestId}"));
        writer.WriteEndObject();
    }

    // The kept answer's text (masked when kept), or null: an error, or a stream, whose text is not kept.
    private static string? OriginalText(ReplayRecord original) => original.ResponseBody is { } body ? ReplayText.OfAnswer(body) : null;

    private static void WriteHead(Utf8JsonWriter writer, ReplayRecord original, bool dryRun)
    {
        writer.WriteStartObject();
        writer.WriteBoolean("ok", true);
        writer.WriteString("request_id", original.RequestId);
        writer.WriteString("tenant_id", original.TenantId);
        writer.WriteBoolean("dry_run", dryRun);
        writer.WriteStartObject("original");
        writer.WriteString("request_id", original.RequestId);
        writer.WriteString("at", original.At);
        writer.WriteString("face", original.Face);
        writer.WriteString("policy_id", original.UsedPolicyId ?? original.PolicyId);
        writer.WriteString("provider_id", original.ProviderId);
        writer.WriteString("model", original.Model);
        writer.WriteString("status", original.Status);
        if (original.ErrorMessage is not null)
        {
            writer.WriteString("error", original.ErrorMessage);
        }
        writer.WriteBoolean("stream", original.Stream);
        writer.WriteString("output", OriginalText(original));
        writer.WriteBoolean("output_truncated", original.ResponseTruncated);
        writer.WriteBoolean("request_truncated", original.RequestTruncated);
        WriteUsage(writer, original.Usage, original.CostNanos);
        writer.WriteEndObject();
    }

    private static void WriteUsage(Utf8JsonWriter writer, TokenUsage? usage, long costNanos)
    {
        if (usage is { } used)
        {
            writer.WriteStartObject("usage");
            writer.WriteNumber("input_tokens", used.InputTokens);
            writer.WriteNumber("output_tokens", used.OutputTokens);
            writer.WriteNumber("cached_input_tokens", used.CachedInputTokens);
            writer.WriteBoolean("estimated", used.Estimated);
            writer.WriteEndObject();
        }
        else
        {
            writer.WriteNull("usage");
        }
        writer.WriteNumber("cost_usd", Nanos.ToUsd(costNanos));
        writer.WriteNumber("cost_nanos", costNanos);
    }
}
