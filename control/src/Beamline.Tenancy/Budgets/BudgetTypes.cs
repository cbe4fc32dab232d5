using System.Globalization;

namespace Beamline.Tenancy.Budgets;

/// <summary>A level whose spend and tokens the <see cref="BudgetGate"/> counts.</summary>
public enum BudgetLevel
{
    /// <summary>An API key.</summary>
    Key,

    /// <summary>A team: all its keys together.</summary>
    Team,

    /// <summary>A tenant: all its keys (and the trusted bus's requests) together.</summary>
    Tenant,
}

/// <summary>A limit the <see cref="BudgetGate"/> enforces.</summary>
public enum BudgetLimit
{
    /// <summary><see cref="TenancyLimits.MonthlyBudgetUsd"/>: spend per UTC calendar month.</summary>
    MonthlyBudget,

    /// <summary><see cref="TenancyLimits.DailyBudgetUsd"/>: spend per UTC calendar day.</summary>
    DailyBudget,

    /// <summary><see cref="TenancyLimits.TokensPerMinute"/>: tokens per sliding minute.</summary>
    TokensPerMinute,
}

/// <summary>The period of a budget.</summary>
public enum BudgetKind
{
    /// <summary>A UTC calendar month.</summary>
    Monthly,

    /// <summary>A UTC calendar day.</summary>
    Daily,
}

/// <summary>The names of levels and limits as CP1 errors, the admin API and alerts write them.</summary>
public static class BudgetNames
{
    /// <summary><c>key</c>, <c>team</c> or <c>tenant</c>.</summary>
    public static string Of(BudgetLevel level) => level switch
    {
        BudgetLevel.Key => "key",
        BudgetLevel.Team => "team",
        _ => "tenant",
    };

    /// <summary>The limit's member name in tenancy's <c>limits</c>: <c>monthly_budget_usd</c>, <c>daily_budget_usd</c> or <c>tokens_per_minute</c>.</summary>
    public static string Of(BudgetLimit limit) => limit switch
    {
        BudgetLimit.MonthlyBudget => "monthly_budget_usd",
        BudgetLimit.DailyBudget => "daily_budget_usd",
        _ => "tokens_per_minute",
    };

    /// <summary><c>monthly</c> or <c>daily</c>.</summary>
    public static string Of(BudgetKind kind) => kind == BudgetKind.Monthly ? "monthly" : "daily";
}

/// <summary>A counter's identity: team ids are unique within their tenant, key ids across tenants.</summary>
/// <param name="Level">The level.</param>
/// <param name="TenantId">The tenant of the level.</param>
/// <param name="Id">The level's id: the key id, the team id or the tenant id.</param>
public readonly record struct BudgetCounterKey(BudgetLevel Level, string TenantId, string Id);

/// <summary>
/// One reading of the clock as the counters use it: the UTC month and day as integers (no strings
/// per call) and the second, for the tokens-per-minute window.
/// </summary>
/// <param name="Month">Months since year 0: <c>year * 12 + month - 1</c>.</param>
/// <param name="Day">Days since 0001-01-01 (UTC).</param>
/// <param name="Second">Seconds since 0001-01-01 (UTC).</param>
public readonly record struct BudgetClock(int Month, int Day, long Second)
{
    private const long SecondsPerDay = 86_400;

    /// <summary>The periods of <paramref name="now"/> (taken as UTC).</summary>
    public static BudgetClock From(DateTimeOffset now)
    {
        var utc = now.UtcDateTime;
        return new BudgetClock(utc.Year * 12 + utc.Month - 1, (int)(utc.Ticks / TimeSpan.TicksPerDay), utc.Ticks / TimeSpan.TicksPerSecond);
    }

    /// <summary>The month as <c>2026-11</c>.</summary>
    public string MonthText => MonthName(Month);

    /// <summary>The day as <c>2026-11-30</c>.</summary>
    public string DayText => DayName(Day);

    /// <summary>Seconds until the next UTC day starts (at least 1).</summary>
    public int SecondsToNextDay => (int)Math.Max(1, (Day + 1) * SecondsPerDay - Second);

    /// <summary>Seconds until the next UTC month starts (at least 1).</summary>
    public int SecondsToNextMonth
    {
        get
        {
            var next = new DateTime(Month / 12, Month % 12 + 1, 1, 0, 0, 0, DateTimeKind.Utc).AddMonths(1);
            return (int)Math.Clamp(next.Ticks / TimeSpan.TicksPerSecond - Second, 1, int.MaxValue);
        }
    }

    /// <summary>A month index (<see cref="Month"/>) as <c>2026-11</c>.</summary>
    public static string MonthName(int month)
        => string.Create(CultureInfo.InvariantCulture, $"{month / 12:D4}-{month % 12 + 1:D2}");

    /// <summary>A day number (<see cref="Day"/>) as <c>2026-11-30</c>.</summary>
    public static string DayName(int day)
        => new DateTime(day * TimeSpan.TicksPerDay, DateTimeKind.Utc).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
}

