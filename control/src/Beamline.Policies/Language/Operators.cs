namespace Beamline.Policies.Language;

/// <summary>
/// The meaning of the language's operators, shared by the compiled program and the reference
/// evaluator so that the two can only differ in how they walk a policy, never in what an
/// operator does. A type error throws <see cref="PolicyRuntimeException"/> at the operator.
/// </summary>
internal static class Operators
{
    /// <summary>Truthiness in conditions: none, false, 0, "" and empty lists or maps are false.</summary>
    public static bool Truthy(in Value value) => value.Kind switch
    {
        ValueKind.None => false,
        ValueKind.Bool or ValueKind.Number => value.Number != 0,
        ValueKind.String or ValueKind.Symbol => value.AsString.Length > 0,
        ValueKind.List => value.AsList.Length > 0,
        ValueKind.Map => value.AsMap.Length > 0,
        _ => true,
    };

    public static Value Binary(string op, in Value left, in Value right, Node at) => op switch
    {
        "==" => Value.Of(left.Equals(right)),
        "!=" => Value.Of(!left.Equals(right)),
        "<" or "<=" or ">" or ">=" => Value.Of(Compare(op, left, right, at)),
        "in" => Value.Of(Contains(right, left, at)),
        "not in" => Value.Of(!Contains(right, left, at)),
        "+" => Add(left, right, at),
        _ => Arithmetic(op, left, right, at),
    };

    /// <summary>The ordering operators, resolved once when a policy compiles.</summary>
    public enum Ordering
    {
        Less,
        LessOrEqual,
        Greater,
        GreaterOrEqual,
    }

    public static Ordering ToOrdering(string op) => op switch
    {
        "<" => Ordering.Less,
        "<=" => Ordering.LessOrEqual,
        ">" => Ordering.Greater,
        _ => Ordering.GreaterOrEqual,
    };

    public static bool Compare(string op, in Value left, in Value right, Node at) => Compare(ToOrdering(op), left, right, at);

    // Ordering with none on either side is false (an absent constraint meets no bound); other mixes are errors.
    public static bool Compare(Ordering op, in Value left, in Value right, Node at)
    {
        if (left.IsNone || right.IsNone)
        {
            return false;
        }
        int order;
        if (left.Kind == ValueKind.Number && right.Kind == ValueKind.Number)
        {
            order = left.Number.CompareTo(right.Number);
            if (double.IsNaN(left.Number) || double.IsNaN(right.Number))
            {
                return false;
            }
        }
        else if (IsText(left) && IsText(right))
        {
            order = string.CompareOrdinal(left.AsString, right.AsString);
        }
        else
        {
            throw new PolicyRuntimeException(at.Line, at.Column,
                $"cannot compare {Value.KindName(left.Kind)} with {Value.KindName(right.Kind)} using '{(at is BinaryExpr binary ? binary.Op : op.ToString())}'");
        }
        return op switch
        {
            Ordering.Less => order < 0,
            Ordering.LessOrEqual => order <= 0,
            Ordering.Greater => order > 0,
            _ => order >= 0,
        };
    }

    public static bool Contains(in Value haystack, in Value needle, Node at)
    {
        switch (haystack.Kind)
        {
            case ValueKind.None:
                return false;
            case ValueKind.List:
                foreach (var item in haystack.AsList)
                {
                    if (item.Equals(needle))
                    {
                        return true;
                    }
                }
                return false;
            case ValueKind.Map:
                if (!IsText(needle))
                {
                    return false;
                }
                foreach (var entry in haystack.AsMap)
                {
                    if (string.Equals(entry.Key, needle.AsString, StringComparison.Ordinal))
                    {
                        return true;
                    }
                }
                return false;
            case ValueKind.String:
                return IsText(needle)
                    ? haystack.AsString.Contains(needle.AsString, StringComparison.Ordinal)
                    : throw new PolicyRuntimeException(at.Line, at.Column, $"'in' a string needs a string, not {Value.KindName(needle.Kind)}");
            default:
                throw new PolicyRuntimeException(at.Line, at.Column, $"'in' needs a list, map or string, not {Value.KindName(haystack.Kind)}");
        }
    }

    public static Value Add(in Value left, in Value right, Node at)
    {
        if (left.Kind == ValueKind.Number && right.Kind == ValueKind.Number)
        {
            return Value.Of(left.Number + right.Number);
        }
        if (IsText(left) && IsText(right))
        {
            return Value.Of(left.AsString + right.AsString);
        }
        if (left.Kind == ValueKind.List && right.Kind == ValueKind.List)
        {
            return Value.List([.. left.AsList, .. right.AsList]);
        }
        throw new PolicyRuntimeException(at.Line, at.Column, $"cannot add {Value.KindName(left.Kind)} and {Value.KindName(right.Kind)}");
    }

    private static Value Arithmetic(string op, in Value left, in Value right, Node at)
    {
        if (left.Kind != ValueKind.Number || right.Kind != ValueKind.Number)
        {
            throw new PolicyRuntimeException(at.Line, at.Column,
                $"'{op}' needs two numbers, not {Value.KindName(left.Kind)} and {Value.KindName(right.Kind)}");
        }
        if (op is "/" or "%" && right.Number == 0)
        {
            throw new PolicyRuntimeException(at.Line, at.Column, "division by zero");
        }
        return Value.Of(op switch
        {
            "-" => left.Number - right.Number,
            "*" => left.Number * right.Number,
            "/" => left.Number / right.Number,
            _ => left.Number % right.Number,
        });
    }

    public static Value Negate(in Value operand, Node at) => operand.Kind == ValueKind.Number
        ? Value.Of(-operand.Number)
        : throw new PolicyRuntimeException(at.Line, at.Column, $"'-' needs a number, not {Value.KindName(operand.Kind)}");

    /// <summary><c>target[index]</c>: a list by position (negative from the end), a map by key; missing gives none.</summary>
    public static Value Index(in Value target, in Value index, Node at)
    {
        switch (target.Kind)
        {
            case ValueKind.None:
                return Value.None;
            case ValueKind.List when index.Kind == ValueKind.Number:
                var list = target.AsList;
                var i = (int)Math.Floor(index.Number);
                i = i < 0 ? list.Length + i : i;
                return i >= 0 && i < list.Length ? list[i] : Value.None;
            case ValueKind.Map when IsText(index):
                return Member(target, index.AsString, at);
            default:
                throw new PolicyRuntimeException(at.Line, at.Column, $"cannot index {Value.KindName(target.Kind)} with {Value.KindName(index.Kind)}");
        }
    }

    /// <summary><c>map.key</c>: none when the key is missing.</summary>
    public static Value Member(in Value target, string name, Node at)
    {
        if (target.IsNone)
        {
            return Value.None;
        }
        if (target.Kind != ValueKind.Map)
        {
            throw new PolicyRuntimeException(at.Line, at.Column, $"{Value.KindName(target.Kind)} has no member '{name}'");
        }
        foreach (var entry in target.AsMap)
        {
            if (string.Equals(entry.Key, name, StringComparison.Ordinal))
            {
                return entry.Value;
            }
        }
        return Value.None;
    }

    public static bool IsText(in Value value) => value.Kind is ValueKind.String or ValueKind.Symbol;
}
