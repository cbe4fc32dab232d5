using System.Collections.Immutable;
using System.Runtime.CompilerServices;

namespace Beamline.Policies.Language;

/// <summary>A compiled expression and, when it reads nothing of the request, its value.</summary>
internal readonly record struct Compiled(Eval Fn, bool IsConstant, Value Constant)
{
    public static Compiled Of(Value value) => new(_ => value, true, value);
}

/// <summary>Room for a built-in's arguments on the stack (no array per call).</summary>
[InlineArray(8)]
internal struct ArgumentBuffer
{
    private Value _element;
}

internal sealed partial class Compiler
{
    /// <summary>The request members a policy may read.</summary>
    internal static readonly string[] RequestMembers =
    [
        "payload", "message_type", "user_id", "session_id", "tenant_id", "request_id", "input_tokens", "output_tokens",
        "latency_sla", "constraints.max_cost", "constraints.max_latency_ms", "context[\"key\"]",
    ];

    private Value Constant(Compiled compiled, Node at, string what) => compiled.IsConstant
        ? compiled.Constant
        : throw new PolicySourceException(at.Line, at.Column, $"{what} must be constant: it cannot read the request or a variable computed from it");

    private Compiled Expression(Expr expression, Env env)
    {
        switch (expression)
        {
            case LiteralExpr literal:
                return Compiled.Of(literal.Value);
            case NameExpr name:
                return Name(name, env);
            case MemberExpr or IndexExpr when RequestRoot(expression):
                return Request(expression, env);
            case MemberExpr member:
                var target = Expression(member.Target, env);
                var memberName = member.Member;
                var targetFn = target.Fn;
                return Fold(input => Operators.Member(targetFn(input), memberName, member), target.IsConstant);
            case IndexExpr index:
                var (list, key) = (Expression(index.Target, env), Expression(index.Index, env));
                var (listFn, keyFn) = (list.Fn, key.Fn);
                return Fold(input => Operators.Index(listFn(input), keyFn(input), index), list.IsConstant && key.IsConstant);
            case UnaryExpr unary:
                var operand = Expression(unary.Operand, env);
                var operandFn = operand.Fn;
                return unary.Op == "not"
                    ? Fold(input => Value.Of(!Operators.Truthy(operandFn(input))), operand.IsConstant)
                    : Fold(input => Operators.Negate(operandFn(input), unary), operand.IsConstant);
            case BinaryExpr binary:
                return Binary(binary, env);
            case ConditionalExpr conditional:
                var (condition, then, otherwise) = (Expression(conditional.Condition, env), Expression(conditional.Then, env), Expression(conditional.Else, env));
                var (conditionFn, thenFn, elseFn) = (condition.Fn, then.Fn, otherwise.Fn);
                return Fold(input => Operators.Truthy(conditionFn(input)) ? thenFn(input) : elseFn(input),
                    condition.IsConstant && then.IsConstant && otherwise.IsConstant);
            case ListExpr items:
                var compiled = items.Items.Select(i => Expression(i, env)).ToArray();
                var fns = compiled.Select(c => c.Fn).ToArray();
                return Fold(input =>
                {
                    var values = new Value[fns.Length];
                    for (var i = 0; i < fns.Length; i++)
                    {
                        values[i] = fns[i](input);
                    }
                    return Value.List(values);
                }, compiled.All(c => c.IsConstant));
            case MapExpr map:
                return Map(map, env);
            case CallExpr call:
                return Call(call, env);
            default:
                throw new PolicySourceException(expression.Line, expression.Column, "unsupported expression");
        }
    }

    // Runs a node whose operands are all constant once, now; an error there is a compile error at the node.
    private Compiled Fold(Eval fn, bool operandsConstant)
    {
        if (!operandsConstant)
        {
            return new Compiled(fn, false, default);
        }
        _constant.Begin(_budget, 0);
        try
        {
            return Compiled.Of(fn(_constant));
        }
        catch (NotConstantException)
        {
            return new Compiled(fn, false, default);
        }
        catch (PolicyRuntimeException e)
        {
            throw new PolicySourceException(e.Line, e.Column, e.Message);
        }
    }

