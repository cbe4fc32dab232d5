using Beamline.Accounting.Ledger;
using Beamline.Accounting.Reports;

namespace Beamline.Accounting.Tests.Reports;

/// <summary>The forecast against series computed by hand (amounts in whole dollars, as nanos).</summary>
public sealed class SpendForecastTests
{
    private const long Usd = 1_000_000_000;
    private static readonly UsagePeriod November = UsagePeriod.Of(new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero));

    [Fact]
    public void Compute_MidMonth_MeanOfTheLastSevenCompleteDays()
    {
        // Days 1–9 spent 1..9, today (the 10th) 2 so far. Rate = mean(3..9) = 42 / 7 = 6.
        // End = complete (45) + max(today 2, rate 6) + 6 × 20 days left = 171.
        long[] daily = [1 * Usd, 2 * Usd, 3 * Usd, 4 * Usd, 5 * Usd, 6 * Usd, 7 * Usd, 8 * Usd, 9 * Usd, 2 * Usd];

        var forecast = SpendForecast.Compute(November, daily, At(10, 12));

        Assert.Equal(SpendForecast.RecentDailyMean, forecast.Method);
        Assert.Equal(171 * Usd, forecast.EndOfPeriodNanos);
        Assert.Equal(171m, forecast.EndOfPeriodUsd);
        Assert.Equal(47 * Usd, forecast.SpendToDateNanos);
        Assert.Equal(6 * Usd, forecast.DailyRateNanos);
        Assert.Equal(7, forecast.RateDays);
        Assert.Equal(2 * Usd, forecast.TodayNanos);
        Assert.Equal((30, 10, 20), (forecast.DaysInPeriod, forecast.DaysElapsed, forecast.DaysLeft));
    }

    [Fact]
    public void Compute_TodayAboveTheRate_CountsTodayAsItIs()
    {
        // Day 3: complete days 4 and 0 (rate 2), today already 10. End = 4 + 10 + 2 × 27 = 68.
        var forecast = SpendForecast.Compute(November, [4 * Usd, 0, 10 * Usd], At(3, 18));

        Assert.Equal(68 * Usd, forecast.EndOfPeriodNanos);
        Assert.Equal(2, forecast.RateDays);
        Assert.Equal(2 * Usd, forecast.DailyRateNanos);
    }

    [Fact]
    public void Compute_FirstDay_TodaysSpendIsTheRate()
    {
        // No complete day: rate = today's 3. End = 0 + 3 + 3 × 29 = 90.
        var forecast = SpendForecast.Compute(November, [3 * Usd], At(1, 6));

        Assert.Equal(90 * Usd, forecast.EndOfPeriodNanos);
        Assert.Equal(0, forecast.RateDays);
    }

    [Fact]
    public void Compute_FractionalRate_RoundsOnlyTheResult()
    {
        // Day 4: complete 1, 0, 0 nanos (rate 1/3), today 0. End = 1 + 1/3 + 26/3 = 10 nanos exactly.
        var forecast = SpendForecast.Compute(November, [1, 0, 0, 0], At(4, 1));

        Assert.Equal(10, forecast.EndOfPeriodNanos);
        Assert.Equal(0, forecast.DailyRateNanos);
    }

    [Fact]
    public void Compute_PastPeriod_IsItsActualSpend()
    {
        var daily = new long[30];
        daily[0] = 5 * Usd;
        daily[29] = 7 * Usd;

        var forecast = SpendForecast.Compute(November, daily, new DateTimeOffset(2026, 12, 2, 0, 0, 0, TimeSpan.Zero));

        Assert.Equal(SpendForecast.Actual, forecast.Method);
        Assert.Equal(12 * Usd, forecast.EndOfPeriodNanos);
        Assert.Equal(0, forecast.DaysLeft);
    }

    [Fact]
    public void Compute_FuturePeriod_HasNone()
    {
        var forecast = SpendForecast.Compute(November, [], new DateTimeOffset(2026, 10, 31, 23, 0, 0, TimeSpan.Zero));

        Assert.Equal(SpendForecast.None, forecast.Method);
        Assert.Equal(0, forecast.EndOfPeriodNanos);
    }

    private static DateTimeOffset At(int day, int hour) => new(2026, 11, day, hour, 0, 0, TimeSpan.Zero);
}
