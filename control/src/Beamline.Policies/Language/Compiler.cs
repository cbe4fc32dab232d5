using System.Collections.Immutable;

namespace Beamline.Policies.Language;

/// <summary>What a <c>use</c> names.</summary>
internal abstract record UseTarget
{
    /// <summary>A language policy, inlined with its parameters bound.</summary>
    public sealed record Language(PolicyModule Module) : UseTarget;

    /// <summary>A CP1 JSON policy: one fixed directive.</summary>
    public sealed record Json(Policy Policy) : UseTarget;

    /// <summary>Not known yet (checking one source alone): the <c>use</c> is not followed.</summary>
    public sealed record Deferred : UseTarget;
}

/// <summary>The policy-wide declarations of a compiled source (<c>with</c> settings and top-level <c>fallback</c>s).</summary>
internal sealed record PolicyDeclarations
{
    public ImmutableArray<FallbackRule> Fallbacks { get; init; } = [];

    public CircuitBreakerSettings? CircuitBreaker { get; init; }

    public ImmutableArray<ExtensionStep> Extensions { get; init; } = [];

    public ImmutableDictionary<string, System.Text.Json.JsonElement> Metadata { get; init; } = ImmutableDictionary<string, System.Text.Json.JsonElement>.Empty;

    public string? Version { get; init; }
}

/// <summary>
/// Compiles a policy source into a <see cref="PolicyProgram"/>: resolves every name once (variables
/// become stack slots, parameters of inlined policies become constants), folds constant
/// expressions, inlines <c>use</c>d policies (refusing cycles, naming them), turns every
/// <c>route</c> into a fixed <see cref="RouteDirective"/> and builds a delegate per node.
/// </summary>
internal sealed partial class Compiler
{
    private readonly Func<string, UseTarget?> _resolve;
    private readonly int _budget;
    private readonly List<RouteDirective> _directives = [];
    private readonly List<string> _useChain = [];
    private readonly PolicyInput _constant = new() { ConstantMode = true };
    private int _slots;

    private Compiler(Func<string, UseTarget?> resolve, int budget)
    {
        _resolve = resolve;
        _budget = budget;
    }

    /// <summary>Compiles <paramref name="module"/> as policy <paramref name="id"/>; throws <see cref="PolicySourceException"/> at the first error.</summary>
    public static (PolicyProgram Program, PolicyDeclarations Declarations) Compile(PolicyModule module, string id,
        Func<string, UseTarget?> resolve, int budget = PolicyProgram.DefaultStepBudget)
    {
        var policy = module.Policy;
        if (!string.Equals(policy.Name, id, StringComparison.Ordinal))
        {
            throw new PolicySourceException(policy.Line, policy.Column, $"the policy is named '{policy.Name}' but its id is '{id}'");
        }
        var compiler = new Compiler(resolve, budget);
        compiler._useChain.Add(id);
        var context = new ModuleContext(module);
        if (policy.Parameters.FirstOrDefault(p => p.Default is null) is { } required)
        {
            // A template: it routes only through `use`, which binds its parameters.
            var error = $"policy '{id}' is a template (parameter '{required.Name}' has no default): route through another policy that uses it";
            return (new PolicyProgram(id, _ => -1, 0, [], error), new PolicyDeclarations());
        }
        var scope = compiler.BindParameters(context, policy, [], [], new PassStmt(policy.Line, policy.Column));
        var env = new Env(context, scope, "", [], InFunction: false);
        var declarations = compiler.Declarations(policy, env, root: true);
        env = env with { Fallbacks = declarations.Fallbacks };
        var body = compiler.Block(policy.Body, env, topLevel: true);
        return (new PolicyProgram(id, body, compiler._slots, [.. compiler._directives]), declarations);
    }

    /// <summary>A module's functions, compiled on first use (so a function may call itself).</summary>
    private sealed class ModuleContext(PolicyModule module)
    {
        public PolicyModule Module { get; } = module;

        public string Policy => Module.Policy.Name;

