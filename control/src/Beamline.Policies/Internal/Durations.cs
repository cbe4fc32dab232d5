using System.Globalization;

namespace Beamline.Policies.Internal;

/// <summary>Durations as CP1 policies write them: <c>"500ms"</c>, <c>"15s"</c>, <c>"10m"</c>, <c>"1h"</c>, <c>"1d"</c>, or sequences such as <c>"1h30m"</c>.</summary>
internal static class Durations
{
    public static bool TryParse(string text, out TimeSpan value, out string reason)
    {
        value = TimeSpan.Zero;
        reason = string.Empty;
        var s = text.AsSpan().Trim();
        if (s.IsEmpty)
        {
            reason = "a duration must not be empty";
            return false;
        }
        double totalMs = 0;
        while (!s.IsEmpty)
        {
            var digits = 0;
            while (digits < s.Length && (char.IsAsciiDigit(s[digits]) || s[digits] == '.'))
            {
                digits++;
            }
            if (digits == 0 || !double.TryParse(s[..digits], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
            {
                reason = $"'{text}' is not a duration (use a number with a unit: 500ms, 15s, 10m, 1h, 1d)";
                return false;
            }
            s = s[digits..];
            var unit = 0;
            while (unit < s.Length && char.IsAsciiLetter(s[unit]))
            {
                unit++;
            }
            double scale = s[..unit] switch
            {
                "ms" => 1,
                "s" => 1_000,
                "m" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                _ => -1,
            };
            if (scale < 0)
            {
                reason = unit == 0
                    ? $"'{text}' has no unit (use ms, s, m, h or d)"
                    : $"'{text}' has an unknown unit '{s[..unit].ToString()}' (use ms, s, m, h or d)";
                return false;
            }
            totalMs += number * scale;
            s = s[unit..];
        }
        if (totalMs <= 0 || totalMs > TimeSpan.MaxValue.TotalMilliseconds / 2)
        {
            reason = $"'{text}' must be a positive duration";
            return false;
        }
        value = TimeSpan.FromMilliseconds(totalMs);
        return true;
    }

    /// <summary>Plain words: 10m → "10 minutes", 90s → "1 minute 30 seconds".</summary>
    public static string Describe(TimeSpan value)
    {
        if (value.TotalSeconds < 1)
        {
            return Unit((long)value.TotalMilliseconds, "millisecond");
        }
        var parts = new List<string>(4);
        if (value.Days > 0) { parts.Add(Unit(value.Days, "day")); }
        if (value.Hours > 0) { parts.Add(Unit(value.Hours, "hour")); }
        if (value.Minutes > 0) { parts.Add(Unit(value.Minutes, "minute")); }
        if (value.Seconds > 0) { parts.Add(Unit(value.Seconds, "second")); }
        if (value.Milliseconds > 0) { parts.Add(Unit(value.Milliseconds, "millisecond")); }
        return string.Join(' ', parts);
    }

    private static string Unit(long n, string unit) =>
        string.Create(CultureInfo.InvariantCulture, $"{n} {unit}{(n == 1 ? string.Empty : "s")}");
}
