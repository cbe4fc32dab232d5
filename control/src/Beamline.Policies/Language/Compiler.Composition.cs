using System.Collections.Immutable;

namespace Beamline.Policies.Language;

/// <summary>Composition: a policy's declarations (<c>fallback</c>, <c>with</c>) and <c>use</c>, which inlines another policy.</summary>
internal sealed partial class Compiler
{
    // `fallback` and `with` at the top of a body, evaluated with the parameters only.
    private PolicyDeclarations Declarations(PolicyDecl policy, Env env, bool root)
    {
        var declarations = new PolicyDeclarations();
        var fallbacks = ImmutableArray.CreateBuilder<FallbackRule>();
        var extensions = ImmutableArray.CreateBuilder<ExtensionStep>();
        var metadata = ImmutableDictionary.CreateBuilder<string, System.Text.Json.JsonElement>(StringComparer.Ordinal);
        var paramsOnly = env with { Scope = env.Scope.Parent ?? env.Scope };
        foreach (var statement in policy.Body)
        {
            if (statement is FallbackStmt fallback)
            {
                var value = Constant(Expression(fallback.Targets, paramsOnly), fallback.Targets, "fallback targets");
                fallbacks.AddRange(Builtins.ToRules(value, Site(fallback, env)));
            }
            else if (statement is WithStmt with && root)
            {
                var value = Constant(Expression(with.Setting, paramsOnly), with.Setting, "a setting");
                if (value.Kind != ValueKind.Setting)
                {
                    throw new PolicySourceException(with.Line, with.Column,
                        "with takes a setting: circuit_breaker(...), pre(...), validator(...), post(...), metadata({...}) or version(\"...\")");
                }
                var setting = (Setting)value.Object!;
                switch (setting.What)
                {
                    case Setting.Kind.CircuitBreaker:
                        declarations = declarations with { CircuitBreaker = (CircuitBreakerSettings)setting.Payload };
                        break;
                    case Setting.Kind.Extension:
                        extensions.Add((ExtensionStep)setting.Payload);
                        break;
                    case Setting.Kind.Version:
                        declarations = declarations with { Version = (string)setting.Payload };
                        break;
                    default:
                        foreach (var (key, item) in (KeyValuePair<string, Value>[])setting.Payload)
                        {
                            metadata[key] = Builtins.ToJson(item, Site(with, env));
                        }
                        break;
                }
            }
        }
        return declarations with { Fallbacks = fallbacks.ToImmutable(), Extensions = extensions.ToImmutable(), Metadata = metadata.ToImmutable() };
    }

    private Exec Use(UseStmt use, Env env)
    {
        var (line, column) = (use.Line, use.Column);
        var at = _useChain.IndexOf(use.Policy);
        if (at >= 0)
        {
            throw new PolicySourceException(line, column, $"composition cycle: {string.Join(" -> ", _useChain.Skip(at))} -> {use.Policy}");
        }
        switch (_resolve(use.Policy))
        {
            case null:
                throw new PolicySourceException(line, column, $"use of unknown policy '{use.Policy}'");
            case UseTarget.Deferred:
                foreach (var arg in use.Args)
                {
                    Expression(arg, env);
                }
                return input => Step(input, line, column);
            case UseTarget.Json json:
                if (use.Args.Length + use.Named.Length > 0)
                {
                    throw new PolicySourceException(line, column, $"'{use.Policy}' is a JSON policy: it takes no parameters");
                }
                var site = Site(use, env);
                _directives.Add(FromJson(json.Policy) with { Fallbacks = [.. json.Policy.Fallbacks, .. env.Fallbacks], Location = site.Location + "/" + use.Policy });
                var index = _directives.Count - 1;
                return input =>
                {
                    Step(input, line, column);
                    return index;
                };
            case UseTarget.Language language:
                var args = use.Args.Select(a => Constant(Expression(a, env), a, "an argument of use")).ToImmutableArray();
                var named = use.Named.Select(n => new NamedValue(n.Name, Constant(Expression(n.Value, env), n.Value, "an argument of use"))).ToImmutableArray();
                var module = new ModuleContext(language.Module);
                var scope = BindParameters(module, language.Module.Policy, args, named, use);
                var inner = new Env(module, scope, $"{env.UsePrefix}{env.Module.Policy}:{line}:{column}/", [], InFunction: false);
                var declarations = Declarations(language.Module.Policy, inner, root: false);
                inner = inner with { Fallbacks = [.. declarations.Fallbacks, .. env.Fallbacks] };
                _useChain.Add(use.Policy);
                var body = Block(language.Module.Policy.Body, inner, topLevel: true);
                _useChain.RemoveAt(_useChain.Count - 1);
                return input =>
                {
                    Step(input, line, column);
                    return body(input);
                };
            default:
                throw new InvalidOperationException("unknown use target");
        }
    }

    /// <summary>A CP1 JSON policy as a directive (its strategy, providers and stickiness).</summary>
    internal static RouteDirective FromJson(Policy policy) => new()
    {
        Strategy = policy.Strategy switch
        {
            RoutingStrategy.Cheapest => DirectiveStrategy.Cheapest,
            RoutingStrategy.Fastest => DirectiveStrategy.Fastest,
            RoutingStrategy.BestQuality => DirectiveStrategy.BestQuality,
            _ => DirectiveStrategy.Weighted,
        },
        Providers = policy.Providers,
        Sticky = policy.Sticky,
    };
}
