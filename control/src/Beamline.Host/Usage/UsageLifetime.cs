using Beamline.Accounting.Alerts;
using Beamline.Accounting.Ledger;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Beamline.Host.Usage;

/// <summary>
/// Opens the ledger and the alerts at start, so that an unusable data directory fails the start
/// rather than the first request. (The budget gate seeds itself from the ledger: <see cref="LedgerSpendHistory"/>.)
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
        _ = services.GetRequiredService<UsageLedger>();
        _ = services.GetRequiredService<BudgetAlerts>();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
