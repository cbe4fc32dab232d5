using System.Collections.Immutable;
using Beamline.Policies;

namespace Beamline.Routing.Fallbacks;

/// <summary>What the executor does after a failed call.</summary>
public enum FallbackAction
{
    /// <summary>Call the same provider again.</summary>
    Retry,

    /// <summary>Call <see cref="FallbackStep.ProviderId"/> instead.</summary>
    Switch,

    /// <summary>No rule applies any more: answer with the failure (<c>all_providers_failed</c>).</summary>
    GiveUp,
}

/// <summary>One step of a fallback walk.</summary>
/// <param name="Action">What to do.</param>
/// <param name="ProviderId">The provider to call next; null for <see cref="FallbackAction.GiveUp"/>.</param>
/// <param name="RuleIndex">The rule that applied, or -1.</param>
/// <param name="RetryNumber">For a retry, which retry of this rule it is (1-based); otherwise 0.</param>
public readonly record struct FallbackStep(FallbackAction Action, string? ProviderId, int RuleIndex, int RetryNumber);

/// <summary>Where a fallback walk stands; start with <c>default</c>.</summary>
public struct FallbackCursor
{
    internal int ActiveRule;
    internal int RetriesUsed;
    internal ulong UsedRules;

    /// <summary>Failed calls seen so far.</summary>
    public int Failures { get; internal set; }
}

/// <summary>
/// A policy's fallback rules compiled for the executor's loop. After each failed call the
/// executor asks <see cref="Next"/>: the first unused rule (in policy order) whose statuses and
/// message types match the failure applies; the failing provider is retried <c>retry</c> times
/// under it, then the walk switches to its <c>to</c> and the rule is spent. A rule whose target is
/// the failing provider itself is skipped. When nothing matches, a rule listing
/// <c>all_providers_failed</c> applies; after that the walk gives up. Every rule is used at most
/// once, so a walk ends after at most Σ(retry + 1) steps.
/// </summary>
public sealed class FallbackPlan
{
    internal FallbackPlan(ImmutableArray<FallbackRule> rules) => Rules = rules;

    /// <summary>The rules, in order.</summary>
    public ImmutableArray<FallbackRule> Rules { get; }

    /// <summary>Builds a plan from a policy's rules.</summary>
    public static FallbackPlan For(Policy policy)
    {
        ArgumentNullException.ThrowIfNull(policy);
        return new FallbackPlan(policy.Fallbacks.Length <= 64 ? policy.Fallbacks : policy.Fallbacks[..64]);
    }

    /// <summary>The step after <paramref name="failedProvider"/> failed with <paramref name="failure"/>.</summary>
    public FallbackStep Next(ref FallbackCursor cursor, string failedProvider, FailureKinds failure, string? messageType)
    {
        ArgumentNullException.ThrowIfNull(failedProvider);
        cursor.Failures++;
        if (failure == FailureKinds.None)
        {
            return new FallbackStep(FallbackAction.GiveUp, null, -1, 0);
        }
        var rules = Rules.AsSpan();
        for (var i = 0; i < rules.Length; i++)
        {
            var rule = rules[i];
            if ((cursor.UsedRules & (1UL << i)) != 0 || (rule.When & failure) == 0 || !MatchesType(rule, messageType))
            {
                continue;
            }
            if (cursor.ActiveRule != i + 1)
            {
                cursor.ActiveRule = i + 1;
                cursor.RetriesUsed = 0;
            }
            if (cursor.RetriesUsed < rule.Retry)
            {
                cursor.RetriesUsed++;
                return new FallbackStep(FallbackAction.Retry, failedProvider, i, cursor.RetriesUsed);
            }
            cursor.UsedRules |= 1UL << i;
            cursor.ActiveRule = 0;
            cursor.RetriesUsed = 0;
            if (string.Equals(rule.To, failedProvider, StringComparison.Ordinal))
            {
                continue;
            }
            return new FallbackStep(FallbackAction.Switch, rule.To, i, 0);
        }
        for (var i = 0; i < rules.Length; i++)
        {
            var rule = rules[i];
            if ((cursor.UsedRules & (1UL << i)) == 0 && (rule.When & FailureKinds.AllProvidersFailed) != 0
                && MatchesType(rule, messageType) && !string.Equals(rule.To, failedProvider, StringComparison.Ordinal))
            {
                cursor.UsedRules |= 1UL << i;
                cursor.ActiveRule = 0;
                cursor.RetriesUsed = 0;
                return new FallbackStep(FallbackAction.Switch, rule.To, i, 0);
            }
        }
        return new FallbackStep(FallbackAction.GiveUp, null, -1, 0);
    }

    /// <summary>Marks the active rule's retries as spent, so the next step switches to its target.</summary>
    internal static void SkipRetries(ref FallbackCursor cursor, int retry)
    {
        cursor.RetriesUsed = retry;
        cursor.Failures--;
    }

    /// <summary>The first rule handling <paramref name="failure"/> at decision time (no retries), or -1.</summary>
    internal int FindImmediate(FailureKinds failure, string? messageType)
    {
        var rules = Rules.AsSpan();
        for (var i = 0; i < rules.Length; i++)
        {
            if ((rules[i].When & failure) != 0 && MatchesType(rules[i], messageType))
            {
                return i;
            }
        }
        return -1;
    }

    private static bool MatchesType(FallbackRule rule, string? messageType)
    {
        if (rule.MessageTypes.IsEmpty)
        {
            return true;
        }
        foreach (var type in rule.MessageTypes)
        {
            if (string.Equals(type, messageType, StringComparison.Ordinal))
            {
                return true;
            }
        }
        return false;
    }
}