        public Dictionary<string, FunctionInfo> Functions { get; } = module.Functions.ToDictionary(f => f.Name, f => new FunctionInfo(f), StringComparer.Ordinal);
    }

    private sealed class FunctionInfo(FunctionDecl decl)
    {
        public FunctionDecl Decl { get; } = decl;

        public Eval? Body { get; set; }

        public bool Compiling { get; set; }
    }

    /// <summary>A name's meaning: a constant, or a stack slot (relative to the frame inside functions).</summary>
    private sealed record Binding(Value Constant, int Slot, bool IsConstant, bool FrameRelative);

    private sealed class Scope(Scope? parent)
    {
        private readonly Dictionary<string, Binding> _names = new(StringComparer.Ordinal);

        public Scope? Parent { get; } = parent;

        public bool TryFind(string name, out Binding binding)
        {
            for (var scope = this; scope is not null; scope = scope.Parent)
            {
                if (scope._names.TryGetValue(name, out binding!))
                {
                    return true;
                }
            }
            binding = null!;
            return false;
        }

        public void Add(string name, Binding binding, Node at)
        {
            if (name == "request")
            {
                throw new PolicySourceException(at.Line, at.Column, "'request' is reserved");
            }
            if (!_names.TryAdd(name, binding))
            {
                throw new PolicySourceException(at.Line, at.Column, $"'{name}' is already defined in this block");
            }
        }
    }

    private sealed record Env(ModuleContext Module, Scope Scope, string UsePrefix, ImmutableArray<FallbackRule> Fallbacks, bool InFunction);

    private Scope BindParameters(ModuleContext module, PolicyDecl policy, ImmutableArray<Value> args, ImmutableArray<NamedValue> named, Node at)
    {
        if (args.Length > policy.Parameters.Length)
        {
            throw new PolicySourceException(at.Line, at.Column, $"policy '{policy.Name}' takes {policy.Parameters.Length} parameter(s), not {args.Length}");
        }
        foreach (var arg in named)
        {
            var index = policy.Parameters.IndexOf(policy.Parameters.FirstOrDefault(p => p.Name == arg.Name)!);
            if (index < 0)
            {
                throw new PolicySourceException(at.Line, at.Column, $"policy '{policy.Name}' has no parameter '{arg.Name}'");
            }
            if (index < args.Length)
            {
                throw new PolicySourceException(at.Line, at.Column, $"parameter '{arg.Name}' is given twice");
            }
        }
        var scope = new Scope(null);
        for (var i = 0; i < policy.Parameters.Length; i++)
        {
            var parameter = policy.Parameters[i];
            Value value;
            if (i < args.Length)
            {
                value = args[i];
            }
            else if (named.FirstOrDefault(n => n.Name == parameter.Name) is { Name: not null } given)
            {
                value = given.Value;
            }
            else if (parameter.Default is { } fallback)
            {
                value = Constant(Expression(fallback, new Env(module, scope, "", [], false)), fallback, "a parameter's default");
            }
            else
            {
                throw new PolicySourceException(at.Line, at.Column, $"policy '{policy.Name}' needs a value for parameter '{parameter.Name}'");
            }
            scope.Add(parameter.Name, new Binding(value, -1, IsConstant: true, FrameRelative: false), parameter.Default ?? (Node)new PassStmt(parameter.Line, parameter.Column));
        }
        return new Scope(scope);
    }

    private Exec Block(ImmutableArray<Stmt> statements, Env env, bool topLevel = false)
    {
        var inner = env with { Scope = new Scope(env.Scope) };
        var compiled = new Exec[statements.Length];
        for (var i = 0; i < statements.Length; i++)
        {
            compiled[i] = Statement(statements[i], inner, topLevel);
        }
        if (compiled.Length == 1)
        {
            return compiled[0];
        }
        return input =>
        {
            foreach (var statement in compiled)
            {
                var result = statement(input);
                if (result >= 0)
                {
                    return result;
                }
            }
            return -1;
        };
    }

