using System.Collections.Immutable;

namespace Beamline.Policies.Language;

/// <summary>
/// A plain tree-walking evaluator of a policy's syntax tree, kept only as the yardstick for the
/// compiled program: tests run both on random programs and requests and require the same
/// outcome. It is slow on purpose-free lines (dictionaries per scope, names looked up per use) and
/// is never used to route.
/// </summary>
internal sealed class ReferenceEvaluator
{
    private readonly Func<string, PolicyModule?> _resolve;
    private readonly PolicyInput _input;
    private readonly int _budget;
    private int _steps;
    private int _depth;

    private ReferenceEvaluator(Func<string, PolicyModule?> resolve, PolicyInput input, int budget)
    {
        _resolve = resolve;
        _input = input;
        _budget = budget;
    }

    /// <summary>The directive the policy routes <paramref name="input"/> to, or the error (<c>line:column: message</c>).</summary>
    public static (RouteDirective? Directive, string? Error) Evaluate(PolicyModule module, Func<string, PolicyModule?> resolve, PolicyInput input,
        int budget = PolicyProgram.DefaultStepBudget)
    {
        var evaluator = new ReferenceEvaluator(resolve, input, budget);
        try
        {
            var env = evaluator.Enter(module, [], [], "", []);
            return (evaluator.Block(module.Policy.Body, env), null);
        }
        catch (PolicyRuntimeException e)
        {
            return (null, $"{e.Line}:{e.Column}: {e.Message}");
        }
        catch (PolicySourceException e)
        {
            return (null, $"{e.Line}:{e.Column}: {e.Message}");
        }
    }

    private sealed class Env(PolicyModule module, Env? parent, string usePrefix, ImmutableArray<FallbackRule> fallbacks)
    {
        public Dictionary<string, Value> Names { get; } = new(StringComparer.Ordinal);

        public PolicyModule Module { get; } = module;

        public Env? Parent { get; } = parent;

        public string UsePrefix { get; } = usePrefix;

        public ImmutableArray<FallbackRule> Fallbacks { get; set; } = fallbacks;

        public bool TryFind(string name, out Value value)
        {
            for (var env = this; env is not null; env = env.Parent)
            {
                if (env.Names.TryGetValue(name, out value))
                {
                    return true;
                }
            }
            value = default;
            return false;
        }

        public Env Child() => new(Module, this, UsePrefix, Fallbacks);
    }

    private Env Enter(PolicyModule module, ImmutableArray<Value> args, ImmutableArray<NamedValue> named, string prefix, ImmutableArray<FallbackRule> outer)
    {
        var env = new Env(module, null, prefix, []);
        var parameters = module.Policy.Parameters;
        for (var i = 0; i < parameters.Length; i++)
        {
            var given = named.FirstOrDefault(n => n.Name == parameters[i].Name);
            env.Names[parameters[i].Name] = i < args.Length ? args[i] : given.Name is not null ? given.Value : Expression(parameters[i].Default!, env);
        }
        var fallbacks = ImmutableArray.CreateBuilder<FallbackRule>();
        foreach (var statement in module.Policy.Body)
        {
            if (statement is FallbackStmt fallback)
            {
                fallbacks.AddRange(Builtins.ToRules(Expression(fallback.Targets, env), new CallSite(fallback, module.Policy.Name, prefix)));
            }
        }
        env.Fallbacks = [.. fallbacks, .. outer];
        return env.Child();
    }

    private RouteDirective? Block(ImmutableArray<Stmt> statements, Env outer)
    {
        var env = outer.Child();
        foreach (var statement in statements)
        {
            if (++_steps > _budget)
            {
                throw new PolicyRuntimeException(statement.Line, statement.Column, "step budget spent");
            }
            switch (statement)
            {
                case LetStmt let:
                    env.Names[let.Name] = Expression(let.Value, env);
                    break;
                case IfStmt conditional:
                    var taken = conditional.Branches.FirstOrDefault(b => Operators.Truthy(Expression(b.Condition, env)));
                    var body = taken?.Body ?? conditional.Else;
                    if (body is { } chosen && Block(chosen, env) is { } routed)
                    {
                        return routed;
                    }
                    break;
                case MatchStmt match:
                    var subject = Expression(match.Subject, env);
                    foreach (var arm in match.Cases)
                    {
                        if (arm.Patterns.Any(p => p is null || Expression(p, env).Equals(subject)))
                        {
                            if (Block(arm.Body, env) is { } matched)
                            {
                                return matched;
                            }
                            break;
                        }
                    }
                    break;
                case RouteStmt route:
                    var site = new CallSite(route, env.Module.Policy.Name, env.UsePrefix);
                    return Builtins.ToRoute(Expression(route.Target, env), site) with { Fallbacks = env.Fallbacks, Location = site.Location };
                case UseStmt use:
                    var target = _resolve(use.Policy) ?? throw new PolicyRuntimeException(use.Line, use.Column, $"unknown policy {use.Policy}");
                    var args = use.Args.Select(a => Expression(a, env)).ToImmutableArray();
                    var named = use.Named.Select(n => new NamedValue(n.Name, Expression(n.Value, env))).ToImmutableArray();
                    var inner = Enter(target, args, named, $"{env.UsePrefix}{env.Module.Policy.Name}:{use.Line}:{use.Column}/", env.Fallbacks);
                    if (Block(target.Policy.Body, inner) is { } used)
                    {
                        return used;
                    }
                    break;
            }
        }
        return null;
    }

