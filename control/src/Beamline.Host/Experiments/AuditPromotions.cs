using Beamline.Audit;
using Beamline.Experiments;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Beamline.Host.Experiments;

/// <summary>
/// Writes each promotion to the audit chain as an <c>admin</c> entry made by the actor
/// <c>experiments</c>: action <c>PROMOTE /admin/v1/tenants/{tenant}/experiments/{id}?winner={arm}</c>,
/// the tenant, the winner's provider (or its policy, else the experiment's), status <c>ok</c>.
/// </summary>
internal sealed partial class AuditPromotions(IServiceProvider services, ILogger<AuditPromotions> logger) : IExperimentPromotions
{
    /// <summary>The actor of a promotion's audit entry.</summary>
    public const string Actor = "experiments";

    public void Promoted(ExperimentResults results)
    {
        var definition = results.Definition;
        var winner = definition.Arms.FirstOrDefault(a => a.Name == results.Winner);
        LogPromoted(definition.TenantId, definition.Id, results.Winner ?? "", results.Looks);
        if (services.GetService<IAuditLog>() is not { } audit)
        {
            return;
        }
        try
        {
            audit.Append(new AuditRecord
            {
                Kind = AuditKinds.Admin,
                TenantId = definition.TenantId,
                PolicyId = winner?.PolicyId ?? definition.PolicyId,
                ProviderId = winner?.ProviderId,
                Status = "ok",
                Action = $"PROMOTE /admin/v1/tenants/{definition.TenantId}/experiments/{Uri.EscapeDataString(definition.Id)}?winner={Uri.EscapeDataString(results.Winner ?? "")}",
                Actor = Actor,
            });
        }
        catch (InvalidOperationException e)
        {
            LogAuditClosed(definition.TenantId, definition.Id, e.Message); // the host is stopping
        }
    }

    [LoggerMessage(1, LogLevel.Information, "Experiment '{ExperimentId}' of tenant '{TenantId}' promoted arm '{Winner}' after {Looks} looks.")]
    private partial void LogPromoted(string tenantId, string experimentId, string winner, int looks);

    [LoggerMessage(2, LogLevel.Warning, "The promotion of experiment '{ExperimentId}' of tenant '{TenantId}' was not audited: {Reason}")]
    private partial void LogAuditClosed(string tenantId, string experimentId, string reason);
}
