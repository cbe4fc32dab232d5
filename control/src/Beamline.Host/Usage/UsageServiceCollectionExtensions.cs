using System.Diagnostics.Metrics;
using Beamline.Accounting.Alerts;
using Beamline.Accounting.Ledger;
using Beamline.Host.State;
using Beamline.Host.Usage;
using Beamline.Nats;
using Beamline.Pipeline.Activity;
using Beamline.Tenancy;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using NATS.Client.Core;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the usage ledger and budget alert delivery.</summary>
public static class UsageServiceCollectionExtensions
{
    /// <summary>The named HTTP client webhooks are posted with (no redirects followed).</summary>
    public const string WebhookClientName = "beamline-budget-webhooks";

    /// <summary>
    /// Adds the <see cref="UsageLedger"/> (<c>Beamline:Usage</c>; <c>usage.db</c> in the data
    /// directory) and <see cref="BudgetAlerts"/> (<c>Beamline:Budgets</c>), which deliver each alert to
    /// the activity stream, to the configured webhooks and, when <c>Beamline:Nats:Url</c> is set, on
    /// <c>beamline.events.v1.budget.&lt;tenant_id&gt;</c>. Both drain what is queued when the host stops.
    /// Map the endpoints with <see cref="UsageEndpoints.MapUsageEndpoints"/>.
    /// </summary>
    public static IServiceCollection AddBeamlineUsage(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<UsageLedgerOptions>().Bind(configuration.GetSection(UsageLedgerOptions.SectionName)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<UsageLedgerOptions>, UsageLedgerOptionsValidator>());
        services.AddOptions<BudgetAlertOptions>().Bind(configuration.GetSection(BudgetAlertOptions.SectionName)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<BudgetAlertOptions>, BudgetAlertOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.AddHttpClient(WebhookClientName)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { AllowAutoRedirect = false, PooledConnectionLifetime = TimeSpan.FromMinutes(5) });

        services.TryAddSingleton(sp => UsageLedger.Open(DatabasePath(sp), sp.GetRequiredService<IOptions<UsageLedgerOptions>>().Value,
            sp.GetRequiredService<ILogger<UsageLedger>>(), sp.GetService<IMeterFactory>()));
        var publishOnNats = !string.IsNullOrEmpty(configuration[$"{NatsClientOptions.SectionName}:Url"]);
        services.TryAddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<BudgetAlertOptions>>().Value;
            var channels = new List<IBudgetAlertChannel>();
            if (publishOnNats && sp.GetService<INatsConnection>() is { } nats)
            {
                channels.Add(new NatsBudgetAlertChannel(nats, sp.GetRequiredService<ILogger<NatsBudgetAlertChannel>>()));
            }
            if (options.Webhooks.Count > 0)
            {
                channels.Add(new WebhookAlertChannel(sp.GetRequiredService<IHttpClientFactory>().CreateClient(WebhookClientName),
                    options.Webhooks.Select(w => w.ToTarget()), new WebhookDeliveryOptions
                    {
                        MaxAttempts = options.WebhookMaxAttempts,
                        BaseDelay = options.WebhookBaseDelay,
                        MaxDelay = options.WebhookMaxDelay,
                        AttemptTimeout = options.WebhookTimeout,
                    }, sp.GetRequiredService<ILogger<WebhookAlertChannel>>(), sp.GetRequiredService<TimeProvider>()));
            }
            if (sp.GetService<IActivitySink>() is { } activity)
            {
                channels.Add(new ActivityAlertChannel(activity));
            }
            return BudgetAlerts.Open(DatabasePath(sp), channels, sp.GetRequiredService<ILogger<BudgetAlerts>>(), time: sp.GetRequiredService<TimeProvider>());
        });
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, UsageLifetime>());
        // Every execute that reached a provider is a usage record; the budget gate's crossings become alerts.
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Beamline.Pipeline.Costs.IRequestAccounting, UsageAccounting>());
        services.Replace(ServiceDescriptor.Singleton<Beamline.Tenancy.Budgets.IBudgetAlertSink, BudgetAlertBridge>());
        // Budgets hold across restarts and budgets set mid-month: the gate seeds each level from the ledger.
        services.TryAddSingleton<Beamline.Tenancy.Budgets.ISpendHistory, LedgerSpendHistory>();
        return services;
    }

    // usage.db in the data directory the host prepared (StateDirectories), else tenancy's.
    private static string DatabasePath(IServiceProvider services)
    {
        var options = services.GetRequiredService<IOptions<UsageLedgerOptions>>().Value;
        if (!string.IsNullOrEmpty(options.DatabasePath))
        {
            return Path.GetFullPath(options.DatabasePath);
        }
        var dataDirectory = services.GetService<StateDirectories>()?.DataDirectory
            ?? services.GetRequiredService<IOptions<TenancyOptions>>().Value.DataDirectory;
        Directory.CreateDirectory(dataDirectory);
        return Path.Combine(dataDirectory, UsageLedgerOptions.DefaultFileName);
    }
}
