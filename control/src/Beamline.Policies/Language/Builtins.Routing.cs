using System.Collections.Immutable;
using System.Text.Json;

namespace Beamline.Policies.Language;

/// <summary>The routing built-ins and the <c>with</c> settings; they run when the policy compiles.</summary>
internal static partial class Builtins
{
    private static Value Strategy(DirectiveStrategy strategy, in Value candidates, in CallSite site)
    {
        var (providers, tags) = Candidates(candidates, site, strategy.ToString().ToLowerInvariant());
        return Value.Wrap(ValueKind.Route, new RouteDirective
        {
            Strategy = strategy,
            Providers = [.. providers.Select(p => new ProviderWeight(p, 1, 1))],
            Tags = tags,
        });
    }

    // A list of provider names and tagged(...) sets, or one of them alone.
    private static (ImmutableArray<string> Providers, ImmutableArray<string> Tags) Candidates(in Value value, in CallSite site, string function)
    {
        var providers = ImmutableArray.CreateBuilder<string>();
        var tags = ImmutableArray.CreateBuilder<string>();
        ReadOnlySpan<Value> items = value.Kind == ValueKind.List ? value.AsList : [value];
        foreach (var item in items)
        {
            if (Operators.IsText(item) && item.AsString.Length > 0)
            {
                if (!providers.Contains(item.AsString))
                {
                    providers.Add(item.AsString);
                }
            }
            else if (item.Kind == ValueKind.Tags)
            {
                tags.Add(((TagSet)item.Object!).Tag);
            }
            else
            {
                throw Fail(site, $"{function}() takes provider names and tagged(...) sets, not {Value.KindName(item.Kind)}");
            }
        }
        if (providers.Count + tags.Count == 0)
        {
            throw Fail(site, $"{function}() needs at least one candidate");
        }
        return (providers.ToImmutable(), tags.ToImmutable());
    }

    private static RouteDirective Split(in Value value, in CallSite site)
    {
        if (value.Kind != ValueKind.Map)
        {
            var (names, tags) = Candidates(value, site, "split");
            if (!tags.IsEmpty)
            {
                throw Fail(site, "split() weighs named providers; tagged(...) needs cheapest, fastest, best_quality or bandit");
            }
            return new RouteDirective { Providers = [.. names.Select(n => new ProviderWeight(n, 1, 1.0 / names.Length))] };
        }
        var entries = value.AsMap;
        var total = 0.0;
        foreach (var (name, weight) in entries)
        {
            if (weight.Kind != ValueKind.Number || !(weight.Number >= 0) || double.IsInfinity(weight.Number) || name.Length == 0)
            {
                throw Fail(site, $"split() needs {{\"provider\": weight}} with weights >= 0; '{name}' has {weight}");
            }
            total += weight.Number;
        }
        if (!(total > 0))
        {
            throw Fail(site, "split() needs a positive total weight");
        }
        return new RouteDirective { Providers = [.. entries.Select(e => new ProviderWeight(e.Key, e.Value.Number, e.Value.Number / total))] };
    }

    /// <summary>A route target as a directive: a route value, a provider name, or a list of names (an even split).</summary>
    public static RouteDirective ToRoute(in Value value, in CallSite site) => value.Kind switch
    {
        ValueKind.Route => (RouteDirective)value.Object!,
        ValueKind.String or ValueKind.List => Split(value, site),
        _ => throw new PolicySourceException(site.At.Line, site.At.Column,
            $"route needs a provider name, a list of them or a routing built-in, not {Value.KindName(value.Kind)}"),
    };

    private static Value Sticky(ReadOnlySpan<Value> args, ReadOnlySpan<NamedValue> named, in CallSite site)
    {
        var inner = ToRoute(args[0], site);
        var settings = new StickySettings();
        foreach (var (name, value) in named)
        {
            settings = name == "key"
                ? settings with { SessionKey = Text(value, site, "sticky") }
                : settings with { Ttl = Duration(value, site, "sticky", "ttl") };
        }
        return Value.Wrap(ValueKind.Route, inner with { Sticky = settings });
    }

