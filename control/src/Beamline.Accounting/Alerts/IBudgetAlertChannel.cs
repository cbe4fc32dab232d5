namespace Beamline.Accounting.Alerts;

/// <summary>
/// Somewhere a budget alert is delivered (NATS, webhooks, the activity stream). Called by
/// <see cref="BudgetAlerts"/>' delivery loop once per alert, never on a request's path; it should
/// not wait on retries (queue them instead), so that one slow channel does not delay the others.
/// </summary>
public interface IBudgetAlertChannel
{
    /// <summary>The channel's name, for logs.</summary>
    string Name { get; }

    /// <summary>Delivers <paramref name="alert"/>, whose JSON (<see cref="BudgetAlertJson"/>) is <paramref name="json"/>.</summary>
    ValueTask DeliverAsync(BudgetAlert alert, ReadOnlyMemory<byte> json, CancellationToken cancellationToken);
}