    private static Compiled Name(NameExpr name, Env env)
    {
        if (name.Name == "request")
        {
            throw new PolicySourceException(name.Line, name.Column, $"request needs a member: request.{string.Join(", request.", RequestMembers)}");
        }
        if (!env.Scope.TryFind(name.Name, out var binding))
        {
            throw new PolicySourceException(name.Line, name.Column, $"unknown name '{name.Name}'");
        }
        if (binding.IsConstant)
        {
            return Compiled.Of(binding.Constant);
        }
        var slot = binding.Slot;
        return binding.FrameRelative
            ? new Compiled(input => input.Stack[input.FramePointer + slot], false, default)
            : new Compiled(input => input.Stack[slot], false, default);
    }

    private static bool RequestRoot(Expr expression) => expression switch
    {
        NameExpr name => name.Name == "request",
        MemberExpr member => RequestRoot(member.Target),
        IndexExpr index => RequestRoot(index.Target),
        _ => false,
    };

    private Compiled Request(Expr expression, Env env)
    {
        Eval? fn = expression switch
        {
            MemberExpr { Target: NameExpr, Member: var member } => member switch
            {
                "payload" => input => input.ConstantMode ? throw NotConstantException.Instance : Value.Of(input.PayloadText),
                "message_type" => input => input.ConstantMode ? throw NotConstantException.Instance : Value.Of(input.MessageType),
                "user_id" => input => input.ConstantMode ? throw NotConstantException.Instance : Value.Of(input.UserId),
                "session_id" => input => input.ConstantMode ? throw NotConstantException.Instance : Value.Of(input.SessionId),
                "tenant_id" => input => input.ConstantMode ? throw NotConstantException.Instance : Value.Of(input.TenantId),
                "request_id" => input => input.ConstantMode ? throw NotConstantException.Instance : Value.Of(input.RequestId),
                "input_tokens" => input => input.ConstantMode ? throw NotConstantException.Instance : Value.Of(input.InputTokens),
                "output_tokens" => input => input.ConstantMode ? throw NotConstantException.Instance : Value.Of(input.OutputTokens),
                "latency_sla" => input => input.ConstantMode ? throw NotConstantException.Instance : Optional(input.MaxLatencyMs),
                _ => null,
            },
            MemberExpr { Target: MemberExpr { Target: NameExpr, Member: "constraints" }, Member: var member } => member switch
            {
                "max_cost" => input => input.ConstantMode ? throw NotConstantException.Instance : Optional(input.MaxCost),
                "max_latency_ms" => input => input.ConstantMode ? throw NotConstantException.Instance : Optional(input.MaxLatencyMs),
                _ => null,
            },
            MemberExpr { Target: MemberExpr { Target: NameExpr, Member: "context" }, Member: var key } => ContextKey(key),
            IndexExpr { Target: MemberExpr { Target: NameExpr, Member: "context" } } index => ContextIndex(index, env),
            _ => null,
        };
        return fn is null
            ? throw new PolicySourceException(expression.Line, expression.Column,
                $"unknown request member; a policy may read request.{string.Join(", request.", RequestMembers)}")
            : new Compiled(fn, false, default);
    }

    private Eval ContextIndex(IndexExpr index, Env env)
    {
        var key = Expression(index.Index, env);
        if (key.IsConstant)
        {
            var text = Operators.IsText(key.Constant)
                ? key.Constant.AsString
                : throw new PolicySourceException(index.Index.Line, index.Index.Column, "request.context[...] needs a string key");
            return ContextKey(text);
        }
        var keyFn = key.Fn;
        return input =>
        {
            if (input.ConstantMode)
            {
                throw NotConstantException.Instance;
            }
            var value = keyFn(input);
            return Operators.IsText(value)
                ? Value.Of(input.GetContextValue(value.AsString))
                : throw new PolicyRuntimeException(index.Line, index.Column, "request.context[...] needs a string key");
        };
    }

    // session_id and user_id are fields; other keys are looked up in the context map.
    private static Eval ContextKey(string key) => key switch
    {
        "session_id" => input => input.ConstantMode ? throw NotConstantException.Instance : Value.Of(input.SessionId),
        "user_id" => input => input.ConstantMode ? throw NotConstantException.Instance : Value.Of(input.UserId),
        _ => input => input.ConstantMode ? throw NotConstantException.Instance : Value.Of(input.GetContextValueCached(key)),
    };

