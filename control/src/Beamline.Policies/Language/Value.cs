using System.Globalization;
using System.Text;

namespace Beamline.Policies.Language;

/// <summary>What a <see cref="Value"/> holds.</summary>
internal enum ValueKind : byte
{
    None,
    Bool,
    Number,
    String,
    List,
    Map,

    /// <summary>A routing built-in's result (<see cref="RouteDirective"/>); fixed when the policy compiles.</summary>
    Route,

    /// <summary><c>tagged("x")</c>: the catalog's providers with a tag (<see cref="TagSet"/>).</summary>
    Tags,

    /// <summary>A fallback rule (<c>on(...)</c>), a <see cref="FallbackRule"/>.</summary>
    Rule,

    /// <summary>A <c>with</c> setting (<see cref="Setting"/>).</summary>
    Setting,

    /// <summary>A bare word given to a built-in (<c>reward = quality</c>); its text is the string.</summary>
    Symbol,
}

/// <summary>
/// A value of the policy language: a small struct, so that evaluating conditions allocates
/// nothing. Durations are numbers of milliseconds. Lists and maps are never mutated.
/// </summary>
internal readonly struct Value : IEquatable<Value>
{
    public static readonly Value None;
    public static readonly Value True = new(ValueKind.Bool, 1, null);
    public static readonly Value False = new(ValueKind.Bool, 0, null);

    public readonly ValueKind Kind;
    public readonly double Number;
    public readonly object? Object;

    private Value(ValueKind kind, double number, object? obj)
    {
        Kind = kind;
        Number = number;
        Object = obj;
    }

    public static Value Of(double number) => new(ValueKind.Number, number, null);

    public static Value Of(bool value) => value ? True : False;

    public static Value Of(string? text) => text is null ? None : new(ValueKind.String, 0, text);

    public static Value List(Value[] items) => new(ValueKind.List, 0, items);

    public static Value Map(KeyValuePair<string, Value>[] entries) => new(ValueKind.Map, 0, entries);

    public static Value Symbol(string word) => new(ValueKind.Symbol, 0, word);

    public static Value Wrap(ValueKind kind, object obj) => new(kind, 0, obj);

    public bool IsNone => Kind == ValueKind.None;

    public bool AsBool => Number != 0;

    public string AsString => (string)Object!;

    public Value[] AsList => (Value[])Object!;

    public KeyValuePair<string, Value>[] AsMap => (KeyValuePair<string, Value>[])Object!;

    /// <summary>The kind's name in messages.</summary>
    public static string KindName(ValueKind kind) => kind switch
    {
        ValueKind.None => "none",
        ValueKind.Bool => "a boolean",
        ValueKind.Number => "a number",
        ValueKind.String or ValueKind.Symbol => "a string",
        ValueKind.List => "a list",
        ValueKind.Map => "a map",
        ValueKind.Route => "a route",
        ValueKind.Tags => "a tagged(...) set",
        ValueKind.Rule => "a fallback rule",
        _ => "a setting",
    };

    /// <summary>Structural equality (strings ordinal, numbers by value, lists and maps element-wise).</summary>
    public bool Equals(Value other)
    {
        var (a, b) = (Kind == ValueKind.Symbol ? ValueKind.String : Kind, other.Kind == ValueKind.Symbol ? ValueKind.String : other.Kind);
        if (a != b)
        {
            return false;
        }
        switch (a)
        {
            case ValueKind.None:
                return true;
            case ValueKind.Bool:
            case ValueKind.Number:
                return Number == other.Number;
            case ValueKind.String:
                return string.Equals(AsString, other.AsString, StringComparison.Ordinal);
            case ValueKind.List:
                var (x, y) = (AsList, other.AsList);
                if (x.Length != y.Length)
                {
                    return false;
                }
                for (var i = 0; i < x.Length; i++)
                {
                    if (!x[i].Equals(y[i]))
                    {
                        return false;
                    }
                }
                return true;
            case ValueKind.Map:
                var (m, n) = (AsMap, other.AsMap);
                if (m.Length != n.Length)
                {
                    return false;
                }
                for (var i = 0; i < m.Length; i++)
                {
                    if (!string.Equals(m[i].Key, n[i].Key, StringComparison.Ordinal) || !m[i].Value.Equals(n[i].Value))
                    {
                        return false;
                    }
                }
                return true;
            default:
                return Equals(Object, other.Object);
        }
    }

    public override bool Equals(object? obj) => obj is Value other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(Kind, Number, Object);

    /// <summary>The value as source text (what <c>policy check</c> prints).</summary>
    public override string ToString()
    {
        switch (Kind)
        {
            case ValueKind.None:
                return "none";
            case ValueKind.Bool:
                return AsBool ? "true" : "false";
            case ValueKind.Number:
                return Number.ToString("R", CultureInfo.InvariantCulture);
            case ValueKind.String:
                return Quote(AsString);
            case ValueKind.Symbol:
                return AsString;
            case ValueKind.List:
                return "[" + string.Join(", ", AsList.Select(v => v.ToString())) + "]";
            case ValueKind.Map:
                return "{" + string.Join(", ", AsMap.Select(e => Quote(e.Key) + ": " + e.Value)) + "}";
            default:
                return Object?.ToString() ?? "?";
        }
    }

    /// <summary>A string literal in source form.</summary>
    public static string Quote(string text)
    {
        var quoted = new StringBuilder("\"");
        foreach (var c in text)
        {
            quoted.Append(c switch
            {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\n' => "\\n",
                '\t' => "\\t",
                _ => c.ToString(),
            });
        }
        return quoted.Append('"').ToString();
    }
}
