using System.Globalization;
using System.Text.Json;
using Beamline.Pipeline.Costs;

namespace Beamline.Accounting.Reports;

/// <summary>
/// The JSON of a <see cref="UsageReport"/> (docs/usage.md): <c>{period, tenant_id, spend_usd, budget_usd,
/// budget_used_percent, requests, input_tokens, output_tokens, cached_input_tokens, estimated_requests,
/// by_provider, by_model, by_team, by_key, daily, forecast, suggestions}</c>. Money is in USD as exact decimals.
/// </summary>
public static class UsageJson
{
    /// <summary>Writes the report as one object (the member's value; the caller writes the name).</summary>
    public static void Write(Utf8JsonWriter writer, UsageReport report)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(report);
        writer.WriteStartObject();
        writer.WriteString("period", report.Period.ToString());
        writer.WriteString("tenant_id", report.TenantId);
        writer.WriteNumber("spend_usd", report.SpendUsd);
        WriteBudget(writer, "budget_usd", "budget_used_percent", report.BudgetUsd, report.SpendUsd);
        writer.WriteNumber("requests", report.Requests);
        writer.WriteNumber("input_tokens", report.InputTokens);
        writer.WriteNumber("output_tokens", report.OutputTokens);
        writer.WriteNumber("cached_input_tokens", report.CachedInputTokens);
        writer.WriteNumber("estimated_requests", report.EstimatedRequests);
        WriteBreakdown(writer, "by_provider", report.ByProvider);
        WriteBreakdown(writer, "by_model", report.ByModel);
        WriteBreakdown(writer, "by_team", report.ByTeam);
        WriteBreakdown(writer, "by_key", report.ByKey);
        writer.WriteStartArray("daily");
        foreach (var day in report.Daily)
        {
            writer.WriteStartObject();
            writer.WriteString("day", day.Day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
            writer.WriteNumber("spend_usd", day.SpendUsd);
            writer.WriteNumber("requests", day.Requests);
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
        WriteForecast(writer, report.Forecast, report.BudgetUsd);
        writer.WriteStartArray("suggestions");
        foreach (var suggestion in report.Suggestions)
        {
            WriteSuggestion(writer, suggestion);
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    private static void WriteBreakdown(Utf8JsonWriter writer, string name, IEnumerable<UsageBreakdown> lines)
    {
        writer.WriteStartArray(name);
        foreach (var line in lines)
        {
            writer.WriteStartObject();
            if (line.Id is null)
            {
                writer.WriteNull("id");
            }
            else
            {
                writer.WriteString("id", line.Id);
            }
            writer.WriteNumber("requests", line.Requests);
            writer.WriteNumber("input_tokens", line.InputTokens);
            writer.WriteNumber("output_tokens", line.OutputTokens);
            writer.WriteNumber("cached_input_tokens", line.CachedInputTokens);
            writer.WriteNumber("spend_usd", line.SpendUsd);
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
    }

    private static void WriteForecast(Utf8JsonWriter writer, SpendForecast forecast, decimal? budgetUsd)
    {
        writer.WriteStartObject("forecast");
        writer.WriteString("method", forecast.Method);
        writer.WriteString("description", forecast.Method switch
        {
            SpendForecast.RecentDailyMean => "spend of complete days + max(today so far, rate) + rate × days left; rate = mean spend of the last 7 complete days (fewer early in the month; today's on day 1)",
            SpendForecast.Actual => "the period has ended: its actual spend",
            _ => "the period has not begun",
        });
        writer.WriteNumber("end_of_period_spend_usd", forecast.EndOfPeriodUsd);
        WriteBudget(writer, null, "end_of_period_budget_percent", budgetUsd, forecast.EndOfPeriodUsd);
        writer.WriteNumber("spend_to_date_usd", Nanos.ToUsd(forecast.SpendToDateNanos));
        writer.WriteNumber("today_spend_usd", Nanos.ToUsd(forecast.TodayNanos));
        writer.WriteNumber("daily_rate_usd", Nanos.ToUsd(forecast.DailyRateNanos));
        writer.WriteNumber("rate_days", forecast.RateDays);
        writer.WriteNumber("days_in_period", forecast.DaysInPeriod);
        writer.WriteNumber("days_elapsed", forecast.DaysElapsed);
        writer.WriteNumber("days_left", forecast.DaysLeft);
        writer.WriteEndObject();
    }

    private static void WriteSuggestion(Utf8JsonWriter writer, ProviderSuggestion suggestion)
    {
        writer.WriteStartObject();
        writer.WriteString("provider", suggestion.ProviderId);
        writer.WriteString("model", suggestion.Model);
        writer.WriteNumber("spend_usd", Nanos.ToUsd(suggestion.CostNanos));
        writer.WriteString("suggested_provider", suggestion.SuggestedProviderId);
        writer.WriteString("suggested_model", suggestion.SuggestedModel);
        writer.WriteNumber("estimated_spend_usd", Nanos.ToUsd(suggestion.EstimatedCostNanos));
        writer.WriteNumber("estimated_saving_usd", Nanos.ToUsd(suggestion.EstimatedSavingNanos));
        writer.WriteNumber("quality_score", suggestion.QualityScore);
        writer.WriteNumber("suggested_quality_score", suggestion.SuggestedQualityScore);
        writer.WriteNumber("latency_ms", Math.Round(suggestion.LatencyMs, 3));
        writer.WriteNumber("suggested_latency_ms", Math.Round(suggestion.SuggestedLatencyMs, 3));
        writer.WriteString("reason", string.Create(CultureInfo.InvariantCulture,
            $"same tokens at {suggestion.SuggestedProviderId}'s prices; quality within {ProviderSuggestions.QualityTolerance}, observed latency within {ProviderSuggestions.LatencyFactor}x"));
        writer.WriteEndObject();
    }

    // budget_usd (when a name is given) and the percent of it that amount is; null when no budget is set.
    private static void WriteBudget(Utf8JsonWriter writer, string? budgetName, string percentName, decimal? budgetUsd, decimal amountUsd)
    {
        if (budgetName is not null)
        {
            if (budgetUsd is { } budget)
            {
                writer.WriteNumber(budgetName, budget);
            }
            else
            {
                writer.WriteNull(budgetName);
            }
        }
        if (budgetUsd is { } limit && limit > 0)
        {
            writer.WriteNumber(percentName, decimal.Round(amountUsd * 100 / limit, 2, MidpointRounding.AwayFromZero));
        }
        else
        {
            writer.WriteNull(percentName);
        }
    }
}