    private static Value Optional(double? value) => value is { } number ? Value.Of(number) : Value.None;

    private Compiled Binary(BinaryExpr binary, Env env)
    {
        var (left, right) = (Expression(binary.Left, env), Expression(binary.Right, env));
        var (l, r) = (left.Fn, right.Fn);
        var constant = left.IsConstant && right.IsConstant;
        switch (binary.Op)
        {
            case "and":
                return Fold(input => Value.Of(Operators.Truthy(l(input)) && Operators.Truthy(r(input))), constant);
            case "or":
                return Fold(input => Value.Of(Operators.Truthy(l(input)) || Operators.Truthy(r(input))), constant);
            case "==" or "!=" when right.IsConstant && right.Constant.Kind == ValueKind.String:
                // The common condition (`request.message_type == "chat"`): one kind test and an ordinal compare.
                var text = right.Constant.AsString;
                var equal = binary.Op == "==";
                return Fold(input =>
                {
                    var value = l(input);
                    return Value.Of(value.Kind is ValueKind.String or ValueKind.Symbol && string.Equals((string)value.Object!, text, StringComparison.Ordinal) == equal);
                }, constant);
            case "==" when right.IsConstant:
                var expected = right.Constant;
                return Fold(input => Value.Of(l(input).Equals(expected)), constant);
            case "!=" when right.IsConstant:
                var unexpected = right.Constant;
                return Fold(input => Value.Of(!l(input).Equals(unexpected)), constant);
            case "<" or "<=" or ">" or ">=":
                var op = Operators.ToOrdering(binary.Op);
                if (right.IsConstant && right.Constant.Kind == ValueKind.Number && !double.IsNaN(right.Constant.Number))
                {
                    // A number against a constant bound: no call unless the value is not a number.
                    var limit = right.Constant.Number;
                    var bound = right.Constant;
                    return Fold(input =>
                    {
                        var value = l(input);
                        if (value.Kind != ValueKind.Number || double.IsNaN(value.Number))
                        {
                            return Value.Of(Operators.Compare(op, value, bound, binary));
                        }
                        return Value.Of(op switch
                        {
                            Operators.Ordering.Less => value.Number < limit,
                            Operators.Ordering.LessOrEqual => value.Number <= limit,
                            Operators.Ordering.Greater => value.Number > limit,
                            _ => value.Number >= limit,
                        });
                    }, constant);
                }
                return Fold(input => Value.Of(Operators.Compare(op, l(input), r(input), binary)), constant);
            case "in":
                return Fold(input => Value.Of(Operators.Contains(r(input), l(input), binary)), constant);
            case "not in":
                return Fold(input => Value.Of(!Operators.Contains(r(input), l(input), binary)), constant);
            case "+":
                return Fold(input => Operators.Add(l(input), r(input), binary), constant);
            default:
                var name = binary.Op;
                return Fold(input => Operators.Binary(name, l(input), r(input), binary), constant);
        }
    }

    private Compiled Map(MapExpr map, Env env)
    {
        var keys = new string[map.Keys.Length];
        for (var i = 0; i < keys.Length; i++)
        {
            var key = Constant(Expression(map.Keys[i], env), map.Keys[i], "a map key");
            keys[i] = Operators.IsText(key) ? key.AsString : throw new PolicySourceException(map.Keys[i].Line, map.Keys[i].Column, "map keys must be strings");
            if (Array.IndexOf(keys, keys[i], 0, i) >= 0)
            {
                throw new PolicySourceException(map.Keys[i].Line, map.Keys[i].Column, $"the key \"{keys[i]}\" is given twice");
            }
        }
        var values = map.Values.Select(v => Expression(v, env)).ToArray();
        var fns = values.Select(v => v.Fn).ToArray();
        return Fold(input =>
        {
            var entries = new KeyValuePair<string, Value>[keys.Length];
            for (var i = 0; i < keys.Length; i++)
            {
                entries[i] = new(keys[i], fns[i](input));
            }
            return Value.Map(entries);
        }, values.All(v => v.IsConstant));
    }

