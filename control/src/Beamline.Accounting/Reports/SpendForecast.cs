using Beamline.Accounting.Ledger;
using Beamline.Pipeline.Costs;

namespace Beamline.Accounting.Reports;

/// <summary>
/// A forecast of a period's end spend from its daily series, with the inputs it used.
/// </summary>
/// <remarks>
/// <para>The method (<see cref="RecentDailyMean"/>), for the current month on day <c>d</c> of <c>D</c>:</para>
/// <list type="bullet">
/// <item>the daily rate is the mean spend of the last 7 complete days (days <c>d−7 … d−1</c>), or of
/// every complete day when fewer than 7 have passed; days without traffic count as zero. On the
/// first day, with no complete day yet, the rate is today's spend so far.</item>
/// <item>end of period = spend of the complete days + max(today's spend so far, rate) + rate × (D − d):
/// today counts as at least a typical day, and every day after it as a typical day.</item>
/// </list>
/// <para>
/// A mean of recent whole days follows a change of traffic within a week and is not thrown by the
/// hour of the day the report is asked at (a partial day is never extrapolated, except on day 1).
/// A least-squares trend was not used: over a handful of points one busy day swings its slope, and a
/// month's projection multiplies that swing by up to thirty.
/// A past month's "forecast" is its actual spend (<see cref="Actual"/>); a month not begun yet has
/// none (<see cref="None"/>).
/// </para>
/// </remarks>
public sealed record SpendForecast
{
    /// <summary>The method for the current month (see the remarks).</summary>
    public const string RecentDailyMean = "recent_daily_mean";

    /// <summary>A period that has ended: its spend.</summary>
    public const string Actual = "actual";

    /// <summary>A period that has not begun.</summary>
    public const string None = "none";

    /// <summary>How many complete days the rate averages at most.</summary>
    public const int RateWindowDays = 7;

    /// <summary>One of <see cref="RecentDailyMean"/>, <see cref="Actual"/>, <see cref="None"/>.</summary>
    public required string Method { get; init; }

    /// <summary>The forecast spend at the period's end, in nano-dollars.</summary>
    public long EndOfPeriodNanos { get; init; }

    /// <summary>The spend so far, in nano-dollars.</summary>
    public long SpendToDateNanos { get; init; }

    /// <summary>The daily rate used, in nano-dollars (rounded).</summary>
    public long DailyRateNanos { get; init; }

    /// <summary>How many days the rate averages (0 when it is today's spend).</summary>
    public int RateDays { get; init; }

    /// <summary>The spend of today so far, in nano-dollars (0 unless the period is the current one).</summary>
    public long TodayNanos { get; init; }

    /// <summary>Days in the period.</summary>
    public int DaysInPeriod { get; init; }

    /// <summary>Days of the period begun so far, today included.</summary>
    public int DaysElapsed { get; init; }

    /// <summary>Whole days after today.</summary>
    public int DaysLeft { get; init; }

    /// <summary>The forecast in USD.</summary>
    public decimal EndOfPeriodUsd => Nanos.ToUsd(EndOfPeriodNanos);

    /// <summary>
    /// Forecasts <paramref name="period"/> at <paramref name="now"/> from <paramref name="dailyNanos"/>:
    /// the spend of each day of the period, index 0 being the 1st (days missing at the end count as zero).
    /// </summary>
    public static SpendForecast Compute(UsagePeriod period, ReadOnlySpan<long> dailyNanos, DateTimeOffset now)
    {
        var days = period.DaysInPeriod;
        var today = DateOnly.FromDateTime(now.UtcDateTime);
        static long Day(ReadOnlySpan<long> series, int index) => index < series.Length ? series[index] : 0;
        static long Sum(ReadOnlySpan<long> series, int from, int count)
        {
            long total = 0;
            for (var i = from; i < from + count; i++)
            {
                total += Day(series, i);
            }
            return total;
        }

        if (today < period.FirstDay)
        {
            return new SpendForecast { Method = None, DaysInPeriod = days, DaysLeft = days };
        }
        if (today > period.LastDay)
        {
            var total = Sum(dailyNanos, 0, days);
            return new SpendForecast
            {
                Method = Actual,
                EndOfPeriodNanos = total,
                SpendToDateNanos = total,
                DailyRateNanos = Round((decimal)total / days),
                RateDays = days,
                DaysInPeriod = days,
                DaysElapsed = days,
            };
        }

        var d = today.Day;
        var complete = Sum(dailyNanos, 0, d - 1);
        var todayNanos = Day(dailyNanos, d - 1);
        var rateDays = Math.Min(RateWindowDays, d - 1);
        var rate = rateDays > 0 ? (decimal)Sum(dailyNanos, d - 1 - rateDays, rateDays) / rateDays : todayNanos;
        var end = complete + Math.Max(todayNanos, rate) + rate * (days - d);
        return new SpendForecast
        {
            Method = RecentDailyMean,
            EndOfPeriodNanos = Round(end),
            SpendToDateNanos = complete + todayNanos,
            DailyRateNanos = Round(rate),
            RateDays = rateDays,
            TodayNanos = todayNanos,
            DaysInPeriod = days,
            DaysElapsed = d,
            DaysLeft = days - d,
        };
    }

    private static long Round(decimal nanos) => (long)decimal.Round(nanos, MidpointRounding.AwayFromZero);
}
