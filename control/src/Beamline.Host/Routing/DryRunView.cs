using System.Collections.Immutable;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Beamline.Cp1;
using Beamline.Policies;
using Beamline.Routing;

namespace Beamline.Host.Routing;

/// <summary>
/// A decide without side effects, for <c>POST /admin/v1/dry-run</c> and
/// <c>beamline.router.v1.admin.dry_run_pipeline</c>. Request <c>{tenant_id, policy_id, payload,
/// context?, constraints?{max_cost, max_latency_ms}, message_type?}</c>. The router decides with
/// <see cref="RouteRequest.DryRun"/>: no sticky session is stored, no breaker trial slot is taken,
/// no assignment is pushed and no statistics are recorded. Reply, in the CP1 router's layout:
/// <c>{"ok":true,"instance_id","result":{"decision":{provider_id, reason, priority,
/// expected_latency_ms, expected_cost, policy_id, metadata}, "executed_extensions":[],
/// "extensions_run":false, "planned_extensions":{pre[], validators[], post[]}, "final_payload"}}</c>.
/// A dry run calls no extension (an extension is a service with effects of its own; decide and
/// execute run them): <c>executed_extensions</c> is always empty, <c>extensions_run</c> says so,
/// <c>planned_extensions</c> lists what the policy names, and <c>final_payload</c> is the payload
/// unchanged.
/// </summary>
internal static class DryRunView
{
    /// <summary>Reads the request, decides and writes the reply; returns its HTTP status.</summary>
    public static int Write(Utf8JsonWriter writer, RoutingService routing, ReadOnlySpan<byte> body, int maxBytes)
    {
        if (RouterAdminJson.TryParseObject(body, maxBytes, out var document) is { } invalid)
        {
            return RouterAdminJson.WriteError(writer, routing.InstanceId, invalid);
        }
        using (document)
        {
            var root = document!.RootElement;
            if (Read(root, out var request, out var payload) is { } error)
            {
                return RouterAdminJson.WriteError(writer, routing.InstanceId, error);
            }
            // One routing state for the lookup and the decision, so that both see the same policies.
            var state = routing.Current;
            if (!RouterAdminJson.TryFindPolicy(state, request.TenantId, request.PolicyId!, out var tenant, out var policy))
            {
                return RouterAdminJson.WriteError(writer, routing.InstanceId, RouterAdminJson.PolicyNotFound(request.TenantId, request.PolicyId!));
            }
            var decision = tenant.Router.Decide(request);
            if (!decision.IsSuccess)
            {
                var code = decision.ErrorCode ?? Cp1ErrorCodes.DecisionFailed;
                return RouterAdminJson.WriteError(writer, routing.InstanceId, new Cp1Error(code, decision.ErrorMessage ?? code,
                    code == Cp1ErrorCodes.PolicyNotFound ? "policy_id" : null));
            }
            writer.WriteStartObject();
            writer.WriteBoolean("ok", true);
            writer.WriteString("instance_id", routing.InstanceId);
            writer.WriteStartObject("result");
            WriteDecision(writer, decision);
            writer.WriteStartArray("executed_extensions");
            writer.WriteEndArray();
            writer.WriteBoolean("extensions_run", false);
            writer.WriteStartObject("planned_extensions");
            WriteSteps(writer, "pre", policy.Pre);
            WriteSteps(writer, "validators", policy.Validators);
            WriteSteps(writer, "post", policy.Post);
            writer.WriteEndObject();
            writer.WritePropertyName("final_payload");
            payload.WriteTo(writer);
            writer.WriteEndObject();
            writer.WriteEndObject();
            return 200;
        }
    }

