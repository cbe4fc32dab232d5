using Beamline.Policies.Language;

namespace Beamline.Policies.Tests.Language;

/// <summary>Loads and links sources the way a policy set does, and evaluates them.</summary>
internal static class LanguageTestKit
{
    public static Policy Load(string id, string source)
    {
        var result = PolicyLanguage.Load(id, source);
        Assert.True(result.IsValid, string.Join(Environment.NewLine, result.Errors));
        return result.Policy!;
    }

    public static PolicyError LoadError(string source, string id = "p")
    {
        var result = PolicyLanguage.Load(id, source);
        Assert.False(result.IsValid, "the source should not load");
        return Assert.Single(result.Errors);
    }

    /// <summary>Sources by id (each "policy id(...)"), linked as one set.</summary>
    public static PolicySet Set(params (string Id, string Source)[] sources) =>
        new(sources.Select(s => Load(s.Id, s.Source)));

    public static PolicyProgram Program(string source, params (string Id, string Source)[] others)
    {
        var set = Set([("p", source), .. others]);
        Assert.True(set.Errors.IsEmpty, string.Join(Environment.NewLine, set.Errors));
        Assert.True(set.TryGetProgram("p", out var program));
        return program!;
    }

    /// <summary>The directive the program routes to (Describe()), or "error: ..." when it fails.</summary>
    public static string Route(PolicyProgram program, PolicyInput input, int budget = PolicyProgram.DefaultStepBudget)
    {
        var outcome = program.Evaluate(input, budget);
        return outcome.IsSuccess ? program.Directives[outcome.Directive].Describe() : "error: " + outcome.Error;
    }

    public static PolicyInput Input(string? type = "chat", int tokens = 100, double? maxCost = null, double? sla = null,
        string? user = null, string? tier = null) => new()
        {
            MessageType = type,
            InputTokens = tokens,
            MaxCost = maxCost,
            MaxLatencyMs = sla,
            UserId = user,
            Context = tier is null ? null : new Dictionary<string, string> { ["tier"] = tier },
        };
}
