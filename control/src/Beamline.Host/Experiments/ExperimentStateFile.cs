using System.Buffers;
using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json;
using Beamline.Experiments;
using Beamline.Experiments.Statistics;

namespace Beamline.Host.Experiments;

/// <summary>
/// Experiments saved across restarts: <c>experiments.json</c> in the data directory, written whole
/// to a temporary file and renamed over the old one (a crash leaves the old or the new file, never
/// half of one). Each experiment: its tenant, its definition in the create body's format, its
/// status, looks and winner, and every arm's figures exactly (counts, means and sums of squared deviations).
/// </summary>
internal static class ExperimentStateFile
{
    public const string FileName = "experiments.json";

    public static void Write(string path, IReadOnlyList<ExperimentSnapshot> experiments)
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            writer.WriteStartObject();
            writer.WriteNumber("version", 1);
            writer.WriteStartArray("experiments");
            foreach (var experiment in experiments)
            {
                WriteOne(writer, experiment);
            }
            writer.WriteEndArray();
            writer.WriteEndObject();
        }
        var temporary = path + ".tmp";
        using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            file.Write(buffer.WrittenSpan);
            file.Flush(flushToDisk: true);
        }
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>The saved experiments; none when the file does not exist. Throws <see cref="FormatException"/> for a damaged file.</summary>
    public static IReadOnlyList<ExperimentSnapshot> Read(string path)
    {
        if (!File.Exists(path))
        {
            return [];
        }
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(path));
            var list = new List<ExperimentSnapshot>();
            foreach (var item in document.RootElement.GetProperty("experiments").EnumerateArray())
            {
                list.Add(ReadOne(item));
            }
            return list;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or ArgumentException or ExperimentRequestException)
        {
            throw new FormatException($"{path}: {e.Message}", e);
        }
    }

    /// <summary>One experiment as its JSON object (the shared record of docs/shared-state.md).</summary>
    public static byte[] ToJson(ExperimentSnapshot experiment)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            WriteOne(writer, experiment);
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>One experiment from its JSON object. Throws <see cref="FormatException"/> for a damaged one.</summary>
    public static ExperimentSnapshot FromJson(ReadOnlySpan<byte> json)
    {
        try
        {
            var reader = new Utf8JsonReader(json);
            using var document = JsonDocument.ParseValue(ref reader);
            return ReadOne(document.RootElement);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or ArgumentException or ExperimentRequestException)
        {
            throw new FormatException(e.Message, e);
        }
    }

    private static ExperimentSnapshot ReadOne(JsonElement item)
    {
        var tenantId = item.GetProperty("tenant_id").GetString()!;
        var definition = ExperimentJson.ReadDefinition(tenantId, System.Text.Encoding.UTF8.GetBytes(item.GetProperty("definition").GetRawText()));
        return new ExperimentSnapshot
        {
            Definition = definition,
            CreatedAt = DateTimeOffset.Parse(item.GetProperty("created_at").GetString()!, CultureInfo.InvariantCulture),
            Status = Enum.Parse<ExperimentStatus>(item.GetProperty("status").GetString()!, ignoreCase: true),
            Winner = item.GetProperty("winner").GetInt32(),
            Looks = item.GetProperty("looks").GetInt32(),
            LastThreshold = item.GetProperty("last_threshold").ValueKind == JsonValueKind.Number ? item.GetProperty("last_threshold").GetDouble() : null,
            EndedAt = item.GetProperty("ended_at").GetString() is { } ended ? DateTimeOffset.Parse(ended, CultureInfo.InvariantCulture) : null,
            Arms = [.. item.GetProperty("arms").EnumerateArray().Select(ReadArm)],
        };
    }

    /// <summary>Every arm's figures as a JSON array (what one instance publishes).</summary>
    public static byte[] ArmsToJson(IReadOnlyList<ArmState> arms)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            WriteArms(writer, arms);
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Every arm's figures from <see cref="ArmsToJson"/>. Throws <see cref="FormatException"/> for a damaged array.</summary>
    public static ArmState[] ArmsFromJson(ReadOnlySpan<byte> json)
    {
        try
        {
            var reader = new Utf8JsonReader(json);
            using var document = JsonDocument.ParseValue(ref reader);
            return [.. document.RootElement.EnumerateArray().Select(ReadArm)];
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new FormatException(e.Message, e);
        }
    }

    private static void WriteOne(Utf8JsonWriter writer, ExperimentSnapshot experiment)
    {
        var definition = experiment.Definition;
        writer.WriteStartObject();
        writer.WriteString("tenant_id", definition.TenantId);
        writer.WriteStartObject("definition");
        writer.WriteString("id", definition.Id);
        writer.WriteString("policy_id", definition.PolicyId);
        writer.WriteString("metric", ExperimentJson.MetricName(definition.Metric));
        writer.WriteNumber("alpha", definition.Alpha);
        writer.WriteNumber("max_looks", definition.MaxLooks);
        writer.WriteNumber("samples_per_look", definition.SamplesPerLook);
        writer.WriteBoolean("auto_promote", definition.AutoPromote);
        writer.WriteStartArray("arms");
        foreach (var arm in definition.Arms)
        {
            writer.WriteStartObject();
            writer.WriteString("name", arm.Name);
            if (arm.ProviderId is not null)
            {
                writer.WriteString("provider", arm.ProviderId);
            }
            if (arm.PolicyId is not null)
            {
                writer.WriteString("policy", arm.PolicyId);
            }
            writer.WriteNumber("weight", arm.WeightBasisPoints / 100m);
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
        writer.WriteString("created_at", experiment.CreatedAt.ToString("O", CultureInfo.InvariantCulture));
        writer.WriteString("status", experiment.Status.ToString().ToLowerInvariant());
        writer.WriteNumber("winner", experiment.Winner);
        writer.WriteNumber("looks", experiment.Looks);
        if (experiment.LastThreshold is { } threshold)
        {
            writer.WriteNumber("last_threshold", threshold);
        }
        else
        {
            writer.WriteNull("last_threshold");
        }
        writer.WriteString("ended_at", experiment.EndedAt?.ToString("O", CultureInfo.InvariantCulture));
        writer.WritePropertyName("arms");
        WriteArms(writer, experiment.Arms);
        writer.WriteEndObject();
    }

    private static void WriteArms(Utf8JsonWriter writer, IReadOnlyList<ArmState> arms)
    {
        writer.WriteStartArray();
        foreach (var arm in arms)
        {
            writer.WriteStartObject();
            writer.WriteNumber("requests", arm.Requests);
            writer.WriteNumber("executions", arm.Executions);
            writer.WriteNumber("errors", arm.Errors);
            writer.WriteNumber("cost_nanos", arm.CostNanos);
            WriteSummary(writer, "latency", arm.Latency);
            WriteSummary(writer, "cost", arm.Cost);
            WriteSummary(writer, "quality", arm.Quality);
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
    }

    private static void WriteSummary(Utf8JsonWriter writer, string name, SummaryState state)
    {
        writer.WriteStartObject(name);
        writer.WriteNumber("n", state.Count);
        writer.WriteNumber("mean", state.Mean);
        writer.WriteNumber("m2", state.M2);
        writer.WriteEndObject();
    }

    private static ArmState ReadArm(JsonElement arm) => new(
        arm.GetProperty("requests").GetInt64(),
        arm.GetProperty("executions").GetInt64(),
        arm.GetProperty("errors").GetInt64(),
        arm.GetProperty("cost_nanos").GetInt64(),
        ReadSummary(arm.GetProperty("latency")),
        ReadSummary(arm.GetProperty("cost")),
        ReadSummary(arm.GetProperty("quality")));

    private static SummaryState ReadSummary(JsonElement summary)
        => new(summary.GetProperty("n").GetInt64(), summary.GetProperty("mean").GetDouble(), summary.GetProperty("m2").GetDouble());
}
