using System.Security.Cryptography;
using System.Text;

namespace Beamline.Accounting.Alerts;

/// <summary>
/// A budget crossed one of its alert thresholds: raised once per (tenant, level, id, budget kind,
/// period, threshold) by <see cref="BudgetAlerts"/>, whoever reports it how often.
/// </summary>
/// <param name="TenantId">The tenant.</param>
/// <param name="Level">The budget's level: <see cref="BudgetLevels.Key"/>, <see cref="BudgetLevels.Team"/> or <see cref="BudgetLevels.Tenant"/>.</param>
/// <param name="LevelId">The key, team or tenant id.</param>
/// <param name="BudgetKind"><see cref="BudgetKinds.Monthly"/> or <see cref="BudgetKinds.Daily"/>.</param>
/// <param name="Period">The budget's period: <c>2026-11</c> (monthly) or <c>2026-11-30</c> (daily), UTC.</param>
/// <param name="ThresholdPercent">The threshold crossed, in percent of the budget (50, 80, 100 by default).</param>
/// <param name="SpentUsd">The spend when it was crossed.</param>
/// <param name="BudgetUsd">The budget.</param>
/// <param name="Time">When it was crossed.</param>
public sealed record BudgetAlert(string TenantId, string Level, string LevelId, string BudgetKind, string Period, int ThresholdPercent,
    decimal SpentUsd, decimal BudgetUsd, DateTimeOffset Time)
{
    /// <summary>
    /// A stable id of the alert (hex of a SHA-256 of what makes it unique): sent as
    /// <c>X-Beamline-Delivery</c> and <c>alert_id</c>, so that a receiver can drop a redelivery.
    /// </summary>
    public string AlertId
    {
        get
        {
            var key = $"{TenantId}\n{Level}\n{LevelId}\n{BudgetKind}\n{Period}\n{ThresholdPercent}";
            return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)).AsSpan(0, 16));
        }
    }
}

/// <summary>The levels budgets are kept at.</summary>
public static class BudgetLevels
{
    /// <summary>An API key.</summary>
    public const string Key = "key";

    /// <summary>A team.</summary>
    public const string Team = "team";

    /// <summary>The whole tenant.</summary>
    public const string Tenant = "tenant";
}

/// <summary>The kinds of spend budget.</summary>
public static class BudgetKinds
{
    /// <summary>Per calendar month, UTC.</summary>
    public const string Monthly = "monthly";

    /// <summary>Per day, UTC.</summary>
    public const string Daily = "daily";
}