    private static Cp1Error? Read(JsonElement root, out RouteRequest request, out JsonElement payload)
    {
        request = default;
        payload = default;
        var tenantError = RouterAdminJson.RequiredString(root, "tenant_id", out var tenantId);
        var policyError = RouterAdminJson.RequiredString(root, "policy_id", out var policyId);
        if ((tenantError ?? policyError) is { } error)
        {
            return error;
        }
        if (!root.TryGetProperty("payload", out payload) || payload.ValueKind == JsonValueKind.Null)
        {
            return RouterAdminJson.Missing("payload");
        }
        string? messageType = null;
        if (root.TryGetProperty("message_type", out var type) && type.ValueKind != JsonValueKind.Null)
        {
            if (type.ValueKind != JsonValueKind.String)
            {
                return RouterAdminJson.InvalidType("message_type", "a string");
            }
            messageType = type.GetString();
        }
        double? maxCost = null, maxLatency = null;
        if (root.TryGetProperty("constraints", out var constraints) && constraints.ValueKind != JsonValueKind.Null)
        {
            if (constraints.ValueKind != JsonValueKind.Object)
            {
                return RouterAdminJson.InvalidType("constraints", "an object");
            }
            var costError = ReadNonNegative(constraints, "max_cost", "constraints.max_cost", out maxCost);
            var latencyError = ReadNonNegative(constraints, "max_latency_ms", "constraints.max_latency_ms", out maxLatency);
            if ((costError ?? latencyError) is { } constraintError)
            {
                return constraintError;
            }
        }
        string? sessionId = null, userId = null;
        Dictionary<string, string>? context = null;
        if (root.TryGetProperty("context", out var ctx) && ctx.ValueKind != JsonValueKind.Null)
        {
            if (ctx.ValueKind != JsonValueKind.Object)
            {
                return RouterAdminJson.InvalidType("context", "an object");
            }
            context = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var member in ctx.EnumerateObject())
            {
                if (member.Value.ValueKind == JsonValueKind.String)
                {
                    context[member.Name] = member.Value.GetString()!;
                }
                else if (member.Name is "session_id" or "user_id" && member.Value.ValueKind != JsonValueKind.Null)
                {
                    return RouterAdminJson.InvalidType("context." + member.Name, "a string");
                }
            }
            context.TryGetValue("session_id", out sessionId);
            context.TryGetValue("user_id", out userId);
        }
        // Tokens are estimated as decide does: one per 4 bytes of payload.
        var payloadBytes = payload.ValueKind == JsonValueKind.String
            ? Encoding.UTF8.GetByteCount(payload.GetString()!)
            : JsonMarshal.GetRawUtf8Value(payload).Length;
        request = new RouteRequest
        {
            TenantId = tenantId,
            PolicyId = policyId,
            MessageType = messageType,
            SessionId = sessionId,
            UserId = userId,
            Context = context,
            MaxCost = maxCost,
            MaxLatencyMs = maxLatency,
            InputTokens = payloadBytes == 0 ? 0 : Math.Max(1, payloadBytes / 4),
            DryRun = true,
        };
        return null;
    }

    private static Cp1Error? ReadNonNegative(JsonElement parent, string name, string field, out double? value)
    {
        value = null;
        if (!parent.TryGetProperty(name, out var member) || member.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        if (member.ValueKind != JsonValueKind.Number || !member.TryGetDouble(out var number) || number < 0)
        {
            return RouterAdminJson.InvalidType(field, "a non-negative number");
        }
        value = number;
        return null;
    }

    private static void WriteDecision(Utf8JsonWriter writer, in RouteDecision decision)
    {
        writer.WriteStartObject("decision");
        writer.WriteString("provider_id", decision.ProviderId);
        writer.WriteString("reason", decision.Reason);
        writer.WriteNumber("priority", decision.Priority);
        writer.WriteNumber("expected_latency_ms", (long)Math.Round(decision.ExpectedLatencyMs));
        writer.WriteNumber("expected_cost", Math.Round(decision.ExpectedCost, 9));
        writer.WriteString("policy_id", decision.PolicyId);
        writer.WriteStartObject("metadata");
        foreach (var pair in decision.Metadata)
        {
            writer.WriteString(pair.Key, pair.Value);
        }
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    // Each step as the policy names it: {id, mode} for pre and post, {id, on_fail} for validators.
    private static void WriteSteps(Utf8JsonWriter writer, string stage, ImmutableArray<ExtensionStep> steps)
    {
        writer.WriteStartArray(stage);
        foreach (var step in steps)
        {
            writer.WriteStartObject();
            writer.WriteString("id", step.Id);
            if (step.Stage == ExtensionStage.Validate)
            {
                writer.WriteString("on_fail", RouterAdminJson.Name(step.OnFail));
            }
            else
            {
                writer.WriteString("mode", RouterAdminJson.Name(step.Mode));
            }
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
    }
}
