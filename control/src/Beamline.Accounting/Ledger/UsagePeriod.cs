using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Beamline.Accounting.Ledger;

/// <summary>A calendar month in UTC, written <c>YYYY-MM</c>: the period usage is reported and monthly budgets are kept for.</summary>
public readonly record struct UsagePeriod
{
    private UsagePeriod(int year, int month)
    {
        Year = year;
        Month = month;
    }

    /// <summary>The year.</summary>
    public int Year { get; }

    /// <summary>The month, 1 to 12.</summary>
    public int Month { get; }

    /// <summary>The period's first day.</summary>
    public DateOnly FirstDay => new(Year, Month, 1);

    /// <summary>The period's last day.</summary>
    public DateOnly LastDay => new(Year, Month, DaysInPeriod);

    /// <summary>How many days the month has.</summary>
    public int DaysInPeriod => DateTime.DaysInMonth(Year, Month);

    /// <summary>The month <paramref name="time"/> falls in (UTC).</summary>
    public static UsagePeriod Of(DateTimeOffset time)
    {
        var utc = time.UtcDateTime;
        return new UsagePeriod(utc.Year, utc.Month);
    }

    /// <summary>Parses exactly <c>YYYY-MM</c> (year 2000 to 9999); false for anything else.</summary>
    public static bool TryParse(string? text, [NotNullWhen(true)] out UsagePeriod? period)
    {
        period = null;
        if (text is not { Length: 7 } || text[4] != '-'
            || !int.TryParse(text.AsSpan(0, 4), NumberStyles.None, CultureInfo.InvariantCulture, out var year)
            || !int.TryParse(text.AsSpan(5, 2), NumberStyles.None, CultureInfo.InvariantCulture, out var month)
            || year < 2000 || month is < 1 or > 12)
        {
            return false;
        }
        period = new UsagePeriod(year, month);
        return true;
    }

    /// <summary>Whether <paramref name="day"/> is in this period.</summary>
    public bool Contains(DateOnly day) => day.Year == Year && day.Month == Month;

    /// <summary><c>YYYY-MM</c>.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Year:D4}-{Month:D2}");
}