    private static Value Bandit(ReadOnlySpan<Value> args, ReadOnlySpan<NamedValue> named, in CallSite site)
    {
        var (arms, tags) = Candidates(args[0], site, "bandit");
        var reward = "quality";
        var algorithm = "thompson";
        foreach (var (name, value) in named)
        {
            var word = Text(value, site, "bandit");
            if (name == "reward")
            {
                reward = word is "quality" or "success" or "latency" or "cost"
                    ? word : throw Fail(site, $"bandit reward must be quality, success, latency or cost, not '{word}'");
            }
            else
            {
                algorithm = word is "thompson" or "linucb"
                    ? word : throw Fail(site, $"bandit algorithm must be thompson or linucb, not '{word}'");
            }
        }
        return Value.Wrap(ValueKind.Route, new RouteDirective
        {
            Strategy = DirectiveStrategy.Bandit,
            Providers = [.. arms.Select(a => new ProviderWeight(a, 1, 1))],
            Tags = tags,
            Bandit = new BanditDirective("bandit@" + site.Location, algorithm, reward),
        });
    }

    private static Value Rule(ReadOnlySpan<Value> args, ReadOnlySpan<NamedValue> named, in CallSite site)
    {
        var when = FailureKinds.None;
        ReadOnlySpan<Value> statuses = args[0].Kind == ValueKind.List ? args[0].AsList : [args[0]];
        foreach (var status in statuses)
        {
            var text = Text(status, site, "on");
            if (text == "any")
            {
                when |= FailureKinds.Any;
            }
            else if (FailureKindNames.TryParse(text, out var kind))
            {
                when |= kind;
            }
            else
            {
                throw Fail(site, $"unknown failure '{text}' (use any, {string.Join(", ", FailureKindNames.All)})");
            }
        }
        var rule = new FallbackRule { When = when, To = Text(args[1], site, "on") };
        var at = site;
        foreach (var (name, value) in named)
        {
            rule = name switch
            {
                "retry" => rule with { Retry = Number(value, site, "on") is var n && n >= 0 && n <= 10 && n == Math.Floor(n) ? (int)n : throw Fail(site, "retry must be a whole number from 0 to 10") },
                "legacy" => rule with { IsLegacy = Operators.Truthy(value) },
                _ => rule with { MessageTypes = value.Kind == ValueKind.List ? [.. value.AsList.Select(v => Text(v, at, "on"))] : [Text(value, site, "on")] },
            };
        }
        return Value.Wrap(ValueKind.Rule, rule);
    }

    /// <summary>A <c>fallback</c> statement's targets: a provider (on any failure), an <c>on(...)</c> rule, or a list of them.</summary>
    public static ImmutableArray<FallbackRule> ToRules(in Value value, in CallSite site)
    {
        var rules = ImmutableArray.CreateBuilder<FallbackRule>();
        ReadOnlySpan<Value> items = value.Kind == ValueKind.List ? value.AsList : [value];
        foreach (var item in items)
        {
            rules.Add(item.Kind switch
            {
                ValueKind.Rule => (FallbackRule)item.Object!,
                _ when Operators.IsText(item) && item.AsString.Length > 0 => new FallbackRule { When = FailureKinds.Any, To = item.AsString },
                _ => throw Fail(site, $"fallback takes provider names and on(...) rules, not {Value.KindName(item.Kind)}"),
            });
        }
        return rules.ToImmutable();
    }

