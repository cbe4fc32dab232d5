using Beamline.Accounting.Alerts;
using Beamline.Accounting.Ledger;
using Beamline.Tenancy.Budgets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Beamline.Host.Usage;

/// <summary>
/// Opens the ledger and the alerts at start, so that an unusable data directory fails the start
/// rather than the first request, and seeds the budget gate with the period's spend so far.
/// </summary>
/// <remarks>
/// Nothing is closed at stop: hosted services stop side by side with Kestrel's drain, and requests
/// still finishing then must still be recorded. The container disposes both when the host is
/// disposed, after the drain, which writes what the ledger has queued and delivers queued alerts.
/// </remarks>
internal sealed class UsageLifetime(IServiceProvider services) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var ledger = services.GetRequiredService<UsageLedger>();
        _ = services.GetRequiredService<BudgetAlerts>();
        if (services.GetService<BudgetGate>() is { } gate)
        {
            // Budgets hold across restarts: the month's and the day's spend so far, from the ledger.
            foreach (var (level, tenantId, id, month, day) in ledger.SpendByLevel(services.GetRequiredService<TimeProvider>().GetUtcNow()))
            {
                gate.Seed(level switch { BudgetLevels.Key => BudgetLevel.Key, BudgetLevels.Team => BudgetLevel.Team, _ => BudgetLevel.Tenant },
                    tenantId, id, month, day);
            }
        }
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
