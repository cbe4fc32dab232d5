using Beamline.Accounting.Alerts;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Beamline.Host.Usage;

/// <summary>Where budget alerts go besides NATS and the activity stream; bound from <c>Beamline:Budgets</c>.</summary>
public sealed class BudgetAlertOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Beamline:Budgets";

    /// <summary>Webhooks every alert is posted to (signed, retried). Defaults to none.</summary>
    public List<BudgetWebhookOptions> Webhooks { get; set; } = [];

    /// <summary>Attempts per alert and webhook, the first included. Defaults to 6.</summary>
    public int WebhookMaxAttempts { get; set; } = 6;

    /// <summary>The delay before a webhook's first retry, doubled each time (with jitter). Defaults to 2 seconds.</summary>
    public TimeSpan WebhookBaseDelay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>The longest delay between attempts. Defaults to 5 minutes.</summary>
    public TimeSpan WebhookMaxDelay { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How long one webhook attempt may take. Defaults to 10 seconds.</summary>
    public TimeSpan WebhookTimeout { get; set; } = TimeSpan.FromSeconds(10);
}

/// <summary>One webhook: <c>{"url", "secret_env"}</c>.</summary>
public sealed class BudgetWebhookOptions
{
    /// <summary>The http(s) URL alerts are posted to.</summary>
    public string? Url { get; set; }

    /// <summary>The environment variable holding the signing secret (the secret itself never sits in configuration).</summary>
    [ConfigurationKeyName("secret_env")]
    public string? SecretEnv { get; set; }

    /// <summary>The target, with the secret read from <see cref="SecretEnv"/>.</summary>
    internal WebhookTarget ToTarget() => new(new Uri(Url!), System.Text.Encoding.UTF8.GetBytes(Environment.GetEnvironmentVariable(SecretEnv!)!));
}

/// <summary>Validates <see cref="BudgetAlertOptions"/> at start: every webhook has an http(s) URL and a secret in its variable.</summary>
public sealed class BudgetAlertOptionsValidator : IValidateOptions<BudgetAlertOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, BudgetAlertOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        for (var i = 0; i < options.Webhooks.Count; i++)
        {
            var webhook = options.Webhooks[i];
            var at = $"{BudgetAlertOptions.SectionName}:Webhooks:{i}";
            if (!Uri.TryCreate(webhook.Url, UriKind.Absolute, out var url) || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps))
            {
                failures.Add($"{at}:url must be an absolute http or https URL");
            }
            if (string.IsNullOrWhiteSpace(webhook.SecretEnv))
            {
                failures.Add($"{at}:secret_env must name the environment variable that holds the signing secret");
            }
            else if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable(webhook.SecretEnv)))
            {
                failures.Add($"{at}:secret_env names {webhook.SecretEnv}, which is not set");
            }
        }
        if (options.WebhookMaxAttempts < 1)
        {
            failures.Add($"{BudgetAlertOptions.SectionName}:WebhookMaxAttempts must be at least 1");
        }
        if (options.WebhookBaseDelay < TimeSpan.Zero || options.WebhookMaxDelay < options.WebhookBaseDelay || options.WebhookTimeout <= TimeSpan.Zero)
        {
            failures.Add($"{BudgetAlertOptions.SectionName}: WebhookBaseDelay ≤ WebhookMaxDelay and WebhookTimeout > 0 are required");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
