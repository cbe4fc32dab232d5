using Microsoft.Extensions.Options;

namespace Beamline.Tenancy.Budgets;

/// <summary>Budget enforcement settings, bound from <c>Beamline:Budgets</c>.</summary>
public sealed class BudgetOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Beamline:Budgets";

    /// <summary>The thresholds used when <see cref="AlertThresholds"/> is not set: 50, 80 and 100 %.</summary>
    public static IReadOnlyList<int> DefaultAlertThresholds { get; } = [50, 80, 100];

    /// <summary>
    /// The percentages of each monthly and daily budget whose crossing raises an alert (to
    /// <see cref="IBudgetAlertSink"/>), 1 to 1000 each. Defaults to null: <see cref="DefaultAlertThresholds"/>.
    /// An empty list raises none.
    /// </summary>
    public int[]? AlertThresholds { get; set; }

    /// <summary>The thresholds after defaults, ascending and distinct.</summary>
    public int[] ResolvedAlertThresholds => [.. (AlertThresholds ?? DefaultAlertThresholds).Distinct().Order()];
}

/// <summary>Validates <see cref="BudgetOptions"/> at start.</summary>
public sealed class BudgetOptionsValidator : IValidateOptions<BudgetOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, BudgetOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.AlertThresholds is { } thresholds)
        {
            foreach (var percent in thresholds)
            {
                if (percent is < 1 or > 1000)
                {
                    return ValidateOptionsResult.Fail($"Beamline:Budgets:AlertThresholds: {percent} is not a percentage from 1 to 1000.");
                }
            }
        }
        return ValidateOptionsResult.Success;
    }
}
