using Beamline.Accounting.Alerts;
using Beamline.Pipeline.Activity;

namespace Beamline.Accounting.Tests.Alerts;

/// <summary>Alerts over a real usage.db: once per threshold and period, across restarts; every channel gets each.</summary>
public sealed class BudgetAlertsTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 11, 30, 10, 0, 0, TimeSpan.Zero);
    private readonly LedgerDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Raise_SameThresholdManyTimes_DeliveredOnceEvenAfterARestart()
    {
        var channel = new RecordingChannel();
        await using (var alerts = BudgetAlerts.Open(_dir.DatabasePath, [channel]))
        {
            for (var i = 0; i < 5; i++)
            {
                alerts.Raise(Alert(50, spent: 5m + i));
            }
            alerts.Raise(Alert(80, spent: 8m));
            alerts.Raise(Alert(50, spent: 5m, period: "2026-12"));                 // another period
            alerts.Raise(Alert(50, spent: 5m, level: BudgetLevels.Team, id: "red")); // another level
            alerts.Raise(Alert(50, spent: 5m, kind: BudgetKinds.Daily, period: "2026-11-30"));
            await alerts.FlushAsync();
            Assert.Equal(5, alerts.Delivered);
            Assert.Equal(4, alerts.Duplicates);
        }
        Assert.Equal(["tenant:t:monthly:2026-11:50", "tenant:t:monthly:2026-11:80", "tenant:t:monthly:2026-12:50", "team:red:monthly:2026-11:50", "tenant:t:daily:2026-11-30:50"],
            channel.Keys);

        // A restart: the same thresholds again, and one new.
        await using (var restarted = BudgetAlerts.Open(_dir.DatabasePath, [channel]))
        {
            restarted.Raise(Alert(50, spent: 6m));
            restarted.Raise(Alert(80, spent: 9m));
            restarted.Raise(Alert(100, spent: 10m));
            await restarted.FlushAsync();
            Assert.Equal(1, restarted.Delivered);
            Assert.Equal(2, restarted.Duplicates);
        }
        Assert.Equal(6, channel.Keys.Count);
        Assert.Equal("tenant:t:monthly:2026-11:100", channel.Keys[^1]);
    }

    [Fact]
    public async Task Raise_AFailingChannel_DoesNotKeepTheAlertFromTheOthers()
    {
        var bus = new ActivityBus();
        using var subscription = bus.Subscribe("t");
        var after = new RecordingChannel();
        await using var alerts = BudgetAlerts.Open(_dir.DatabasePath, [new FailingChannel(), new ActivityAlertChannel(bus), after]);

        alerts.Raise(Alert(80, spent: 8.5m));
        await alerts.FlushAsync();

        Assert.Single(after.Keys);
        Assert.True(subscription.Reader.TryRead(out var activity));
        Assert.Equal(ActivityKinds.BudgetAlert, activity.Kind);
        Assert.Equal("t", activity.TenantId);
        Assert.Equal("tenant:t", activity.Subject);
        Assert.Equal("80%", activity.Status);
        Assert.Equal(8.5, activity.CostUsd);
        Assert.Equal(Alert(80, 8.5m).AlertId, activity.RequestId);
        Assert.Equal("monthly budget of tenant 't' reached 80% (8.5 of 10 USD) in 2026-11", activity.Detail);
    }

    [Fact]
    public void Json_CarriesTheAlertAndNoSecret()
    {
        var json = System.Text.Encoding.UTF8.GetString(BudgetAlertJson.ToUtf8Bytes(Alert(100, 10.25m) with { Level = BudgetLevels.Key, LevelId = "k1" }));

        Assert.Equal(
            "{\"type\":\"budget.threshold_crossed\",\"alert_id\":\"" + (Alert(100, 10.25m) with { Level = BudgetLevels.Key, LevelId = "k1" }).AlertId
            + "\",\"tenant_id\":\"t\",\"level\":\"key\",\"level_id\":\"k1\",\"budget_kind\":\"monthly\",\"period\":\"2026-11\",\"threshold_percent\":100,"
            + "\"spent_usd\":10.25,\"budget_usd\":10,\"time\":\"2026-11-30T10:00:00Z\"}",
            json);
    }

    internal static BudgetAlert Alert(int threshold, decimal spent, string period = "2026-11", string level = BudgetLevels.Tenant, string id = "t",
        string kind = BudgetKinds.Monthly) => new("t", level, id, kind, period, threshold, spent, 10m, Now);

    private sealed class RecordingChannel : IBudgetAlertChannel
    {
        public List<string> Keys { get; } = [];

        public string Name => "recording";

        public ValueTask DeliverAsync(BudgetAlert alert, ReadOnlyMemory<byte> json, CancellationToken cancellationToken)
        {
            lock (Keys)
            {
                Keys.Add($"{alert.Level}:{alert.LevelId}:{alert.BudgetKind}:{alert.Period}:{alert.ThresholdPercent}");
            }
            return ValueTask.CompletedTask;
        }
    }

    private sealed class FailingChannel : IBudgetAlertChannel
    {
        public string Name => "failing";

        public ValueTask DeliverAsync(BudgetAlert alert, ReadOnlyMemory<byte> json, CancellationToken cancellationToken)
            => throw new InvalidOperationException("down");
    }
}
