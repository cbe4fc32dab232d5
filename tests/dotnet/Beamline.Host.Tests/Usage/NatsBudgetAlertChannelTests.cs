using System.Text.Json;
using Beamline.Accounting.Alerts;
using Beamline.Host.Usage;
using Beamline.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using NATS.Client.Core;

namespace Beamline.Host.Tests.Usage;

/// <summary>Budget alerts on a real nats-server, through <see cref="BudgetAlerts"/> over a real usage.db.</summary>
public sealed class NatsBudgetAlertChannelTests : IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "beamline-alerts-" + Guid.NewGuid().ToString("N"));
    private NatsServer _server = null!;
    private NatsConnection _connection = null!;
    private NatsTestClient _client = null!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_directory);
        _server = await NatsServer.StartAsync();
        _connection = new NatsConnection(NatsOpts.Default with { Url = _server.Url, Name = "beamline-budget-alerts-test" });
        await _connection.ConnectAsync();
        _client = await NatsTestClient.ConnectAsync(_server.Url);
    }

    public async Task DisposeAsync()
    {
        await _client.DisposeAsync();
        await _connection.DisposeAsync();
        await _server.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task Raise_EachThresholdOnce_OnTheTenantsSubject_UnsafeTenantIdsSkipped()
    {
        await using var all = await _client.CollectAsync("beamline.events.v1.budget.>");
        var channel = new NatsBudgetAlertChannel(_connection, NullLogger<NatsBudgetAlertChannel>.Instance);
        await using (var alerts = BudgetAlerts.Open(Path.Combine(_directory, "usage.db"), [channel]))
        {
            alerts.Raise(Alert("tenant_a", 80));
            alerts.Raise(Alert("tenant_a", 80));
            alerts.Raise(Alert("tenant.b", 80)); // would publish on another subject: skipped
            alerts.Raise(Alert("tenant_c", 100));
            await all.WaitForAsync(m => m.Subject == "beamline.events.v1.budget.tenant_c", Wait);
        }

        Assert.Equal(["beamline.events.v1.budget.tenant_a", "beamline.events.v1.budget.tenant_c"], all.Messages.Select(m => m.Subject));
        using var json = JsonDocument.Parse(all.Messages[0].Data);
        var root = json.RootElement;
        Assert.Equal("budget.threshold_crossed", root.GetProperty("type").GetString());
        Assert.Equal("tenant_a", root.GetProperty("tenant_id").GetString());
        Assert.Equal("team", root.GetProperty("level").GetString());
        Assert.Equal("red", root.GetProperty("level_id").GetString());
        Assert.Equal(80, root.GetProperty("threshold_percent").GetInt32());
        Assert.Equal(8m, root.GetProperty("spent_usd").GetDecimal());
        Assert.Equal(10m, root.GetProperty("budget_usd").GetDecimal());
    }

    [Fact]
    public void Options_BindWebhooksWithSecretEnv_AndRefuseAMissingSecret()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Beamline:Budgets:Webhooks:0:url"] = "https://hooks.example/budget",
            ["Beamline:Budgets:Webhooks:0:secret_env"] = "BEAMLINE_TEST_WEBHOOK_SECRET_" + Guid.NewGuid().ToString("N"),
        }).Build();
        var options = configuration.GetSection(BudgetAlertOptions.SectionName).Get<BudgetAlertOptions>()!;
        var webhook = Assert.Single(options.Webhooks);
        Assert.Equal("https://hooks.example/budget", webhook.Url);
        var variable = webhook.SecretEnv!;
        Assert.StartsWith("BEAMLINE_TEST_WEBHOOK_SECRET_", variable, StringComparison.Ordinal);

        var missing = new BudgetAlertOptionsValidator().Validate(null, options);
        Assert.True(missing.Failed);
        Assert.Contains("is not set", missing.FailureMessage, StringComparison.Ordinal);

        Environment.SetEnvironmentVariable(variable, "s3cret");
        try
        {
            Assert.True(new BudgetAlertOptionsValidator().Validate(null, options).Succeeded);
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    private static BudgetAlert Alert(string tenant, int threshold)
        => new(tenant, BudgetLevels.Team, "red", BudgetKinds.Monthly, "2026-11", threshold, threshold / 10m, 10m, DateTimeOffset.UtcNow);
}
