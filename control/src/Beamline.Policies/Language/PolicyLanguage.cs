using System.Collections.Immutable;

namespace Beamline.Policies.Language;

/// <summary>A policy written in the policy language: its source, parsed once.</summary>
public sealed class LanguagePolicy
{
    internal LanguagePolicy(string text, PolicyModule module, PolicyProgram checkedProgram)
    {
        Text = text;
        Module = module;
        CheckedProgram = checkedProgram;
    }

    /// <summary>The source text.</summary>
    public string Text { get; }

    internal PolicyModule Module { get; }

    /// <summary>The program compiled alone (its <c>use</c>s not followed); linking against a set gives the routed one.</summary>
    internal PolicyProgram CheckedProgram { get; }
}

/// <summary>The outcome of linking a set's language policies.</summary>
/// <param name="Programs">The program of every language policy that linked, by id.</param>
/// <param name="Errors">The error of each that did not (unknown <c>use</c> targets, composition cycles...), by policy id.</param>
public sealed record PolicyLinkResult(ImmutableDictionary<string, PolicyProgram> Programs, ImmutableDictionary<string, PolicyError> Errors);

/// <summary>
/// Entry points of the policy language: load a source into a <see cref="Policy"/> (parse, check,
/// compile alone) and link a set's language policies (follow <c>use</c>, refuse cycles, compile
/// each into its <see cref="PolicyProgram"/>). The file extension of a language policy is <c>.bpl</c>.
/// </summary>
public static class PolicyLanguage
{
    /// <summary>The file extension of policy-language sources.</summary>
    public const string FileExtension = ".bpl";

    /// <summary>Loads a source as policy <paramref name="id"/>; errors carry their line and column.</summary>
    /// <param name="id">The policy id; the source's <c>policy</c> header must give the same name.</param>
    /// <param name="source">The source text.</param>
    /// <param name="file">The name used in errors. Defaults to the id.</param>
    public static PolicyLoadResult Load(string id, string source, string? file = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        ArgumentNullException.ThrowIfNull(source);
        file ??= id;
        try
        {
            var module = Parser.Parse(source);
            var (program, declarations) = Compiler.Compile(module, id, _ => new UseTarget.Deferred());
            // Every provider its own routes name, for views that list a policy's providers (breakers, stats).
            var named = program.Directives.SelectMany(d => d.Providers).Select(p => p.Name).Distinct(StringComparer.Ordinal).ToList();
            return new PolicyLoadResult
            {
                Policy = new Policy
                {
                    Id = id,
                    Source = file,
                    Providers = [.. named.Select(n => new ProviderWeight(n, 1, 1.0 / named.Count))],
                    Version = declarations.Version,
                    Fallbacks = declarations.Fallbacks,
                    CircuitBreaker = declarations.CircuitBreaker,
                    Pre = [.. declarations.Extensions.Where(e => e.Stage == ExtensionStage.Pre)],
                    Validators = [.. declarations.Extensions.Where(e => e.Stage == ExtensionStage.Validate)],
                    Post = [.. declarations.Extensions.Where(e => e.Stage == ExtensionStage.Post)],
                    Metadata = declarations.Metadata,
                    Language = new LanguagePolicy(source, module, program),
                },
            };
        }
        catch (PolicySourceException e)
        {
            return new PolicyLoadResult { Errors = [e.ToPolicyError(file)] };
        }
    }

    /// <summary>
    /// Compiles every language policy of <paramref name="policies"/> against the others: <c>use</c>
    /// inlines a language policy (binding its parameters) or a JSON policy; a cycle of uses is
    /// refused with the cycle named. A policy that fails is left out of <see cref="PolicyLinkResult.Programs"/>.
    /// </summary>
    public static PolicyLinkResult Link(IEnumerable<Policy> policies, int stepBudget = PolicyProgram.DefaultStepBudget)
    {
        ArgumentNullException.ThrowIfNull(policies);
        var byId = new Dictionary<string, Policy>(StringComparer.Ordinal);
        foreach (var policy in policies)
        {
            byId[policy.Id] = policy;
        }
        UseTarget? Resolve(string id) => byId.TryGetValue(id, out var target)
            ? target.Language is { } language ? new UseTarget.Language(language.Module) : new UseTarget.Json(target)
            : null;
        var programs = ImmutableDictionary.CreateBuilder<string, PolicyProgram>(StringComparer.Ordinal);
        var errors = ImmutableDictionary.CreateBuilder<string, PolicyError>(StringComparer.Ordinal);
        foreach (var policy in byId.Values.OrderBy(p => p.Id, StringComparer.Ordinal))
        {
            if (policy.Language is not { } language)
            {
                continue;
            }
            try
            {
                programs[policy.Id] = Compiler.Compile(language.Module, policy.Id, Resolve, stepBudget).Program;
            }
            catch (PolicySourceException e)
            {
                errors[policy.Id] = e.ToPolicyError(policy.Source ?? policy.Id);
            }
        }
        return new PolicyLinkResult(programs.ToImmutable(), errors.ToImmutable());
    }
}
