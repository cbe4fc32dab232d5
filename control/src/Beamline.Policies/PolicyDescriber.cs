using System.Globalization;
using System.Text;
using System.Text.Json;
using Beamline.Policies.Internal;

namespace Beamline.Policies;

/// <summary>Says in plain words what a policy will do; <c>beamline policy check</c> prints it.</summary>
public static class PolicyDescriber
{
    /// <summary>A multi-line description of <paramref name="policy"/>.</summary>
    public static string Describe(Policy policy)
    {
        ArgumentNullException.ThrowIfNull(policy);
        var text = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        text.Append(inv, $"Policy '{policy.Id}'");
        if (policy.Version is not null)
        {
            text.Append(inv, $" (version {policy.Version})");
        }
        text.AppendLine(":");

        if (policy.Language is { } language)
        {
            var routes = language.CheckedProgram.Directives;
            text.AppendLine(inv, $"  Routing: a policy-language program with {routes.Length} route(s) of its own (beamline policy check prints the linked plan)");
            foreach (var route in routes)
            {
                text.AppendLine(inv, $"    - {route.Location}: {route.Describe()}");
            }
            return text.ToString();
        }

        switch (policy.Strategy)
        {
            case RoutingStrategy.Weighted:
                text.AppendLine("  Routing: a weighted random pick among");
                foreach (var p in policy.Providers)
                {
                    text.Append(inv, $"    - {p.Name}: {p.Share * 100:0.##}%");
                    text.AppendLine(p.Share == 0 ? " (never picked first; a fallback target only)" : string.Empty);
                }
                break;
            default:
                var what = policy.Strategy switch
                {
                    RoutingStrategy.Cheapest => "the cheapest expected cost",
                    RoutingStrategy.Fastest => "the lowest expected latency",
                    _ => "the best quality score",
                };
                text.Append(inv, $"  Routing: {what} among ");
                text.Append(policy.Providers.IsEmpty ? "every provider in the catalog" : JoinNames(policy));
                text.AppendLine(", within the request's max_cost and max_latency_ms.");
                break;
        }

        if (policy.Sticky is { } sticky)
        {
            text.AppendLine(inv, $"  Sticky sessions: requests with the same '{sticky.SessionKey}' keep their provider for {Durations.Describe(sticky.Ttl)} after it is chosen.");
        }
        else
        {
            text.AppendLine("  Sticky sessions: off.");
        }

        if (policy.Fallbacks.IsEmpty)
        {
            text.AppendLine("  Fallbacks: none; a failure is returned to the caller.");
        }
        else
        {
            text.AppendLine("  Fallbacks, tried in order:");
            var n = 1;
            foreach (var rule in policy.Fallbacks)
            {
                text.Append(inv, $"    {n++}. on {FailureKindNames.Format(rule.When)}");
                if (!rule.MessageTypes.IsEmpty)
                {
                    text.Append(inv, $" for message types {string.Join(", ", rule.MessageTypes)}");
                }
                text.Append(rule.Retry switch
                {
                    0 => ": switch at once",
                    1 => ": retry the failing provider once, then switch",
                    _ => string.Create(inv, $": retry the failing provider {rule.Retry} times, then switch"),
                });
                text.Append(inv, $" to {rule.To}");
                text.AppendLine(rule.IsLegacy ? " (legacy fallback)." : ".");
            }
        }

        if (policy.CircuitBreaker is { } cb)
        {
            text.Append(inv, $"  Circuit breaker: opens after {cb.FailureThreshold} consecutive failures");
            if (cb.ErrorRateThreshold is { } rate)
            {
                text.Append(inv, $" or an error rate of {rate * 100:0.##}% over {Durations.Describe(cb.ErrorRateWindow)}");
            }
            text.AppendLine(inv, $"; stays open {Durations.Describe(cb.OpenTimeout)}, then lets {cb.HalfOpenMaxCalls} trial call(s) through at once; {cb.SuccessThreshold} success(es) close it, a failure reopens it.");
        }
        else
        {
            text.AppendLine("  Circuit breaker: off.");
        }

        AppendExtensions(text, "Pre-processing", policy.Pre);
        AppendExtensions(text, "Validators", policy.Validators);
        AppendExtensions(text, "Post-processing", policy.Post);

        if (!policy.Metadata.IsEmpty)
        {
            text.Append("  Metadata:");
            var keys = policy.Metadata.Keys.ToArray();
            Array.Sort(keys, StringComparer.Ordinal);
            foreach (var key in keys)
            {
                var value = policy.Metadata[key];
                text.Append(inv, $" {key}={(value.ValueKind == JsonValueKind.String ? value.GetString() : value.GetRawText())};");
            }
            text.Length--;
            text.AppendLine(".");
        }
        return text.ToString();
    }

    private static void AppendExtensions(StringBuilder text, string title, System.Collections.Immutable.ImmutableArray<ExtensionStep> steps)
    {
        if (steps.IsEmpty)
        {
            return;
        }
        text.Append(CultureInfo.InvariantCulture, $"  {title}:");
        var first = true;
        foreach (var step in steps)
        {
            text.Append(first ? " " : ", ");
            first = false;
            text.Append(step.Id);
            text.Append(step.Stage == ExtensionStage.Validate
                ? step.OnFail switch
                {
                    ValidatorFailAction.Block => " (blocks on failure)",
                    ValidatorFailAction.Warn => " (warns on failure)",
                    _ => " (failure ignored)",
                }
                : step.Mode == ExtensionMode.Required ? " (required)" : " (optional)");
        }
        text.AppendLine(".");
    }

    private static string JoinNames(Policy policy)
    {
        var names = new string[policy.Providers.Length];
        for (var i = 0; i < names.Length; i++)
        {
            names[i] = policy.Providers[i].Name;
        }
        return string.Join(", ", names);
    }
}
