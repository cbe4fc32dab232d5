using System.Collections.Frozen;
using System.Collections.Immutable;

namespace Beamline.Policies.Language;

/// <summary>Where a built-in is called: the node, and the policy and <c>use</c> chain around it (for bandit site ids).</summary>
internal readonly record struct CallSite(Node At, string Policy, string UsePrefix)
{
    public string Location => $"{UsePrefix}{Policy}:{At.Line}:{At.Column}";
}

/// <summary>A named argument's value.</summary>
internal readonly record struct NamedValue(string Name, Value Value);

/// <summary>A built-in function: its arity, the named arguments it takes, and its body.</summary>
internal sealed record Builtin(string Name, int MinArgs, int MaxArgs, string[] Named, Builtin.Body Invoke, bool Routing = false)
{
    public delegate Value Body(ReadOnlySpan<Value> args, ReadOnlySpan<NamedValue> named, in CallSite site);
}

/// <summary>
/// The built-in functions. Every one is deterministic, so a call whose arguments are constant is
/// folded when the policy compiles; the routing built-ins (<c>cheapest</c>, <c>split</c>,
/// <c>sticky</c>, <c>bandit</c>, <c>tagged</c>, <c>on</c>) and the <c>with</c> settings only ever
/// run then, because route targets must be constant.
/// </summary>
internal static partial class Builtins
{
    public static readonly FrozenDictionary<string, Builtin> All = new Builtin[]
    {
        new("len", 1, 1, [], Len),
        new("lower", 1, 1, [], (a, _, in s) => Value.Of(Text(a[0], s, "lower").ToLowerInvariant())),
        new("upper", 1, 1, [], (a, _, in s) => Value.Of(Text(a[0], s, "upper").ToUpperInvariant())),
        new("contains", 2, 2, [], (a, _, in s) => Value.Of(Operators.Contains(a[0], a[1], s.At))),
        new("starts_with", 2, 2, [], (a, _, in s) => Value.Of(a[0].IsNone ? false : Text(a[0], s, "starts_with").StartsWith(Text(a[1], s, "starts_with"), StringComparison.Ordinal))),
        new("ends_with", 2, 2, [], (a, _, in s) => Value.Of(a[0].IsNone ? false : Text(a[0], s, "ends_with").EndsWith(Text(a[1], s, "ends_with"), StringComparison.Ordinal))),
        new("min", 2, 8, [], (a, _, in s) => Extreme(a, s, -1)),
        new("max", 2, 8, [], (a, _, in s) => Extreme(a, s, 1)),
        new("abs", 1, 1, [], (a, _, in s) => Value.Of(Math.Abs(Number(a[0], s, "abs")))),
        new("default", 2, 2, [], (a, _, in _) => a[0].IsNone ? a[1] : a[0]),
        new("tagged", 1, 1, [], (a, _, in s) => Value.Wrap(ValueKind.Tags, new TagSet(Text(a[0], s, "tagged"))), Routing: true),
        new("cheapest", 1, 1, [], (a, _, in s) => Strategy(DirectiveStrategy.Cheapest, a[0], s), Routing: true),
        new("fastest", 1, 1, [], (a, _, in s) => Strategy(DirectiveStrategy.Fastest, a[0], s), Routing: true),
        new("best_quality", 1, 1, [], (a, _, in s) => Strategy(DirectiveStrategy.BestQuality, a[0], s), Routing: true),
        new("split", 1, 1, [], (a, _, in s) => Value.Wrap(ValueKind.Route, Split(a[0], s)), Routing: true),
        new("sticky", 1, 1, ["key", "ttl"], Sticky, Routing: true),
        new("bandit", 1, 1, ["reward", "algorithm"], Bandit, Routing: true),
        new("on", 2, 2, ["retry", "message_types", "legacy"], Rule, Routing: true),
        new("circuit_breaker", 0, 0, ["failure_threshold", "error_rate_threshold", "error_rate_window", "success_threshold", "half_open_max_calls", "timeout", "trial_timeout"], CircuitBreaker, Routing: true),
        new("pre", 1, 1, ["mode", "config"], (a, n, in s) => Extension(ExtensionStage.Pre, a, n, s), Routing: true),
        new("validator", 1, 1, ["on_fail", "config"], (a, n, in s) => Extension(ExtensionStage.Validate, a, n, s), Routing: true),
        new("post", 1, 1, ["mode", "config"], (a, n, in s) => Extension(ExtensionStage.Post, a, n, s), Routing: true),
        new("metadata", 1, 1, [], (a, _, in s) => Setting.Wrap(Setting.Kind.Metadata, Map(a[0], s, "metadata")), Routing: true),
        new("version", 1, 1, [], (a, _, in s) => Setting.Wrap(Setting.Kind.Version, Text(a[0], s, "version")), Routing: true),
    }.ToFrozenDictionary(b => b.Name, StringComparer.Ordinal);

