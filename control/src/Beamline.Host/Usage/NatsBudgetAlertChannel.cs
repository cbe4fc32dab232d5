using Beamline.Accounting.Alerts;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;

namespace Beamline.Host.Usage;

/// <summary>
/// Budget alerts on NATS: the alert's JSON (<see cref="BudgetAlertJson"/>) on
/// <c>beamline.events.v1.budget.&lt;tenant_id&gt;</c>. A tenant id that is not one plain subject token
/// is skipped, not rewritten (as the activity publisher does): a rewritten id could land on another
/// tenant's subject. Core NATS: delivered to whoever subscribes at that moment.
/// </summary>
internal sealed partial class NatsBudgetAlertChannel(INatsConnection connection, ILogger<NatsBudgetAlertChannel> logger) : IBudgetAlertChannel
{
    /// <summary>The subjects' prefix; the tenant id is the last token.</summary>
    public const string SubjectPrefix = "beamline.events.v1.budget.";

    private static readonly TimeSpan PublishTimeout = TimeSpan.FromSeconds(5);

    /// <inheritdoc />
    public string Name => "nats";

    /// <summary>The subject of <paramref name="tenantId"/>'s alerts, or null when the id is not one plain subject token.</summary>
    public static string? SubjectFor(string tenantId)
    {
        if (string.IsNullOrEmpty(tenantId))
        {
            return null;
        }
        foreach (var c in tenantId)
        {
            if (c <= ' ' || c >= '\u007f' || c is '.' or '*' or '>')
            {
                return null;
            }
        }
        return SubjectPrefix + tenantId;
    }

    /// <inheritdoc />
    public async ValueTask DeliverAsync(BudgetAlert alert, ReadOnlyMemory<byte> json, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(alert);
        if (SubjectFor(alert.TenantId) is not { } subject)
        {
            LogTenantSkipped(alert.TenantId);
            return;
        }
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(PublishTimeout); // NATS down: give up on this alert rather than hold the others
        try
        {
            await connection.PublishAsync(subject, json, serializer: NatsRawSerializer<ReadOnlyMemory<byte>>.Default,
                cancellationToken: timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is NatsException or ObjectDisposedException or TimeoutException or OperationCanceledException)
        {
            LogPublishFailed(alert.TenantId, alert.ThresholdPercent, e.Message);
        }
    }

    [LoggerMessage(1, LogLevel.Warning, "Budget alerts of tenant '{TenantId}' are not published on NATS: the id is not a plain subject token.")]
    private partial void LogTenantSkipped(string tenantId);

    [LoggerMessage(2, LogLevel.Error, "A budget alert of tenant '{TenantId}' ({Threshold}%) was not published on NATS: {Reason}")]
    private partial void LogPublishFailed(string tenantId, int threshold, string reason);
}
