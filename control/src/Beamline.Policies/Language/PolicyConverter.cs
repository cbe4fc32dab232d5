using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Beamline.Policies.Language;

/// <summary>
/// Writes a CP1 JSON policy as policy-language source that decides the same way: the weighted
/// providers become <c>split</c> (or the strategy's built-in), stickiness wraps it in <c>sticky</c>,
/// each fallback rule becomes <c>fallback on(...)</c>, and the breaker, extensions, metadata and
/// version become <c>with</c> settings.
/// </summary>
public static class PolicyConverter
{
    /// <summary>The source for <paramref name="policy"/>; throws <see cref="ArgumentException"/> for a policy the language cannot state.</summary>
    public static string Convert(Policy policy)
    {
        ArgumentNullException.ThrowIfNull(policy);
        if (policy.Language is { } language)
        {
            return language.Text;
        }
        if (policy.Providers.IsEmpty)
        {
            throw new ArgumentException($"policy '{policy.Id}' names no providers (every catalog provider); list them to convert it", nameof(policy));
        }
        var inv = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        text.Append(inv, $"# Converted from the CP1 JSON policy '{policy.Id}' by `beamline policy convert`.\n");
        text.Append(inv, $"policy {policy.Id}():\n");
        if (policy.Version is { } version)
        {
            text.Append(inv, $"  with version({Value.Quote(version)})\n");
        }
        if (!policy.Metadata.IsEmpty)
        {
            text.Append("  with metadata({");
            text.AppendJoin(", ", policy.Metadata.OrderBy(m => m.Key, StringComparer.Ordinal).Select(m => $"{Value.Quote(m.Key)}: {Literal(m.Value)}"));
            text.Append("})\n");
        }
        if (policy.CircuitBreaker is { } breaker)
        {
            text.Append(inv, $"  with circuit_breaker(failure_threshold = {breaker.FailureThreshold}, success_threshold = {breaker.SuccessThreshold}, ");
            text.Append(inv, $"half_open_max_calls = {breaker.HalfOpenMaxCalls}, timeout = {Duration(breaker.OpenTimeout)}, ");
            if (breaker.ErrorRateThreshold is { } rate)
            {
                text.Append(inv, $"error_rate_threshold = {rate.ToString("R", inv)}, ");
            }
            text.Append(inv, $"error_rate_window = {Duration(breaker.ErrorRateWindow)}, trial_timeout = {Duration(breaker.TrialTimeout)})\n");
        }
        foreach (var step in policy.Pre.Concat(policy.Validators).Concat(policy.Post))
        {
            var (function, option) = step.Stage switch
            {
                ExtensionStage.Pre => ("pre", $"mode = \"{(step.Mode == ExtensionMode.Required ? "required" : "optional")}\""),
                ExtensionStage.Post => ("post", $"mode = \"{(step.Mode == ExtensionMode.Required ? "required" : "optional")}\""),
                _ => ("validator", $"on_fail = \"{step.OnFail.ToString().ToLowerInvariant()}\""),
            };
            text.Append(inv, $"  with {function}({Value.Quote(step.Id)}, {option}");
            if (step.Config is { } config)
            {
                text.Append(inv, $", config = {Literal(config)}");
            }
            text.Append(")\n");
        }
        foreach (var rule in policy.Fallbacks)
        {
            text.Append(inv, $"  fallback on([{string.Join(", ", Statuses(rule.When).Select(Value.Quote))}], {Value.Quote(rule.To)}, retry = {rule.Retry}");
            if (!rule.MessageTypes.IsEmpty)
            {
                text.Append(inv, $", message_types = [{string.Join(", ", rule.MessageTypes.Select(Value.Quote))}]");
            }
            text.Append(rule.IsLegacy ? ", legacy = true)\n" : ")\n");
        }
        var candidates = policy.Strategy == RoutingStrategy.Weighted
            ? "split({" + string.Join(", ", policy.Providers.Select(p => $"{Value.Quote(p.Name)}: {p.Weight.ToString("R", inv)}")) + "})"
            : policy.Strategy switch
            {
                RoutingStrategy.Cheapest => "cheapest",
                RoutingStrategy.Fastest => "fastest",
                _ => "best_quality",
            } + "([" + string.Join(", ", policy.Providers.Select(p => Value.Quote(p.Name))) + "])";
        if (policy.Sticky is { } sticky)
        {
            candidates = $"sticky({candidates}, key = {Value.Quote(sticky.SessionKey)}, ttl = {Duration(sticky.Ttl)})";
        }
        text.Append(inv, $"  route {candidates}\n");
        return text.ToString();
    }

    private static IEnumerable<string> Statuses(FailureKinds kinds)
    {
        foreach (var (flag, name) in new[]
        {
            (FailureKinds.Timeout, "timeout"), (FailureKinds.ServerError, "5xx"), (FailureKinds.ServiceUnavailable, "503"),
            (FailureKinds.RateLimited, "rate_limited"), (FailureKinds.CircuitBreakerOpen, "circuit_breaker_open"),
            (FailureKinds.AllProvidersFailed, "all_providers_failed"),
        })
        {
            if ((kinds & flag) != 0)
            {
                yield return name;
            }
        }
    }

    /// <summary>A duration literal in the largest whole unit.</summary>
    internal static string Duration(TimeSpan value)
    {
        var ms = value.TotalMilliseconds;
        var inv = CultureInfo.InvariantCulture;
        return ms % 3_600_000 == 0 ? string.Create(inv, $"{ms / 3_600_000}h")
            : ms % 60_000 == 0 ? string.Create(inv, $"{ms / 60_000}m")
            : ms % 1_000 == 0 ? string.Create(inv, $"{ms / 1_000}s")
            : ms.ToString("R", inv) + "ms";
    }

    private static string Literal(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => "{" + string.Join(", ", element.EnumerateObject().Select(p => $"{Value.Quote(p.Name)}: {Literal(p.Value)}")) + "}",
        JsonValueKind.Array => "[" + string.Join(", ", element.EnumerateArray().Select(Literal)) + "]",
        JsonValueKind.String => Value.Quote(element.GetString()!),
        JsonValueKind.Number => element.GetDouble().ToString("R", CultureInfo.InvariantCulture),
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        _ => "none",
    };
}
