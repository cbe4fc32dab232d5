using System.Globalization;
using Beamline.Pipeline.Costs;

namespace Beamline.Accounting.Ledger;

public sealed partial class UsageLedger
{
    /// <summary>The CSV export's header.</summary>
    public const string CsvHeader = "day,team_id,key_id,provider,model,requests,input_tokens,output_tokens,cached_input_tokens,estimated_requests,spend_usd";

    /// <summary>
    /// Writes <paramref name="tenantId"/>'s usage in <paramref name="period"/> as CSV (RFC 4180: a
    /// header, CRLF line ends, fields with a comma, quote or line break quoted and their quotes
    /// doubled): one row per (day, team, key, provider, model), ordered by those; an absent team,
    /// key or model is an empty field; <c>spend_usd</c> is exact (up to 9 decimals).
    /// </summary>
    public void WriteCsv(TextWriter output, string tenantId, UsagePeriod period)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentException.ThrowIfNullOrEmpty(tenantId);
        output.Write(CsvHeader);
        output.Write("\r\n");
        using var connection = OpenReader();
        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT day, team, key, provider, model, requests, input, output, cached, estimated_requests, cost_nanos
            FROM usage_daily WHERE tenant = $tenant AND day >= $from AND day <= $to
            ORDER BY day, team, key, provider, model
            """;
        command.Parameters.AddWithValue("$tenant", tenantId);
        command.Parameters.AddWithValue("$from", UsageDatabase.Day(period.FirstDay));
        command.Parameters.AddWithValue("$to", UsageDatabase.Day(period.LastDay));
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            for (var i = 0; i < 5; i++)
            {
                WriteCsvField(output, reader.GetString(i));
                output.Write(',');
            }
            for (var i = 5; i < 10; i++)
            {
                output.Write(reader.GetInt64(i).ToString(CultureInfo.InvariantCulture));
                output.Write(',');
            }
            output.Write(Nanos.ToUsd(reader.GetInt64(10)).ToString(CultureInfo.InvariantCulture));
            output.Write("\r\n");
        }
    }

    /// <summary>Writes one CSV field, quoted when it holds a comma, a quote or a line break (quotes doubled).</summary>
    internal static void WriteCsvField(TextWriter output, string value)
    {
        if (value.AsSpan().IndexOfAny(",\"\r\n") < 0)
        {
            output.Write(value);
            return;
        }
        output.Write('"');
        output.Write(value.Replace("\"", "\"\"", StringComparison.Ordinal));
        output.Write('"');
    }
}
