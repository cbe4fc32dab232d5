using System.Text.Json.Nodes;
using Beamline.Testing;

namespace Beamline.Host.Tests.Observability;

/// <summary>
/// <c>Beamline:Metrics</c> on a real <c>beamline serve</c>: tenants past <c>MaxTenants</c> fold into
/// <c>other</c>, and <c>RequireAdminKey</c> closes <c>/metrics</c> to callers without the admin key.
/// </summary>
public sealed class MetricsCapsTests : IAsyncLifetime
{
    private readonly string _configFile = Path.Combine(Path.GetTempPath(), $"beamline-metrics-caps-{Guid.NewGuid():N}.json");
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(30) };
    private ControlPlaneProcess _process = null!;

    public async Task InitializeAsync()
    {
        await File.WriteAllTextAsync(_configFile, MetricsFixture.Config(new JsonObject { ["MaxTenants"] = 1, ["RequireAdminKey"] = true }));
        _process = await ControlPlaneProcess.StartAsync("--config", _configFile);
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        if (_process is not null)
        {
            await _process.DisposeAsync();
        }
        File.Delete(_configFile);
    }

    [Fact]
    public async Task Scrape_MaxTenantsOneAndTwoTenants_KeepsTheFirstAndFoldsTheSecondIntoOther()
    {
        Assert.Equal(200, await MetricsFixture.ChatAsync(_http, _process.BaseAddress, MetricsFixture.AcmeKey));
        Assert.Equal(200, await MetricsFixture.ChatAsync(_http, _process.BaseAddress, MetricsFixture.BetaKey));
        Assert.Equal(200, await MetricsFixture.ChatAsync(_http, _process.BaseAddress, MetricsFixture.BetaKey));
        Assert.Equal(200, await MetricsFixture.ChatAsync(_http, _process.BaseAddress, MetricsFixture.AcmeKey));

        var scrape = await MetricsFixture.ScrapeUntilAsync(_http, _process.BaseAddress,
            s => s.Sum("beamline_requests_total", ("face", "openai")) == 4, MetricsFixture.AdminKey);

        Assert.Equal(2, scrape.Sum("beamline_requests_total", ("tenant", "acme"), ("status", "ok")));
        Assert.Equal(2, scrape.Sum("beamline_requests_total", ("tenant", "other"), ("status", "ok")));
        Assert.Equal(["acme", "other"], scrape.LabelValues("beamline_requests_total", "tenant").Order());
    }

    [Fact]
    public async Task Scrape_RequireAdminKeyWithoutIt_Returns401AndWithItServesTheMetrics()
    {
        var (without, body) = await MetricsFixture.ScrapeAsync(_http, _process.BaseAddress);
        var (wrong, _) = await MetricsFixture.ScrapeAsync(_http, _process.BaseAddress, "not-the-admin-key");
        var (with, text) = await MetricsFixture.ScrapeAsync(_http, _process.BaseAddress, MetricsFixture.AdminKey);

        Assert.Equal(401, without);
        Assert.Contains("unauthorized", body, StringComparison.Ordinal);
        Assert.Equal(401, wrong);
        Assert.Equal(200, with);
        Assert.Contains("# TYPE", text, StringComparison.Ordinal);
    }
}