    private Exec Statement(Stmt statement, Env env, bool topLevel)
    {
        var (line, column) = (statement.Line, statement.Column);
        switch (statement)
        {
            case LetStmt let:
                var value = Expression(let.Value, env);
                if (value.IsConstant)
                {
                    env.Scope.Add(let.Name, new Binding(value.Constant, -1, IsConstant: true, FrameRelative: false), let);
                    return input => Step(input, line, column);
                }
                var slot = _slots++;
                env.Scope.Add(let.Name, new Binding(default, slot, IsConstant: false, FrameRelative: false), let);
                var fn = value.Fn;
                return input =>
                {
                    Step(input, line, column);
                    input.Stack[slot] = fn(input);
                    return -1;
                };
            case IfStmt conditional:
                return If(conditional, env);
            case MatchStmt match:
                return Match(match, env);
            case RouteStmt route:
                var target = Constant(Expression(route.Target, env), route.Target,
                    "a route's target (conditions may read the request; what they route to is fixed when the policy compiles)");
                var site = Site(route, env);
                _directives.Add(Builtins.ToRoute(target, site) with { Fallbacks = env.Fallbacks, Location = site.Location });
                var index = _directives.Count - 1;
                return input =>
                {
                    Step(input, line, column);
                    return index;
                };
            case UseStmt use:
                return Use(use, env);
            case FallbackStmt or WithStmt when !topLevel:
                throw new PolicySourceException(line, column, $"{(statement is FallbackStmt ? "fallback" : "with")} belongs at the top level of a policy body");
            default:
                return input => Step(input, line, column);
        }
    }

    private Exec If(IfStmt statement, Env env)
    {
        var conditions = new Eval[statement.Branches.Length];
        var bodies = new Exec[statement.Branches.Length];
        for (var i = 0; i < conditions.Length; i++)
        {
            conditions[i] = Expression(statement.Branches[i].Condition, env).Fn;
            bodies[i] = Block(statement.Branches[i].Body, env);
        }
        var otherwise = statement.Else is { } elseBody ? Block(elseBody, env) : null;
        var (line, column) = (statement.Line, statement.Column);
        return input =>
        {
            Step(input, line, column);
            for (var i = 0; i < conditions.Length; i++)
            {
                if (Operators.Truthy(conditions[i](input)))
                {
                    return bodies[i](input);
                }
            }
            return otherwise is null ? -1 : otherwise(input);
        };
    }

    private Exec Match(MatchStmt statement, Env env)
    {
        var subject = Expression(statement.Subject, env).Fn;
        var patterns = new Value[statement.Cases.Length][];
        var wildcard = new bool[statement.Cases.Length];
        var bodies = new Exec[statement.Cases.Length];
        for (var i = 0; i < bodies.Length; i++)
        {
            var arm = statement.Cases[i];
            var values = new List<Value>();
            foreach (var pattern in arm.Patterns)
            {
                if (pattern is null)
                {
                    wildcard[i] = true;
                }
                else
                {
                    values.Add(Constant(Expression(pattern, env), pattern, "a case pattern"));
                }
            }
            patterns[i] = [.. values];
            bodies[i] = Block(arm.Body, env);
        }
        var (line, column) = (statement.Line, statement.Column);
        return input =>
        {
            Step(input, line, column);
            var value = subject(input);
            for (var i = 0; i < bodies.Length; i++)
            {
                var hit = wildcard[i];
                foreach (var pattern in patterns[i])
                {
                    hit |= pattern.Equals(value);
                }
                if (hit)
                {
                    return bodies[i](input);
                }
            }
            return -1;
        };
    }

    private static CallSite Site(Node at, Env env) => new(at, env.Module.Policy, env.UsePrefix);

    private static int Step(PolicyInput input, int line, int column)
    {
        if (++input.Steps > input.Budget)
        {
            throw new PolicyRuntimeException(line, column, $"the step budget of {input.Budget} steps is spent (a runaway recursion?)");
        }
        return -1;
    }
}
