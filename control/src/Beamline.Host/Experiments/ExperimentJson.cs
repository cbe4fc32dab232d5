using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json;
using Beamline.Experiments;
using Beamline.Experiments.Bandits;
using Beamline.Experiments.Statistics;

namespace Beamline.Host.Experiments;

/// <summary>A create request that cannot become an experiment: the field and why.</summary>
internal sealed class ExperimentRequestException(string field, string message) : Exception(message)
{
    public string Field { get; } = field;
}

/// <summary>
/// The experiments API's JSON (docs/experiments.md): a create body read into an
/// <see cref="ExperimentDefinition"/>, and results written with snake_case names. Numbers that are
/// not finite (a t statistic with no variance, a z test's degrees of freedom) are written as null.
/// </summary>
internal static class ExperimentJson
{
    private static readonly string[] Known = ["id", "policy_id", "metric", "alpha", "max_looks", "samples_per_look", "auto_promote", "arms", "split"];

    /// <summary>Reads a create body for <paramref name="tenantId"/>; throws <see cref="ExperimentRequestException"/> naming the bad field.</summary>
    public static ExperimentDefinition ReadDefinition(string tenantId, ReadOnlySpan<byte> body)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body.ToArray());
        }
        catch (JsonException e)
        {
            throw new ExperimentRequestException("body", $"the body is not JSON: {e.Message}");
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new ExperimentRequestException("body", "the body must be a JSON object");
            }
            foreach (var property in root.EnumerateObject())
            {
                if (Array.IndexOf(Known, property.Name) < 0)
                {
                    throw new ExperimentRequestException(property.Name, $"unknown field '{property.Name}'");
                }
            }
            var definition = new ExperimentDefinition
            {
                Id = RequiredString(root, "id"),
                TenantId = tenantId,
                PolicyId = RequiredString(root, "policy_id"),
                Arms = ReadArms(root),
                Metric = OptionalString(root, "metric") switch
                {
                    null or "quality" => ExperimentMetric.Quality,
                    "latency" => ExperimentMetric.Latency,
                    "cost" => ExperimentMetric.Cost,
                    "error_rate" => ExperimentMetric.ErrorRate,
                    var other => throw new ExperimentRequestException("metric", $"metric must be quality, latency, cost or error_rate, not '{other}'"),
                },
                Alpha = OptionalNumber(root, "alpha") ?? 0.05,
                MaxLooks = OptionalInteger(root, "max_looks") ?? 5,
                SamplesPerLook = OptionalInteger(root, "samples_per_look") ?? 200,
                AutoPromote = root.TryGetProperty("auto_promote", out var auto) && auto.ValueKind != JsonValueKind.Null
                    ? auto.ValueKind is JsonValueKind.True or JsonValueKind.False ? auto.GetBoolean() : throw new ExperimentRequestException("auto_promote", "auto_promote must be true or false")
                    : true,
            };
            if (definition.Validate() is { Count: > 0 } errors)
            {
                throw new ExperimentRequestException("body", string.Join("; ", errors));
            }
            return definition;
        }
    }

    // arms[] with weight in percent; or split.canary_percent over exactly two arms without weights.
    private static ImmutableArray<ExperimentArm> ReadArms(JsonElement root)
    {
        if (!root.TryGetProperty("arms", out var arms) || arms.ValueKind != JsonValueKind.Array)
        {
            throw new ExperimentRequestException("arms", "arms must be an array of {name, provider | policy, weight}");
        }
        double? canary = null;
        if (root.TryGetProperty("split", out var split) && split.ValueKind != JsonValueKind.Null)
        {
            if (split.ValueKind != JsonValueKind.Object || !split.TryGetProperty("canary_percent", out var percent) || percent.ValueKind != JsonValueKind.Number
                || percent.GetDouble() is not (> 0 and < 100) || arms.GetArrayLength() != 2)
            {
                throw new ExperimentRequestException("split", "split must be {\"canary_percent\": p} with 0 < p < 100, over exactly two arms (control first)");
            }
            canary = percent.GetDouble();
        }
        var list = ImmutableArray.CreateBuilder<ExperimentArm>();
        var index = 0;
        foreach (var arm in arms.EnumerateArray())
        {
            var field = $"arms[{index}]";
            if (arm.ValueKind != JsonValueKind.Object)
            {
                throw new ExperimentRequestException(field, "an arm must be an object");
            }
            double weight;
            if (canary is { } share)
            {
                if (arm.TryGetProperty("weight", out _))
                {
                    throw new ExperimentRequestException($"{field}.weight", "a canary split sets the weights: leave them out");
                }
                weight = index == 0 ? 100 - share : share;
            }
            else
            {
                weight = OptionalNumber(arm, "weight", $"{field}.weight") ?? throw new ExperimentRequestException($"{field}.weight", "weight (a percentage) is required");
            }
            list.Add(new ExperimentArm
            {
                Name = OptionalString(arm, "name", $"{field}.name") ?? throw new ExperimentRequestException($"{field}.name", "name is required"),
                ProviderId = OptionalString(arm, "provider", $"{field}.provider"),
                PolicyId = OptionalString(arm, "policy", $"{field}.policy"),
                WeightBasisPoints = (int)Math.Round(weight * 100),
            });
            index++;
        }
        return list.ToImmutable();
    }

    /// <summary>Writes one experiment's state and results as an object.</summary>
    public static void Write(Utf8JsonWriter writer, ExperimentResults results)
    {
        var definition = results.Definition;
        writer.WriteStartObject();
        writer.WriteString("id", definition.Id);
        writer.WriteString("tenant_id", definition.TenantId);
        writer.WriteString("policy_id", definition.PolicyId);
        writer.WriteString("metric", MetricName(definition.Metric));
        writer.WriteNumber("alpha", definition.Alpha);
        writer.WriteNumber("max_looks", definition.MaxLooks);
        writer.WriteNumber("samples_per_look", definition.SamplesPerLook);
        writer.WriteBoolean("auto_promote", definition.AutoPromote);
        writer.WriteString("status", results.Status.ToString().ToLowerInvariant());
        writer.WriteNumber("looks", results.Looks);
        Number(writer, "last_threshold", results.LastThreshold);
        writer.WriteString("winner", results.Winner);
        writer.WriteString("created_at", results.CreatedAt.ToString("O", CultureInfo.InvariantCulture));
        writer.WriteString("ended_at", results.EndedAt?.ToString("O", CultureInfo.InvariantCulture));
        writer.WriteStartArray("arms");
        foreach (var arm in results.Arms)
        {
            writer.WriteStartObject();
            writer.WriteString("name", arm.Name);
            writer.WriteString("provider", arm.ProviderId);
            writer.WriteString("policy", arm.PolicyId);
            writer.WriteNumber("weight", arm.WeightBasisPoints / 100.0);
            writer.WriteNumber("requests", arm.Requests);
            writer.WriteNumber("executions", arm.Executions);
            writer.WriteNumber("errors", arm.Errors);
            writer.WriteNumber("error_rate", arm.ErrorRate);
            writer.WriteNumber("cost_nanos", arm.CostNanos);
            Sample(writer, "latency_ms", arm.Latency);
            Sample(writer, "cost_per_execution_nanos", arm.Cost);
            Sample(writer, "quality", arm.Quality);
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
        writer.WriteStartArray("comparisons");
        foreach (var comparison in results.Comparisons)
        {
            writer.WriteStartObject();
            writer.WriteString("arm", comparison.Arm);
            writer.WriteString("against", definition.Arms[0].Name);
            Test(writer, "quality", comparison.Quality);
            Test(writer, "latency", comparison.Latency);
            Test(writer, "cost", comparison.Cost);
            Test(writer, "error_rate", comparison.ErrorRate);
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    /// <summary>Writes bandit sites and their arms as an array.</summary>
    public static void WriteBandits(Utf8JsonWriter writer, IReadOnlyList<BanditSiteView> sites)
    {
        writer.WriteStartArray();
        foreach (var site in sites)
        {
            writer.WriteStartObject();
            writer.WriteString("tenant_id", site.Site.TenantId);
            writer.WriteString("policy_id", site.Site.PolicyId);
            writer.WriteString("site_id", site.Site.SiteId);
            writer.WriteString("algorithm", site.Site.Algorithm == Beamline.Routing.Bandits.BanditAlgorithm.LinUcb ? "linucb" : "thompson");
            writer.WriteString("reward", site.Site.Reward.ToString().ToLowerInvariant());
            writer.WriteStartArray("arms");
            foreach (var arm in site.Arms)
            {
                writer.WriteStartObject();
                writer.WriteString("name", arm.Name);
                writer.WriteNumber("pulls", arm.Pulls);
                writer.WriteNumber("rewards", arm.Rewards);
                writer.WriteNumber("mean_reward", arm.MeanReward);
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
    }

    public static string MetricName(ExperimentMetric metric) => metric switch
    {
        ExperimentMetric.Quality => "quality",
        ExperimentMetric.Latency => "latency",
        ExperimentMetric.Cost => "cost",
        _ => "error_rate",
    };

    private static void Sample(Utf8JsonWriter writer, string name, SampleStatistics sample)
    {
        writer.WriteStartObject(name);
        writer.WriteNumber("n", sample.Count);
        Number(writer, "mean", sample.Count == 0 ? null : sample.Mean);
        Number(writer, "variance", sample.Count < 2 ? null : sample.Variance);
        writer.WriteEndObject();
    }

    private static void Test(Utf8JsonWriter writer, string name, TestResult test)
    {
        writer.WriteStartObject(name);
        Number(writer, "statistic", test.Statistic);
        Number(writer, "df", test.DegreesOfFreedom);
        Number(writer, "p_value", test.PValue);
        writer.WriteEndObject();
    }

    private static void Number(Utf8JsonWriter writer, string name, double? value)
    {
        if (value is { } number && double.IsFinite(number))
        {
            writer.WriteNumber(name, number);
        }
        else
        {
            writer.WriteNull(name);
        }
    }

    private static string RequiredString(JsonElement root, string name)
        => OptionalString(root, name) is { Length: > 0 } value ? value : throw new ExperimentRequestException(name, $"{name} is required");

    private static string? OptionalString(JsonElement element, string name, string? field = null)
    {
        if (!element.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        return value.ValueKind == JsonValueKind.String ? value.GetString() : throw new ExperimentRequestException(field ?? name, $"{field ?? name} must be a string");
    }

    private static double? OptionalNumber(JsonElement element, string name, string? field = null)
    {
        if (!element.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        return value.ValueKind == JsonValueKind.Number ? value.GetDouble() : throw new ExperimentRequestException(field ?? name, $"{field ?? name} must be a number");
    }

    private static int? OptionalInteger(JsonElement element, string name)
    {
        if (!element.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        return value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var number) ? number : throw new ExperimentRequestException(name, $"{name} must be a whole number");
    }
}