    private Compiled Call(CallExpr call, Env env)
    {
        if (env.Module.Functions.TryGetValue(call.Callee, out var function))
        {
            return UserCall(call, function, env);
        }
        var builtin = Builtins.Resolve(call.Callee, call.Args.Length, call.Named, call);
        var args = call.Args.Select(a => Expression(a, env)).ToArray();
        var named = call.Named.Select(n => NamedArgument(n, env)).ToArray();
        var argFns = args.Select(a => a.Fn).ToArray();
        var namedFns = named.Select(n => n.Fn).ToArray();
        var names = call.Named.Select(n => n.Name).ToArray();
        var site = Site(call, env);
        var invoke = builtin.Invoke;
        var compiled = Fold(input =>
        {
            var buffer = default(ArgumentBuffer);
            Span<Value> values = buffer;
            for (var i = 0; i < argFns.Length; i++)
            {
                values[i] = argFns[i](input);
            }
            var namedValues = namedFns.Length == 0 ? [] : new NamedValue[namedFns.Length];
            for (var i = 0; i < namedFns.Length; i++)
            {
                namedValues[i] = new NamedValue(names[i], namedFns[i](input));
            }
            return invoke(values[..argFns.Length], namedValues, site);
        }, args.All(a => a.IsConstant) && named.All(n => n.IsConstant));
        if (builtin.Routing && !compiled.IsConstant)
        {
            throw new PolicySourceException(call.Line, call.Column, $"the arguments of {call.Callee}() must be constant: it builds a route or a setting when the policy compiles");
        }
        return compiled;
    }

    // A bare word given as a named argument (`reward = quality`) is that word, unless it names a variable.
    private Compiled NamedArgument(NamedArg arg, Env env) =>
        arg.Value is NameExpr { Name: var word } && word != "request" && !env.Scope.TryFind(word, out _)
            ? Compiled.Of(Value.Symbol(word))
            : Expression(arg.Value, env);

    private Compiled UserCall(CallExpr call, FunctionInfo function, Env env)
    {
        var decl = function.Decl;
        if (call.Named.Length > 0 || call.Args.Length != decl.Parameters.Length)
        {
            throw new PolicySourceException(call.Line, call.Column, $"{decl.Name}() takes {decl.Parameters.Length} positional argument(s)");
        }
        if (function.Body is null && !function.Compiling)
        {
            if (Builtins.All.ContainsKey(decl.Name))
            {
                throw new PolicySourceException(decl.Line, decl.Column, $"'{decl.Name}' is a built-in function; pick another name");
            }
            function.Compiling = true;
            var scope = new Scope(null);
            for (var i = 0; i < decl.Parameters.Length; i++)
            {
                scope.Add(decl.Parameters[i].Name, new Binding(default, i, IsConstant: false, FrameRelative: true), decl.Parameters[i].Default ?? (Node)new PassStmt(decl.Parameters[i].Line, decl.Parameters[i].Column));
            }
            function.Body = Expression(decl.Body, new Env(env.Module, scope, env.UsePrefix, [], InFunction: true)).Fn;
            function.Compiling = false;
        }
        var args = call.Args.Select(a => Expression(a, env)).ToArray();
        var argFns = args.Select(a => a.Fn).ToArray();
        var (line, column) = (call.Line, call.Column);
        var arity = argFns.Length;
        return Fold(input =>
        {
            Step(input, line, column);
            if (++input.Depth > PolicyInput.MaxCallDepth)
            {
                throw new PolicyRuntimeException(line, column, $"calls nest deeper than {PolicyInput.MaxCallDepth}");
            }
            var frame = input.StackPointer;
            input.EnsureStack(frame + arity);
            for (var i = 0; i < arity; i++)
            {
                input.Stack[frame + i] = argFns[i](input);
                input.StackPointer = frame + i + 1;
            }
            var saved = input.FramePointer;
            input.FramePointer = frame;
            var result = function.Body!(input);
            input.FramePointer = saved;
            input.StackPointer = frame;
            input.Depth--;
            return result;
        }, args.All(a => a.IsConstant));
    }
}
