using System.Collections.Immutable;

namespace Beamline.Tenancy;

/// <summary>
/// What a tenant, a team or an API key may use. Every member is optional: <c>null</c> means
/// "not set here, inherit from the level above" (key → team → tenant); unset at every level
/// means unlimited.
/// </summary>
/// <remarks>
/// A level can tighten its parent's limits, never loosen them: the tenant's limits are also
/// enforced on the tenant as a whole, so a team or key allowance above them could never be used.
/// The effective value is therefore the smallest one set along the chain, and the effective
/// allow-lists are the intersection of the lists set along it. See <see cref="Narrow"/>.
/// </remarks>
public sealed record TenancyLimits
{
    /// <summary>No limit set at this level: everything inherits.</summary>
    public static TenancyLimits None { get; } = new();

    /// <summary>Requests per minute (sliding minute). Unset inherits. Enforced by <see cref="Quotas.QuotaGate"/>.</summary>
    public int? RequestsPerMinute { get; init; }

    /// <summary>
    /// Prompt + completion tokens per minute (sliding minute; a call's largest token count is
    /// reserved before it and settled to the actual count after). Unset inherits. Enforced by
    /// <see cref="Budgets.BudgetGate"/>.
    /// </summary>
    public long? TokensPerMinute { get; init; }

    /// <summary>
    /// Spend per calendar month (UTC), in US dollars. Unset inherits. Enforced by
    /// <see cref="Budgets.BudgetGate"/> (a call's largest cost is reserved before it, settled after).
    /// </summary>
    public decimal? MonthlyBudgetUsd { get; init; }

    /// <summary>
    /// Spend per calendar day (UTC), in US dollars. Unset inherits. Enforced by
    /// <see cref="Budgets.BudgetGate"/>, like <see cref="MonthlyBudgetUsd"/>.
    /// </summary>
    public decimal? DailyBudgetUsd { get; init; }

    /// <summary>Requests in flight at once. Unset inherits. Enforced by <see cref="Quotas.QuotaGate"/>.</summary>
    public int? MaxConcurrentRequests { get; init; }

    /// <summary>Policy ids that may be named in a request (the default policy counts too). Unset inherits; empty allows none.</summary>
    public ImmutableArray<string>? AllowedPolicies { get; init; }

    /// <summary>Provider ids that routing may pick. Unset inherits; empty allows none.</summary>
    public ImmutableArray<string>? AllowedProviders { get; init; }

    /// <summary>True when no member is set.</summary>
    public bool IsEmpty => RequestsPerMinute is null && TokensPerMinute is null && MonthlyBudgetUsd is null
        && DailyBudgetUsd is null && MaxConcurrentRequests is null && AllowedPolicies is null && AllowedProviders is null;

    /// <summary>
    /// These limits (set at a child level) applied on top of the parent's effective limits:
    /// unset members inherit, set ones can only tighten.
    /// </summary>
    public TenancyLimits Narrow(TenancyLimits parent)
    {
        ArgumentNullException.ThrowIfNull(parent);
        if (IsEmpty)
        {
            return parent;
        }
        return new TenancyLimits
        {
            RequestsPerMinute = Min(RequestsPerMinute, parent.RequestsPerMinute),
            TokensPerMinute = Min(TokensPerMinute, parent.TokensPerMinute),
            MonthlyBudgetUsd = Min(MonthlyBudgetUsd, parent.MonthlyBudgetUsd),
            DailyBudgetUsd = Min(DailyBudgetUsd, parent.DailyBudgetUsd),
            MaxConcurrentRequests = Min(MaxConcurrentRequests, parent.MaxConcurrentRequests),
            AllowedPolicies = Intersect(AllowedPolicies, parent.AllowedPolicies),
            AllowedProviders = Intersect(AllowedProviders, parent.AllowedProviders),
        };
    }

    /// <summary>Whether <paramref name="policyId"/> may be used. Allocation-free.</summary>
    public bool AllowsPolicy(ReadOnlySpan<char> policyId) => Contains(AllowedPolicies, policyId);

    /// <summary>Whether <paramref name="providerId"/> may be routed to. Allocation-free.</summary>
    public bool AllowsProvider(ReadOnlySpan<char> providerId) => Contains(AllowedProviders, providerId);

    /// <inheritdoc />
    public bool Equals(TenancyLimits? other) => other is not null
        && RequestsPerMinute == other.RequestsPerMinute && TokensPerMinute == other.TokensPerMinute
        && MonthlyBudgetUsd == other.MonthlyBudgetUsd && DailyBudgetUsd == other.DailyBudgetUsd
        && MaxConcurrentRequests == other.MaxConcurrentRequests
        && SameList(AllowedPolicies, other.AllowedPolicies) && SameList(AllowedProviders, other.AllowedProviders);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(RequestsPerMinute, TokensPerMinute, MonthlyBudgetUsd,
        DailyBudgetUsd, MaxConcurrentRequests, AllowedPolicies?.Length, AllowedProviders?.Length);

    private static T? Min<T>(T? own, T? parent) where T : struct, IComparable<T>
        => own is null ? parent : parent is null ? own : own.Value.CompareTo(parent.Value) <= 0 ? own : parent;

    private static ImmutableArray<string>? Intersect(ImmutableArray<string>? own, ImmutableArray<string>? parent)
    {
        if (own is null)
        {
            return parent;
        }
        if (parent is null)
        {
            return own;
        }
        var builder = ImmutableArray.CreateBuilder<string>();
        foreach (var id in own.Value)
        {
            if (parent.Value.Contains(id, StringComparer.Ordinal))
            {
                builder.Add(id);
            }
        }
        return builder.ToImmutable();
    }

    private static bool Contains(ImmutableArray<string>? list, ReadOnlySpan<char> id)
    {
        if (list is not { } items)
        {
            return true;
        }
        foreach (var item in items)
        {
            if (id.SequenceEqual(item))
            {
                return true;
            }
        }
        return false;
    }

    private static bool SameList(ImmutableArray<string>? a, ImmutableArray<string>? b)
        => a is null ? b is null : b is not null && a.Value.SequenceEqual(b.Value, StringComparer.Ordinal);
}