    /// <summary>Checks a call's shape (count of arguments, names of named ones); throws at the call when wrong.</summary>
    public static Builtin Resolve(string name, int args, ImmutableArray<NamedArg> named, Node at)
    {
        if (!All.TryGetValue(name, out var builtin))
        {
            throw new PolicySourceException(at.Line, at.Column, $"unknown function '{name}'");
        }
        if (args < builtin.MinArgs || args > builtin.MaxArgs)
        {
            var wanted = builtin.MinArgs == builtin.MaxArgs ? $"{builtin.MinArgs}" : $"{builtin.MinArgs} to {builtin.MaxArgs}";
            throw new PolicySourceException(at.Line, at.Column, $"{name}() takes {wanted} positional argument(s), not {args}");
        }
        foreach (var arg in named)
        {
            if (Array.IndexOf(builtin.Named, arg.Name) < 0)
            {
                throw new PolicySourceException(at.Line, at.Column, builtin.Named.Length == 0
                    ? $"{name}() takes no named arguments ('{arg.Name}')"
                    : $"{name}() has no argument '{arg.Name}' (it takes {string.Join(", ", builtin.Named)})");
            }
        }
        return builtin;
    }

    private static Value Len(ReadOnlySpan<Value> args, ReadOnlySpan<NamedValue> named, in CallSite site) => args[0].Kind switch
    {
        ValueKind.None => Value.Of(0),
        ValueKind.String or ValueKind.Symbol => Value.Of(args[0].AsString.Length),
        ValueKind.List => Value.Of(args[0].AsList.Length),
        ValueKind.Map => Value.Of(args[0].AsMap.Length),
        _ => throw Fail(site, $"len() needs a string, list or map, not {Value.KindName(args[0].Kind)}"),
    };

    private static Value Extreme(ReadOnlySpan<Value> args, in CallSite site, int sign)
    {
        var best = Number(args[0], site, sign > 0 ? "max" : "min");
        for (var i = 1; i < args.Length; i++)
        {
            var x = Number(args[i], site, sign > 0 ? "max" : "min");
            best = sign > 0 ? Math.Max(best, x) : Math.Min(best, x);
        }
        return Value.Of(best);
    }

    internal static string Text(in Value value, in CallSite site, string function) => Operators.IsText(value)
        ? value.AsString
        : throw Fail(site, $"{function}() needs a string, not {Value.KindName(value.Kind)}");

    internal static double Number(in Value value, in CallSite site, string function) => value.Kind == ValueKind.Number
        ? value.Number
        : throw Fail(site, $"{function}() needs a number, not {Value.KindName(value.Kind)}");

    private static KeyValuePair<string, Value>[] Map(in Value value, in CallSite site, string function) => value.Kind == ValueKind.Map
        ? value.AsMap
        : throw Fail(site, $"{function}() needs a map, not {Value.KindName(value.Kind)}");

    internal static PolicyRuntimeException Fail(in CallSite site, string message) => new(site.At.Line, site.At.Column, message);
}

/// <summary><c>tagged("x")</c>.</summary>
internal sealed record TagSet(string Tag)
{
    public override string ToString() => $"tagged({Value.Quote(Tag)})";
}

/// <summary>A <c>with</c> setting.</summary>
internal sealed record Setting(Setting.Kind What, object Payload)
{
    public enum Kind
    {
        CircuitBreaker,
        Extension,
        Metadata,
        Version,
    }

    public static Value Wrap(Kind what, object payload) => Value.Wrap(ValueKind.Setting, new Setting(what, payload));
}
