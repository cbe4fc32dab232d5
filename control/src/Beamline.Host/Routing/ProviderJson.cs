using System.Collections.Immutable;
using System.Text.Json;
using Beamline.Routing.Catalog;

namespace Beamline.Host.Routing;

/// <summary>
/// Turns tenancy's raw provider entries into router descriptors. Known members:
/// <c>id</c>, <c>kind</c>, <c>model</c>, <c>models</c> (the models a request may ask for), <c>base_url</c>, <c>prices{input_per_mtok, output_per_mtok,
/// cached_input_per_mtok, per_request, models{&lt;model&gt;: {…the same…}}}</c> (US dollars per million
/// tokens, and per request), <c>default_max_tokens</c> (what a request without <c>max_tokens</c> reserves), <c>tags</c>, <c>capabilities</c>, <c>quality_score</c>,
/// <c>baseline_latency_ms</c>, <c>priority</c>, <c>block_type</c>, <c>pool</c>, <c>subject_version</c>,
/// <c>timeout_ms</c>, <c>api_key_env</c>, <c>credential_ref</c>;
/// other members are ignored (they belong to the executors).
/// </summary>
internal static class ProviderJson
{
    /// <summary>Parses one entry; throws <see cref="FormatException"/> naming the member that is wrong.</summary>
    public static ProviderDescriptor Parse(string id, string json)
    {
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new FormatException("a provider entry must be a JSON object");
        }
        var pricing = ReadPricing(root);
        return new ProviderDescriptor
        {
            Id = id,
            Kind = Kind(String(root, "kind")),
            Model = String(root, "model"),
            Models = Strings(root, "models"),
            // base_url_env (like api_key_env) lets OPENAI_BASE_URL / ANTHROPIC_BASE_URL redirect a provider.
            Endpoint = String(root, "base_url_env") is { } baseUrlVariable && Environment.GetEnvironmentVariable(baseUrlVariable) is { Length: > 0 } fromEnvironment
                ? fromEnvironment
                : String(root, "base_url"),
            Mock = String(root, "kind") == "mock" ? ReadMock(root) : null,
            BlockType = String(root, "block_type"),
            Pool = String(root, "pool") ?? "cpu",
            SubjectVersion = (int)(Number(root, "subject_version") ?? 1),
            Pricing = pricing,
            InputPricePer1K = (double)pricing.Default.InputPerMTok / 1000.0,
            OutputPricePer1K = (double)pricing.Default.OutputPerMTok / 1000.0,
            Tags = Strings(root, "tags"),
            Capabilities = Strings(root, "capabilities"),
            QualityScore = Number(root, "quality_score") ?? 0.5,
            BaselineLatencyMs = Number(root, "baseline_latency_ms") ?? 1000,
            Priority = (int)(Number(root, "priority") ?? 50),
            TimeoutMs = Number(root, "timeout_ms") is { } timeout
                ? timeout <= uint.MaxValue ? (uint)timeout : throw new FormatException("timeout_ms: must be at most 4294967295")
                : 0,
            ApiKeyVariable = String(root, "api_key_env"),
            CredentialRef = String(root, "credential_ref") is { } credential
                ? credential.Length > 0 ? credential : throw new FormatException("credential_ref: must not be empty")
                : null,
        };
    }

    private static ProviderKind Kind(string? kind) => kind switch
    {
        null or "openai_compatible" => ProviderKind.OpenAICompatible,
        "openai" => ProviderKind.OpenAI,
        "anthropic" => ProviderKind.Anthropic,
        "nats" or "nats_provider" => ProviderKind.NatsProvider,
        "block" => ProviderKind.Block,
        "mock" => ProviderKind.Mock,
        _ => throw new FormatException($"kind: unknown provider kind '{kind}' (openai, anthropic, openai_compatible, nats_provider, block, mock)"),
    };

    private static ProviderPricing ReadPricing(JsonElement root)
    {
        var maxTokens = Number(root, "default_max_tokens") is { } max
            ? max is >= 1 and <= 10_000_000 && max == Math.Floor(max) ? (int)max : throw new FormatException("default_max_tokens: must be a whole number from 1 to 10000000")
            : ProviderPricing.FallbackMaxTokens;
        if (!root.TryGetProperty("prices", out var prices) || prices.ValueKind == JsonValueKind.Null)
        {
            return new ProviderPricing { DefaultMaxTokens = maxTokens };
        }
        if (prices.ValueKind != JsonValueKind.Object)
        {
            throw new FormatException("prices: must be an object");
        }
        var models = ImmutableDictionary.CreateBuilder<string, ModelPrice>(StringComparer.Ordinal);
        if (prices.TryGetProperty("models", out var byModel) && byModel.ValueKind != JsonValueKind.Null)
        {
            if (byModel.ValueKind != JsonValueKind.Object)
            {
                throw new FormatException("prices.models: must be an object of model → prices");
            }
            foreach (var model in byModel.EnumerateObject())
            {
                models[model.Name] = model.Value.ValueKind == JsonValueKind.Object
                    ? ReadPrice(model.Value, $"prices.models.{model.Name}.")
                    : throw new FormatException($"prices.models.{model.Name}: must be an object");
            }
        }
        return new ProviderPricing { Default = ReadPrice(prices, "prices."), Models = models.ToImmutable(), DefaultMaxTokens = maxTokens };
    }

    private static ModelPrice ReadPrice(JsonElement prices, string path) => new(
        Money(prices, "input_per_mtok", path) ?? 0,
        Money(prices, "output_per_mtok", path) ?? 0,
        Money(prices, "cached_input_per_mtok", path),
        Money(prices, "per_request", path) ?? 0);

    // Money is read as decimal (no binary rounding of prices); a million dollars per unit is a typo.
    private static decimal? Money(JsonElement parent, string member, string path)
    {
        if (!parent.TryGetProperty(member, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        return value.ValueKind == JsonValueKind.Number && value.TryGetDecimal(out var money) && money >= 0 && money < 1_000_000
            ? money
            : throw new FormatException($"{path}{member}: must be a number from 0 to 1000000 (US dollars)");
    }

    private static MockSettings ReadMock(JsonElement root) => new()
    {
        LatencyMs = (int)Math.Min(Number(root, "latency_ms") ?? 0, 600_000),
        ChunkIntervalMs = (int)Math.Min(Number(root, "chunk_interval_ms") ?? 0, 60_000),
        Reply = String(root, "reply"),
        Format = String(root, "format") is { } format
            ? format is "openai" or "anthropic" ? format : throw new FormatException("format: must be \"openai\" or \"anthropic\"")
            : null,
    };

    private static string? String(JsonElement parent, string member)
    {
        if (!parent.TryGetProperty(member, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        return value.ValueKind == JsonValueKind.String ? value.GetString() : throw new FormatException($"{member}: must be a string");
    }

    private static double? Number(JsonElement parent, string member)
    {
        if (!parent.TryGetProperty(member, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        return value.ValueKind == JsonValueKind.Number && value.GetDouble() >= 0
            ? value.GetDouble()
            : throw new FormatException($"{member}: must be a non-negative number");
    }

    private static ImmutableArray<string> Strings(JsonElement parent, string member)
    {
        if (!parent.TryGetProperty(member, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return [];
        }
        if (value.ValueKind != JsonValueKind.Array)
        {
            throw new FormatException($"{member}: must be an array of strings");
        }
        var builder = ImmutableArray.CreateBuilder<string>();
        foreach (var item in value.EnumerateArray())
        {
            builder.Add(item.ValueKind == JsonValueKind.String ? item.GetString()! : throw new FormatException($"{member}: must be an array of strings"));
        }
        return builder.ToImmutable();
    }
}