    private Value Expression(Expr expression, Env env)
    {
        switch (expression)
        {
            case LiteralExpr literal:
                return literal.Value;
            case NameExpr name:
                return env.TryFind(name.Name, out var value) ? value : throw new PolicyRuntimeException(name.Line, name.Column, $"unknown name {name.Name}");
            case MemberExpr { Target: NameExpr { Name: "request" }, Member: var member }:
                return member switch
                {
                    "payload" => Value.Of(_input.PayloadText),
                    "message_type" => Value.Of(_input.MessageType),
                    "user_id" => Value.Of(_input.UserId),
                    "session_id" => Value.Of(_input.SessionId),
                    "tenant_id" => Value.Of(_input.TenantId),
                    "request_id" => Value.Of(_input.RequestId),
                    "input_tokens" => Value.Of(_input.InputTokens),
                    "output_tokens" => Value.Of(_input.OutputTokens),
                    _ => _input.MaxLatencyMs is { } sla ? Value.Of(sla) : Value.None,
                };
            case MemberExpr { Target: MemberExpr { Target: NameExpr { Name: "request" }, Member: "constraints" }, Member: var constraint }:
                var limit = constraint == "max_cost" ? _input.MaxCost : _input.MaxLatencyMs;
                return limit is { } number ? Value.Of(number) : Value.None;
            case MemberExpr { Target: MemberExpr { Target: NameExpr { Name: "request" }, Member: "context" }, Member: var key }:
                return Value.Of(_input.GetContextValue(key));
            case IndexExpr { Target: MemberExpr { Target: NameExpr { Name: "request" }, Member: "context" } } contextIndex:
                var contextKey = Expression(contextIndex.Index, env);
                return Operators.IsText(contextKey) ? Value.Of(_input.GetContextValue(contextKey.AsString))
                    : throw new PolicyRuntimeException(contextIndex.Line, contextIndex.Column, "request.context[...] needs a string key");
            case MemberExpr member:
                return Operators.Member(Expression(member.Target, env), member.Member, member);
            case IndexExpr index:
                return Operators.Index(Expression(index.Target, env), Expression(index.Index, env), index);
            case UnaryExpr unary:
                var operand = Expression(unary.Operand, env);
                return unary.Op == "not" ? Value.Of(!Operators.Truthy(operand)) : Operators.Negate(operand, unary);
            case BinaryExpr { Op: "and" } and:
                return Value.Of(Operators.Truthy(Expression(and.Left, env)) && Operators.Truthy(Expression(and.Right, env)));
            case BinaryExpr { Op: "or" } or:
                return Value.Of(Operators.Truthy(Expression(or.Left, env)) || Operators.Truthy(Expression(or.Right, env)));
            case BinaryExpr binary:
                var left = Expression(binary.Left, env);
                return Operators.Binary(binary.Op, left, Expression(binary.Right, env), binary);
            case ConditionalExpr conditional:
                return Operators.Truthy(Expression(conditional.Condition, env)) ? Expression(conditional.Then, env) : Expression(conditional.Else, env);
            case ListExpr list:
                return Value.List([.. list.Items.Select(i => Expression(i, env))]);
            case MapExpr map:
                var entries = new KeyValuePair<string, Value>[map.Keys.Length];
                for (var i = 0; i < entries.Length; i++)
                {
                    entries[i] = new(Expression(map.Keys[i], env).AsString, Expression(map.Values[i], env));
                }
                return Value.Map(entries);
            case CallExpr call:
                return Call(call, env);
            default:
                throw new PolicyRuntimeException(expression.Line, expression.Column, "unsupported expression");
        }
    }

    private Value Call(CallExpr call, Env env)
    {
        var function = env.Module.Functions.FirstOrDefault(f => f.Name == call.Callee);
        var args = call.Args.Select(a => Expression(a, env)).ToArray();
        if (function is not null)
        {
            if (++_steps > _budget || ++_depth > PolicyInput.MaxCallDepth)
            {
                throw new PolicyRuntimeException(call.Line, call.Column, "step budget or call depth spent");
            }
            var frame = new Env(env.Module, null, env.UsePrefix, []);
            for (var i = 0; i < args.Length; i++)
            {
                frame.Names[function.Parameters[i].Name] = args[i];
            }
            var result = Expression(function.Body, frame);
            _depth--;
            return result;
        }
        var builtin = Builtins.Resolve(call.Callee, args.Length, call.Named, call);
        var named = call.Named.Select(n => new NamedValue(n.Name,
            n.Value is NameExpr { Name: var word } && word != "request" && !env.TryFind(word, out _) ? Value.Symbol(word) : Expression(n.Value, env))).ToArray();
        return builtin.Invoke(args, named, new CallSite(call, env.Module.Policy.Name, env.UsePrefix));
    }
}
