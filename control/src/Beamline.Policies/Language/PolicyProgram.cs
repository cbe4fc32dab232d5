using System.Collections.Immutable;
using System.Globalization;
using System.Text;

namespace Beamline.Policies.Language;

/// <summary>A compiled statement: the index of the directive it routed to, or -1 to go on.</summary>
internal delegate int Exec(PolicyInput input);

/// <summary>A compiled expression.</summary>
internal delegate Value Eval(PolicyInput input);

/// <summary>What one evaluation of a <see cref="PolicyProgram"/> gave.</summary>
/// <param name="Directive">The index into <see cref="PolicyProgram.Directives"/>, or -1 on failure.</param>
/// <param name="Error">Why it failed (with the line and column), or null.</param>
public readonly record struct PolicyOutcome(int Directive, string? Error)
{
    /// <summary>True when a directive was reached.</summary>
    public bool IsSuccess => Directive >= 0;
}

/// <summary>
/// A language policy compiled once into a tree of delegates: evaluating it walks no syntax, looks
/// no name up and allocates nothing unless the policy builds strings or lists from the request.
/// Every evaluation runs under a step budget (one step per statement executed and per function
/// call), so no policy can hang a request: past the budget the evaluation fails with a clear error.
/// </summary>
public sealed class PolicyProgram
{
    /// <summary>The step budget a decision gets unless configured otherwise.</summary>
    public const int DefaultStepBudget = 10_000;

    private readonly Exec _body;

    internal PolicyProgram(string policyId, Exec body, int locals, ImmutableArray<RouteDirective> directives, string? templateError = null)
    {
        PolicyId = policyId;
        _body = body;
        Locals = locals;
        Directives = directives;
        TemplateError = templateError;
    }

    /// <summary>The policy's id.</summary>
    public string PolicyId { get; }

    /// <summary>Every directive the policy can reach, in source order (uses inlined).</summary>
    public ImmutableArray<RouteDirective> Directives { get; }

    /// <summary>The variable slots an evaluation needs.</summary>
    public int Locals { get; }

    /// <summary>Set when the policy is a template (a parameter without a default): it is only routed through <c>use</c>.</summary>
    public string? TemplateError { get; }

    /// <summary>Evaluates the policy for one request under <paramref name="stepBudget"/> steps.</summary>
    public PolicyOutcome Evaluate(PolicyInput input, int stepBudget = DefaultStepBudget)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (TemplateError is not null)
        {
            return new PolicyOutcome(-1, TemplateError);
        }
        input.Begin(stepBudget, Locals);
        try
        {
            var index = _body(input);
            return index >= 0 ? new PolicyOutcome(index, null) : new PolicyOutcome(-1, $"policy '{PolicyId}' reached its end without a route");
        }
        catch (PolicyRuntimeException e)
        {
            return new PolicyOutcome(-1, string.Create(CultureInfo.InvariantCulture, $"policy '{PolicyId}' failed at {e.Line}:{e.Column}: {e.Message}"));
        }
    }

    /// <summary>The compiled plan: every directive with where it is, one a line (what <c>beamline policy check</c> prints).</summary>
    public string Describe()
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"policy {PolicyId}: {Directives.Length} route(s), {Locals} variable slot(s), step budget {DefaultStepBudget}");
        if (TemplateError is not null)
        {
            text.Append(" (template: routed only through use)");
        }
        text.AppendLine();
        for (var i = 0; i < Directives.Length; i++)
        {
            text.Append(CultureInfo.InvariantCulture, $"  [{i}] {Directives[i].Location}: {Directives[i].Describe()}").AppendLine();
        }
        return text.ToString();
    }
}