    private static Value CircuitBreaker(ReadOnlySpan<Value> args, ReadOnlySpan<NamedValue> named, in CallSite site)
    {
        var settings = new CircuitBreakerSettings();
        foreach (var (name, value) in named)
        {
            settings = name switch
            {
                "failure_threshold" => settings with { FailureThreshold = Count(value, site, name) },
                "success_threshold" => settings with { SuccessThreshold = Count(value, site, name) },
                "half_open_max_calls" => settings with { HalfOpenMaxCalls = Count(value, site, name) },
                "error_rate_threshold" => settings with
                {
                    ErrorRateThreshold = Number(value, site, "circuit_breaker") is var r && r > 0 && r <= 1 ? r : throw Fail(site, "error_rate_threshold must be in (0, 1]"),
                },
                "error_rate_window" => settings with { ErrorRateWindow = Duration(value, site, "circuit_breaker", name) },
                "timeout" => settings with { OpenTimeout = Duration(value, site, "circuit_breaker", name) },
                _ => settings with { TrialTimeout = Duration(value, site, "circuit_breaker", name) },
            };
        }
        return Setting.Wrap(Setting.Kind.CircuitBreaker, settings);
    }

    private static Value Extension(ExtensionStage stage, ReadOnlySpan<Value> args, ReadOnlySpan<NamedValue> named, in CallSite site)
    {
        var step = new ExtensionStep { Stage = stage, Id = Text(args[0], site, "extension") };
        foreach (var (name, value) in named)
        {
            var word = name == "config" ? "" : Text(value, site, name);
            step = name switch
            {
                "mode" => step with
                {
                    Mode = word switch
                    {
                        "required" => ExtensionMode.Required,
                        "optional" => ExtensionMode.Optional,
                        _ => throw Fail(site, $"mode must be required or optional, not '{word}'"),
                    },
                },
                "on_fail" => step with
                {
                    OnFail = word switch
                    {
                        "block" => ValidatorFailAction.Block,
                        "warn" => ValidatorFailAction.Warn,
                        "ignore" => ValidatorFailAction.Ignore,
                        _ => throw Fail(site, $"on_fail must be block, warn or ignore, not '{word}'"),
                    },
                },
                _ => step with { Config = ToJson(value, site) },
            };
        }
        return Setting.Wrap(Setting.Kind.Extension, step);
    }

    /// <summary>A constant value as detached JSON (extension configs, metadata).</summary>
    public static JsonElement ToJson(in Value value, in CallSite site)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            WriteJson(writer, value, site);
        }
        using var document = JsonDocument.Parse(buffer.WrittenMemory);
        return document.RootElement.Clone();
    }

    private static void WriteJson(Utf8JsonWriter writer, in Value value, in CallSite site)
    {
        switch (value.Kind)
        {
            case ValueKind.None:
                writer.WriteNullValue();
                break;
            case ValueKind.Bool:
                writer.WriteBooleanValue(value.AsBool);
                break;
            case ValueKind.Number:
                writer.WriteNumberValue(value.Number);
                break;
            case ValueKind.String or ValueKind.Symbol:
                writer.WriteStringValue(value.AsString);
                break;
            case ValueKind.List:
                writer.WriteStartArray();
                foreach (var item in value.AsList)
                {
                    WriteJson(writer, item, site);
                }
                writer.WriteEndArray();
                break;
            case ValueKind.Map:
                writer.WriteStartObject();
                foreach (var (key, item) in value.AsMap)
                {
                    writer.WritePropertyName(key);
                    WriteJson(writer, item, site);
                }
                writer.WriteEndObject();
                break;
            default:
                throw Fail(site, $"{Value.KindName(value.Kind)} cannot be written as JSON");
        }
    }

    private static int Count(in Value value, in CallSite site, string name) =>
        Number(value, site, "circuit_breaker") is var n && n >= 1 && n <= 1_000_000 && n == Math.Floor(n)
            ? (int)n : throw Fail(site, $"{name} must be a whole number from 1");

    private static TimeSpan Duration(in Value value, in CallSite site, string function, string name) =>
        Number(value, site, function) is var ms && ms > 0 && ms <= TimeSpan.FromDays(365).TotalMilliseconds
            ? TimeSpan.FromMilliseconds(ms) : throw Fail(site, $"{name} must be a positive duration such as 500ms, 2s or 10m");
}
