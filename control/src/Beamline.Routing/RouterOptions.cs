using Microsoft.Extensions.Options;

namespace Beamline.Routing;

/// <summary>Router settings (the <c>Beamline:Routing</c> section).</summary>
public sealed class RouterOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Beamline:Routing";

    /// <summary>The policy used when a request names none. Defaults to <c>default</c>.</summary>
    public string DefaultPolicyId { get; set; } = "default";

    /// <summary>The most sticky sessions kept in memory. Defaults to 100,000.</summary>
    public int StickyCapacity { get; set; } = 100_000;

    /// <summary>Input tokens assumed when a request gives no estimate. Defaults to 1,000.</summary>
    public int DefaultInputTokens { get; set; } = 1_000;

    /// <summary>Output tokens assumed when a request gives no estimate. Defaults to 500.</summary>
    public int DefaultOutputTokens { get; set; } = 500;

    /// <summary>
    /// The steps (statements executed and function calls) a language policy may take per decision;
    /// past it the decision fails with <c>decision_failed</c>. Defaults to 10,000.
    /// </summary>
    public int PolicyStepBudget { get; set; } = Beamline.Policies.Language.PolicyProgram.DefaultStepBudget;
}

/// <summary>Validates <see cref="RouterOptions"/>.</summary>
public sealed class RouterOptionsValidator : IValidateOptions<RouterOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, RouterOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.DefaultPolicyId))
        {
            failures.Add("DefaultPolicyId must not be empty.");
        }
        if (options.StickyCapacity <= 0)
        {
            failures.Add("StickyCapacity must be positive.");
        }
        if (options.DefaultInputTokens < 0 || options.DefaultOutputTokens < 0)
        {
            failures.Add("DefaultInputTokens and DefaultOutputTokens must not be negative.");
        }
        if (options.PolicyStepBudget <= 0)
        {
            failures.Add("PolicyStepBudget must be positive.");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