/// <summary>The budgets set on one level, in counter units.</summary>
/// <param name="MonthlyNanos">Spend per month, nano-dollars, or <see cref="Unlimited"/>.</param>
/// <param name="DailyNanos">Spend per day, nano-dollars, or <see cref="Unlimited"/>.</param>
/// <param name="TokensPerMinute">Tokens per sliding minute, or <see cref="Unlimited"/>.</param>
public readonly record struct BudgetLimits(long MonthlyNanos, long DailyNanos, long TokensPerMinute)
{
    /// <summary>No limit.</summary>
    public const long Unlimited = long.MaxValue;

    /// <summary>Nothing limited.</summary>
    public static BudgetLimits None => new(Unlimited, Unlimited, Unlimited);

    /// <summary>Whether any member is limited.</summary>
    public bool Any => MonthlyNanos != Unlimited || DailyNanos != Unlimited || TokensPerMinute != Unlimited;

    /// <summary>The budgets of one level's own <paramref name="limits"/> (dollars to nano-dollars, rounded down).</summary>
    public static BudgetLimits Of(TenancyLimits limits)
    {
        ArgumentNullException.ThrowIfNull(limits);
        return new BudgetLimits(ToNanos(limits.MonthlyBudgetUsd), ToNanos(limits.DailyBudgetUsd), limits.TokensPerMinute ?? Unlimited);
    }

    /// <summary>US dollars as nano-dollars; unset, or more than a long holds, is <see cref="Unlimited"/>.</summary>
    public static long ToNanos(decimal? usd) => usd switch
    {
        null => Unlimited,
        >= 9_223_372_036m => Unlimited,
        { } value => (long)decimal.Truncate(value * 1_000_000_000m),
    };
}

/// <summary>One level of a reservation: its counter and the budgets it is checked against.</summary>
/// <param name="Counter">The level's counter, from <see cref="IBudgetCounters.Open"/>.</param>
/// <param name="Limits">The level's own budgets.</param>
public readonly record struct BudgetCharge(BudgetCounter Counter, BudgetLimits Limits);

/// <summary>Why <see cref="IBudgetCounters.TryReserve"/> or <see cref="IBudgetCounters.Check"/> refused.</summary>
/// <param name="Index">The refusing level's index in the charges.</param>
/// <param name="Limit">The limit reached.</param>
/// <param name="LimitValue">Its value (nano-dollars, or tokens).</param>
/// <param name="Used">What the level had used (spent plus reserved, or tokens in the window plus reserved).</param>
/// <param name="RetryAfterSeconds">When it may admit again: the day's or month's end, or when enough of the minute has slid out.</param>
public readonly record struct BudgetShortfall(int Index, BudgetLimit Limit, long LimitValue, long Used, int RetryAfterSeconds);

/// <summary>What one level's settled spend was before and after a settle (for threshold alerts).</summary>
/// <param name="MonthBefore">The month's spend before, nano-dollars.</param>
/// <param name="MonthAfter">After.</param>
/// <param name="DayBefore">The day's spend before.</param>
/// <param name="DayAfter">After.</param>
public readonly record struct BudgetSpendChange(long MonthBefore, long MonthAfter, long DayBefore, long DayAfter);

/// <summary>One level's usage at a moment (for reporting and tests).</summary>
/// <param name="MonthSpentNanos">Settled spend this month.</param>
/// <param name="DaySpentNanos">Settled spend today.</param>
/// <param name="ReservedNanos">Reserved by calls in flight.</param>
/// <param name="ReservedTokens">Tokens reserved by calls in flight.</param>
/// <param name="WindowTokens">Settled tokens of the sliding minute.</param>
public readonly record struct BudgetUsage(long MonthSpentNanos, long DaySpentNanos, long ReservedNanos, long ReservedTokens, long WindowTokens);
