using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json;
using Beamline.Policies.Internal;

namespace Beamline.Policies;

/// <summary>Options for <see cref="PolicyLoader"/>.</summary>
public sealed record PolicyLoadOptions
{
    /// <summary>
    /// Provider ids that exist (the catalog). When set, a provider or fallback <c>to</c> naming
    /// anything else is an error. Defaults to null: any non-empty name is accepted.
    /// </summary>
    public IReadOnlySet<string>? KnownProviders { get; init; }
}

/// <summary>
/// Reads CP1 JSON policies in every form the fixtures use, alone or mixed: <c>providers[]</c> and
/// the legacy <c>weights{}</c> map (fractions, percents or any relative numbers: shares are the
/// weights divided by their sum), <c>fallbacks[]</c> and the legacy <c>fallback{}</c>,
/// <c>sticky.ttl</c> and <c>sticky.ttl_seconds</c>, the circuit breaker, extensions and
/// metadata. Every error is reported with its file, JSON path and reason; loading never stops
/// at the first one. Unknown members are ignored so that newer policies still load.
/// </summary>
public static class PolicyLoader
{
    private const int MaxRetry = 10;

    private static readonly JsonDocumentOptions DocumentOptions = new()
    {
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        MaxDepth = 64,
    };

    /// <summary>Loads a policy file (CP1 JSON, or policy language for <c>.bpl</c>); its id is the file name without the extension.</summary>
    public static PolicyLoadResult LoadFile(string path, PolicyLoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path.EndsWith(Language.PolicyLanguage.FileExtension, StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                return Language.PolicyLanguage.Load(Path.GetFileNameWithoutExtension(path), File.ReadAllText(path), path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return new PolicyLoadResult { Errors = [new PolicyError(path, "$", $"cannot read the file: {e.Message}")] };
            }
        }
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new PolicyLoadResult { Errors = [new PolicyError(path, "$", $"cannot read the file: {e.Message}")] };
        }
        return Load(Path.GetFileNameWithoutExtension(path), bytes, path, options);
    }

    /// <summary>Loads a policy file or throws <see cref="PolicyValidationException"/> with every error.</summary>
    public static Policy LoadOrThrow(string path)
    {
        var result = LoadFile(path);
        return result.Policy ?? throw new PolicyValidationException(result.Errors);
    }

    /// <summary>Loads a policy from UTF-8 JSON.</summary>
    /// <param name="id">The policy id.</param>
    /// <param name="utf8Json">The JSON text.</param>
    /// <param name="source">The name used in error messages (a file path). Defaults to the id.</param>
    /// <param name="options">Loader options.</param>
    public static PolicyLoadResult Load(string id, ReadOnlySpan<byte> utf8Json, string? source = null, PolicyLoadOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        var context = new LoadContext(source ?? id, options ?? new PolicyLoadOptions());
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(utf8Json.ToArray(), DocumentOptions);
        }
        catch (JsonException e)
        {
            var where = e.LineNumber is { } line
                ? string.Create(CultureInfo.InvariantCulture, $" (line {line + 1}, byte {e.BytePositionInLine + 1})")
                : string.Empty;
            return context.Fail("$", $"not valid JSON{where}");
        }
        using (document)
        {
            try
            {
                var policy = Read(id, document.RootElement, context);
                return context.Errors.Count == 0 && policy is not null
                    ? new PolicyLoadResult { Policy = policy }
                    : new PolicyLoadResult { Errors = [.. context.Errors] };
            }
            catch (InvalidOperationException e)
            {
                // System.Text.Json checks UTF-8 inside strings only when they are read.
                return context.Fail("$", $"not valid UTF-8 JSON: {e.Message}");
            }
        }
    }

    // {"id": .., "language": "..source.."}: a policy-language source wrapped in JSON (how the admin API stores one).
    private static Policy? ReadLanguage(string id, JsonElement root, JsonElement language, LoadContext context)
    {
        if (language.ValueKind != JsonValueKind.String)
        {
            return context.Error<Policy>("$.language", "must be the policy's source text");
        }
        if (root.TryGetProperty("id", out var idElement) && (idElement.ValueKind != JsonValueKind.String || idElement.GetString() != id))
        {
            return context.Error<Policy>("$.id", $"must be the policy id '{id}'");
        }
        var result = Language.PolicyLanguage.Load(id, language.GetString()!, context.File);
        foreach (var error in result.Errors)
        {
            context.Errors.Add(error);
        }
        return result.Policy;
    }

    private static Policy? Read(string id, JsonElement root, LoadContext context)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            context.Error("$", "a policy must be a JSON object");
            return null;
        }
        if (root.TryGetProperty("language", out var language))
        {
            return ReadLanguage(id, root, language, context);
        }
        string? version = null;
        if (root.TryGetProperty("version", out var versionElement))
        {
            version = versionElement.ValueKind switch
            {
                JsonValueKind.String => versionElement.GetString(),
                JsonValueKind.Number => versionElement.GetRawText(),
                _ => context.Error<string>("$.version", "must be a string"),
            };
        }
        var strategy = RoutingStrategy.Weighted;
        if (root.TryGetProperty("strategy", out var strategyElement))
        {
            strategy = strategyElement.ValueKind == JsonValueKind.String ? strategyElement.GetString() switch
            {
                "weighted" => RoutingStrategy.Weighted,
                "cheapest" => RoutingStrategy.Cheapest,
                "fastest" => RoutingStrategy.Fastest,
                "best_quality" => RoutingStrategy.BestQuality,
                var other => context.Error<RoutingStrategy>("$.strategy", $"unknown strategy '{other}' (use weighted, cheapest, fastest or best_quality)"),
            } : context.Error<RoutingStrategy>("$.strategy", "must be a string");
        }

        var providers = ReadProviders(root, strategy, context);
        var fallbacks = ReadFallbacks(root, context);
        var sticky = ReadSticky(root, context);
        var breaker = ReadCircuitBreaker(root, context);
        var pre = ReadExtensions(root, "pre", ExtensionStage.Pre, context);
        var validators = ReadExtensions(root, "validators", ExtensionStage.Validate, context);
        var post = ReadExtensions(root, "post", ExtensionStage.Post, context);
        var metadata = ImmutableDictionary<string, JsonElement>.Empty;
        if (root.TryGetProperty("metadata", out var metadataElement))
        {
            if (metadataElement.ValueKind == JsonValueKind.Object)
            {
                var builder = ImmutableDictionary.CreateBuilder<string, JsonElement>(StringComparer.Ordinal);
                foreach (var member in metadataElement.EnumerateObject())
                {
                    builder[member.Name] = member.Value.Clone();
                }
                metadata = builder.ToImmutable();
            }
            else if (metadataElement.ValueKind != JsonValueKind.Null)
            {
                context.Error("$.metadata", "must be an object");
            }
        }

        return new Policy
        {
            Id = id,
            Version = version,
            Source = context.File,
            Strategy = strategy,
            Providers = providers,
            Fallbacks = fallbacks,
            Sticky = sticky,
            CircuitBreaker = breaker,
            Pre = pre,
            Validators = validators,
            Post = post,
            Metadata = metadata,
        };
    }

    private static ImmutableArray<ProviderWeight> ReadProviders(JsonElement root, RoutingStrategy strategy, LoadContext context)
    {
        var names = new List<string>();
        var weights = new List<double>();
        var seen = new Dictionary<string, double>(StringComparer.Ordinal);

        void Add(string path, string? name, double weight)
        {
            if (string.IsNullOrWhiteSpace(name))
            {
                context.Error(path, "a provider name must be a non-empty string");
                return;
            }
            if (context.Options.KnownProviders is { } known && !known.Contains(name))
            {
                context.Error(path, $"unknown provider '{name}'");
            }
            if (seen.TryGetValue(name, out var previous))
            {
                // The same provider in providers[] and weights{} is fine when they agree.
                if (previous != weight)
                {
                    context.Error(path, $"provider '{name}' is given two different weights ({Format(previous)} and {Format(weight)})");
                }
                return;
            }
            seen[name] = weight;
            names.Add(name);
            weights.Add(weight);
        }

        if (root.TryGetProperty("providers", out var list))
        {
            if (list.ValueKind != JsonValueKind.Array)
            {
                context.Error("$.providers", "must be an array of {name, weight}");
            }
            else
            {
                var i = 0;
                foreach (var item in list.EnumerateArray())
                {
                    var path = Index("$.providers", i++);
                    if (item.ValueKind == JsonValueKind.String)
                    {
                        Add(path, item.GetString(), 1);
                        continue;
                    }
                    if (item.ValueKind != JsonValueKind.Object)
                    {
                        context.Error(path, "must be an object {name, weight}");
                        continue;
                    }
                    var name = RequiredString(item, "name", path, context);
                    var weight = 1.0;
                    if (item.TryGetProperty("weight", out var w))
                    {
                        weight = ReadWeight(w, path + ".weight", context);
                    }
                    if (name is not null && !double.IsNaN(weight))
                    {
                        Add(path + ".name", name, weight);
                    }
                }
            }
        }
        if (root.TryGetProperty("weights", out var map))
        {
            if (map.ValueKind != JsonValueKind.Object)
            {
                context.Error("$.weights", "must be an object mapping provider names to weights");
            }
            else
            {
                foreach (var member in map.EnumerateObject())
                {
                    var path = Member("$.weights", member.Name);
                    var weight = ReadWeight(member.Value, path, context);
                    if (!double.IsNaN(weight))
                    {
                        Add(path, member.Name, weight);
                    }
                }
            }
        }

        double sum = 0;
        foreach (var w in weights)
        {
            sum += w;
        }
        if (strategy == RoutingStrategy.Weighted)
        {
            if (names.Count == 0 && !context.HasErrorUnder("$.providers") && !context.HasErrorUnder("$.weights"))
            {
                context.Error("$", "the policy names no providers (give providers[] or weights{})");
            }
            else if (names.Count > 0 && sum <= 0)
            {
                context.Error(root.TryGetProperty("providers", out _) ? "$.providers" : "$.weights", "all provider weights are zero");
            }
        }
        var builder = ImmutableArray.CreateBuilder<ProviderWeight>(names.Count);
        for (var i = 0; i < names.Count; i++)
        {
            builder.Add(new ProviderWeight(names[i], weights[i], sum > 0 ? weights[i] / sum : 1.0 / names.Count));
        }
        return builder.MoveToImmutable();
    }

    private static double ReadWeight(JsonElement element, string path, LoadContext context)
    {
        if (element.ValueKind != JsonValueKind.Number || !element.TryGetDouble(out var weight) || !double.IsFinite(weight))
        {
            context.Error(path, "a weight must be a number");
            return double.NaN;
        }
        if (weight < 0)
        {
            context.Error(path, $"a weight must not be negative (got {Format(weight)})");
            return double.NaN;
        }
        return weight;
    }

    private static ImmutableArray<FallbackRule> ReadFallbacks(JsonElement root, LoadContext context)
    {
        var rules = ImmutableArray.CreateBuilder<FallbackRule>();
        if (root.TryGetProperty("fallbacks", out var list))
        {
            if (list.ValueKind != JsonValueKind.Array)
            {
                context.Error("$.fallbacks", "must be an array of {when, retry, to}");
            }
            else
            {
                var i = 0;
                foreach (var item in list.EnumerateArray())
                {
                    var path = Index("$.fallbacks", i++);
                    if (item.ValueKind != JsonValueKind.Object)
                    {
                        context.Error(path, "must be an object {when, retry, to}");
                        continue;
                    }
                    var kinds = FailureKinds.Any;
                    var messageTypes = ImmutableArray<string>.Empty;
                    if (item.TryGetProperty("when", out var when))
                    {
                        if (when.ValueKind != JsonValueKind.Object)
                        {
                            context.Error(path + ".when", "must be an object {status[], message_type[]}");
                        }
                        else
                        {
                            if (when.TryGetProperty("status", out var status))
                            {
                                kinds = ReadStatuses(status, path + ".when.status", context);
                            }
                            if (when.TryGetProperty("message_type", out var types))
                            {
                                messageTypes = ReadStrings(types, path + ".when.message_type", context);
                            }
                        }
                    }
                    var retry = 1;
                    if (item.TryGetProperty("retry", out var retryElement))
                    {
                        retry = ReadInt(retryElement, path + ".retry", 0, MaxRetry, context) ?? retry;
                    }
                    var to = ReadTarget(item, "to", path, context);
                    if (to is not null)
                    {
                        rules.Add(new FallbackRule { When = kinds, MessageTypes = messageTypes, Retry = retry, To = to });
                    }
                }
            }
        }
        if (root.TryGetProperty("fallback", out var legacy))
        {
            if (legacy.ValueKind != JsonValueKind.Object)
            {
                context.Error("$.fallback", "must be an object {provider, conditions}");
            }
            else
            {
                var kinds = FailureKinds.Any;
                if (legacy.TryGetProperty("conditions", out var conditions))
                {
                    kinds = ReadStatuses(conditions, "$.fallback.conditions", context);
                }
                var to = ReadTarget(legacy, "provider", "$.fallback", context);
                if (to is not null)
                {
                    rules.Add(new FallbackRule { When = kinds, Retry = 0, To = to, IsLegacy = true });
                }
            }
        }
        return rules.ToImmutable();
    }

    private static string? ReadTarget(JsonElement item, string property, string path, LoadContext context)
    {
        var targetPath = path + "." + property;
        if (!item.TryGetProperty(property, out var element))
        {
            context.Error(targetPath, "missing: a fallback must name the provider it switches to");
            return null;
        }
        if (element.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(element.GetString()))
        {
            context.Error(targetPath, "a fallback must name a provider (a non-empty string)");
            return null;
        }
        var to = element.GetString()!;
        if (context.Options.KnownProviders is { } known && !known.Contains(to))
        {
            context.Error(targetPath, $"unknown provider '{to}'");
        }
        return to;
    }

    private static FailureKinds ReadStatuses(JsonElement element, string path, LoadContext context)
    {
        if (element.ValueKind != JsonValueKind.Array)
        {
            context.Error(path, "must be an array of statuses");
            return FailureKinds.None;
        }
        var kinds = FailureKinds.None;
        var i = 0;
        foreach (var item in element.EnumerateArray())
        {
            var itemPath = Index(path, i++);
            var name = item.ValueKind switch
            {
                JsonValueKind.String => item.GetString(),
                JsonValueKind.Number => item.GetRawText(),
                _ => null,
            };
            if (FailureKindNames.TryParse(name, out var kind))
            {
                kinds |= kind;
            }
            else
            {
                context.Error(itemPath, name is null
                    ? "a status must be a string"
                    : $"unknown status '{name}' (use {string.Join(", ", FailureKindNames.All)})");
            }
        }
        if (i == 0)
        {
            context.Error(path, "must name at least one status");
        }
        return kinds;
    }

    private static StickySettings? ReadSticky(JsonElement root, LoadContext context)
    {
        if (!root.TryGetProperty("sticky", out var sticky) || sticky.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        if (sticky.ValueKind != JsonValueKind.Object)
        {
            context.Error("$.sticky", "must be an object {enabled, session_key, ttl}");
            return null;
        }
        var enabled = ReadBool(sticky, "enabled", "$.sticky", true, context);
        var key = StickySettings.DefaultSessionKey;
        if (sticky.TryGetProperty("session_key", out var keyElement))
        {
            if (keyElement.ValueKind == JsonValueKind.String && !string.IsNullOrWhiteSpace(keyElement.GetString()))
            {
                key = keyElement.GetString()!;
            }
            else
            {
                context.Error("$.sticky.session_key", "must be a non-empty string");
            }
        }
        TimeSpan? ttl = null;
        if (sticky.TryGetProperty("ttl", out var ttlElement))
        {
            ttl = ReadDuration(ttlElement, "$.sticky.ttl", TimeSpan.FromSeconds(1), context);
        }
        if (sticky.TryGetProperty("ttl_seconds", out var secondsElement))
        {
            var seconds = ReadDuration(secondsElement, "$.sticky.ttl_seconds", TimeSpan.FromSeconds(1), context, numbersOnly: true);
            if (ttl is { } a && seconds is { } b && a != b)
            {
                context.Error("$.sticky.ttl_seconds", $"disagrees with $.sticky.ttl ({Durations.Describe(b)} vs {Durations.Describe(a)})");
            }
            ttl ??= seconds;
        }
        var settings = new StickySettings { SessionKey = key };
        if (ttl is { } value)
        {
            settings = settings with { Ttl = value };
        }
        return enabled ? settings : null;
    }

    /// <summary>A duration: a string with units, or a JSON number counted in <paramref name="numberUnit"/>.</summary>
    private static TimeSpan? ReadDuration(JsonElement element, string path, TimeSpan numberUnit, LoadContext context, bool numbersOnly = false)
    {
        if (element.ValueKind == JsonValueKind.Number)
        {
            if (!element.TryGetDouble(out var n) || !double.IsFinite(n) || n <= 0)
            {
                context.Error(path, $"must be a positive duration (got {element.GetRawText()})");
                return null;
            }
            return numberUnit * n;
        }
        if (element.ValueKind == JsonValueKind.String && !numbersOnly)
        {
            if (Durations.TryParse(element.GetString()!, out var value, out var reason))
            {
                return value;
            }
            context.Error(path, reason);
            return null;
        }
        context.Error(path, numbersOnly ? "must be a positive number" : "must be a duration such as \"10m\", \"15s\", \"1h\" or \"500ms\"");
        return null;
    }

    private static CircuitBreakerSettings? ReadCircuitBreaker(JsonElement root, LoadContext context)
    {
        const string P = "$.circuit_breaker";
        if (!root.TryGetProperty("circuit_breaker", out var cb) || cb.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        if (cb.ValueKind != JsonValueKind.Object)
        {
            context.Error(P, "must be an object");
            return null;
        }
        var enabled = ReadBool(cb, "enabled", P, true, context);
        var settings = new CircuitBreakerSettings();
        if (cb.TryGetProperty("failure_threshold", out var e))
        {
            settings = settings with { FailureThreshold = ReadInt(e, P + ".failure_threshold", 1, 1_000_000, context) ?? settings.FailureThreshold };
        }
        if (cb.TryGetProperty("success_threshold", out e))
        {
            settings = settings with { SuccessThreshold = ReadInt(e, P + ".success_threshold", 1, 1_000_000, context) ?? settings.SuccessThreshold };
        }
        if (cb.TryGetProperty("half_open_max_calls", out e))
        {
            settings = settings with { HalfOpenMaxCalls = ReadInt(e, P + ".half_open_max_calls", 1, 1_000_000, context) ?? settings.HalfOpenMaxCalls };
        }
        if (cb.TryGetProperty("error_rate_window_seconds", out e))
        {
            var seconds = ReadInt(e, P + ".error_rate_window_seconds", 1, 86_400, context);
            if (seconds is { } s)
            {
                settings = settings with { ErrorRateWindow = TimeSpan.FromSeconds(s) };
            }
        }
        if (cb.TryGetProperty("timeout_ms", out e))
        {
            var ms = ReadInt(e, P + ".timeout_ms", 1, int.MaxValue, context);
            if (ms is { } m)
            {
                settings = settings with { OpenTimeout = TimeSpan.FromMilliseconds(m) };
            }
        }
        if (cb.TryGetProperty("half_open_trial_timeout_ms", out e))
        {
            var ms = ReadInt(e, P + ".half_open_trial_timeout_ms", 1, int.MaxValue, context);
            if (ms is { } m)
            {
                settings = settings with { TrialTimeout = TimeSpan.FromMilliseconds(m) };
            }
        }
        if (cb.TryGetProperty("error_rate_threshold", out e))
        {
            if (e.ValueKind == JsonValueKind.Number && e.TryGetDouble(out var rate) && rate > 0 && rate <= 1)
            {
                settings = settings with { ErrorRateThreshold = rate };
            }
            else
            {
                context.Error(P + ".error_rate_threshold", $"must be a fraction in (0, 1] (got {e.GetRawText()})");
            }
        }
        return enabled ? settings : null;
    }

    private static ImmutableArray<ExtensionStep> ReadExtensions(JsonElement root, string property, ExtensionStage stage, LoadContext context)
    {
        var basePath = "$." + property;
        if (!root.TryGetProperty(property, out var list) || list.ValueKind == JsonValueKind.Null)
        {
            return [];
        }
        if (list.ValueKind != JsonValueKind.Array)
        {
            context.Error(basePath, "must be an array of {id, mode, on_fail, config}");
            return [];
        }
        var steps = ImmutableArray.CreateBuilder<ExtensionStep>();
        var i = 0;
        foreach (var item in list.EnumerateArray())
        {
            var path = Index(basePath, i++);
            if (item.ValueKind != JsonValueKind.Object)
            {
                context.Error(path, "must be an object {id, mode, on_fail, config}");
                continue;
            }
            var id = RequiredString(item, "id", path, context);
            var mode = ExtensionMode.Required;
            if (item.TryGetProperty("mode", out var modeElement))
            {
                mode = modeElement.ValueKind == JsonValueKind.String ? modeElement.GetString() switch
                {
                    "required" => ExtensionMode.Required,
                    "optional" => ExtensionMode.Optional,
                    var other => context.Error<ExtensionMode>(path + ".mode", $"unknown mode '{other}' (use required or optional)"),
                } : context.Error<ExtensionMode>(path + ".mode", "must be a string");
            }
            var onFail = ValidatorFailAction.Block;
            if (item.TryGetProperty("on_fail", out var failElement))
            {
                onFail = failElement.ValueKind == JsonValueKind.String ? failElement.GetString() switch
                {
                    "block" => ValidatorFailAction.Block,
                    "warn" => ValidatorFailAction.Warn,
                    "ignore" => ValidatorFailAction.Ignore,
                    var other => context.Error<ValidatorFailAction>(path + ".on_fail", $"unknown on_fail '{other}' (use block, warn or ignore)"),
                } : context.Error<ValidatorFailAction>(path + ".on_fail", "must be a string");
            }
            JsonElement? config = null;
            if (item.TryGetProperty("config", out var configElement) && configElement.ValueKind != JsonValueKind.Null)
            {
                if (configElement.ValueKind == JsonValueKind.Object)
                {
                    config = configElement.Clone();
                }
                else
                {
                    context.Error(path + ".config", "must be an object");
                }
            }
            if (id is not null)
            {
                steps.Add(new ExtensionStep { Stage = stage, Id = id, Mode = mode, OnFail = onFail, Config = config });
            }
        }
        return steps.ToImmutable();
    }

    private static ImmutableArray<string> ReadStrings(JsonElement element, string path, LoadContext context)
    {
        if (element.ValueKind != JsonValueKind.Array)
        {
            context.Error(path, "must be an array of strings");
            return [];
        }
        var builder = ImmutableArray.CreateBuilder<string>();
        var i = 0;
        foreach (var item in element.EnumerateArray())
        {
            var itemPath = Index(path, i++);
            if (item.ValueKind == JsonValueKind.String && !string.IsNullOrEmpty(item.GetString()))
            {
                builder.Add(item.GetString()!);
            }
            else
            {
                context.Error(itemPath, "must be a non-empty string");
            }
        }
        return builder.ToImmutable();
    }

    private static string? RequiredString(JsonElement item, string property, string path, LoadContext context)
    {
        if (!item.TryGetProperty(property, out var element))
        {
            context.Error(path + "." + property, "missing required field");
            return null;
        }
        if (element.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(element.GetString()))
        {
            context.Error(path + "." + property, "must be a non-empty string");
            return null;
        }
        return element.GetString();
    }

    private static bool ReadBool(JsonElement item, string property, string path, bool defaultValue, LoadContext context)
    {
        if (!item.TryGetProperty(property, out var element))
        {
            return defaultValue;
        }
        if (element.ValueKind is JsonValueKind.True or JsonValueKind.False)
        {
            return element.GetBoolean();
        }
        context.Error(path + "." + property, "must be true or false");
        return defaultValue;
    }

    private static int? ReadInt(JsonElement element, string path, int min, int max, LoadContext context)
    {
        if (element.ValueKind == JsonValueKind.Number && element.TryGetInt32(out var value) && value >= min && value <= max)
        {
            return value;
        }
        context.Error(path, max == int.MaxValue || max >= 1_000_000
            ? $"must be an integer ≥ {min} (got {element.GetRawText()})"
            : $"must be an integer from {min} to {max} (got {element.GetRawText()})");
        return null;
    }

    private static string Index(string path, int i) => string.Create(CultureInfo.InvariantCulture, $"{path}[{i}]");

    private static string Member(string path, string name)
    {
        foreach (var c in name)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c != '_' && c != '-')
            {
                return $"{path}['{name.Replace("'", "\\'", StringComparison.Ordinal)}']";
            }
        }
        return name.Length == 0 ? path + "['']" : path + "." + name;
    }

    private static string Format(double value) => value.ToString("G", CultureInfo.InvariantCulture);

    private sealed class LoadContext(string file, PolicyLoadOptions options)
    {
        public string File { get; } = file;

        public PolicyLoadOptions Options { get; } = options;

        public List<PolicyError> Errors { get; } = [];

        public void Error(string path, string message) => Errors.Add(new PolicyError(File, path, message));

        public T Error<T>(string path, string message)
        {
            Error(path, message);
            return default!;
        }

        public bool HasErrorUnder(string path)
        {
            foreach (var e in Errors)
            {
                if (e.Path.StartsWith(path, StringComparison.Ordinal))
                {
                    return true;
                }
            }
            return false;
        }

        public PolicyLoadResult Fail(string path, string message)
        {
            Error(path, message);
            return new PolicyLoadResult { Errors = [.. Errors] };
        }
    }
}
