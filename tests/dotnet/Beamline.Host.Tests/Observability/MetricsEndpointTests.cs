using System.Diagnostics;

namespace Beamline.Host.Tests.Observability;

/// <summary>
/// <c>GET /metrics</c> on a real <c>beamline serve</c>: the request counter after real gateway calls
/// and decides, quota refusals, and the exposition as <c>promtool</c> reads it.
/// </summary>
public sealed class MetricsEndpointTests(MetricsFixture fixture) : IClassFixture<MetricsFixture>
{
    private Uri BaseAddress => fixture.Process.BaseAddress;

    [Fact]
    public async Task Scrape_AfterChatCompletionsAndDecides_CountsRequestsByFaceTenantPolicyProviderAndStatus()
    {
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(200, await MetricsFixture.ChatAsync(fixture.Http, BaseAddress, MetricsFixture.AcmeKey));
        }
        for (var i = 0; i < 2; i++)
        {
            Assert.Equal(200, await MetricsFixture.DecideAsync(fixture.Http, BaseAddress, MetricsFixture.AcmeKey, "acme"));
        }

        var openai = new[] { ("face", "openai"), ("tenant", "acme"), ("policy", "chat"), ("provider", "mock_chat"), ("status", "ok") };
        var decide = new[] { ("face", "cp1_http"), ("tenant", "acme"), ("policy", "chat"), ("provider", "mock_chat"), ("status", "ok") };
        var scrape = await MetricsFixture.ScrapeUntilAsync(fixture.Http, BaseAddress,
            s => s.Sum("beamline_requests_total", openai) == 3 && s.Sum("beamline_requests_total", decide) == 2);

        Assert.Single(scrape.Find("beamline_requests_total", openai));
        Assert.Equal(3, scrape.Sum("beamline_request_duration_seconds_count", openai));
        Assert.Equal(2, scrape.Sum("beamline_request_duration_seconds_count", decide));
        Assert.True(scrape.Sum("beamline_provider_attempts_total", ("provider", "mock_chat"), ("outcome", "ok")) >= 3);
        Assert.Contains("# TYPE beamline_requests_total counter", scrape.Text, StringComparison.Ordinal);
        Assert.Contains("# TYPE beamline_request_duration_seconds histogram", scrape.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Scrape_BreakerStates_AreGaugesOfProviderAndExtensionBreakers()
    {
        var scrape = await MetricsFixture.ScrapeUntilAsync(fixture.Http, BaseAddress,
            s => s.Find("beamline_circuit_breaker_state", ("tenant", "acme"), ("policy", "guarded")).Any());

        // The guarded policy's provider has a breaker, closed (0); the policy without circuit_breaker has none.
        Assert.Equal(0, Assert.Single(scrape.Find("beamline_circuit_breaker_state", ("tenant", "acme"), ("policy", "guarded"), ("provider", "mock_chat"))).Value);
        Assert.Empty(scrape.Find("beamline_circuit_breaker_state", ("tenant", "acme"), ("policy", "chat")));
        // Every built-in extension has its breaker, closed.
        Assert.Equal(0, Assert.Single(scrape.Find("beamline_extension_breaker_state", ("extension", "mask_pii"))).Value);
        Assert.Contains("# TYPE beamline_circuit_breaker_state gauge", scrape.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Scrape_AfterATenantRunsOverItsQuota_CountsTheRefusalAndTheRequestsCode()
    {
        Assert.Equal(200, await MetricsFixture.ChatAsync(fixture.Http, BaseAddress, MetricsFixture.SlowKey));
        Assert.Equal(429, await MetricsFixture.ChatAsync(fixture.Http, BaseAddress, MetricsFixture.SlowKey));

        var scrape = await MetricsFixture.ScrapeUntilAsync(fixture.Http, BaseAddress,
            s => s.Sum("beamline_quota_refusals_total", ("tenant", "slow")) == 1);

        Assert.Equal(1, scrape.Sum("beamline_requests_total", ("tenant", "slow"), ("status", "ok")));
        Assert.Equal(1, scrape.Sum("beamline_requests_total", ("tenant", "slow"), ("status", "quota_exceeded"), ("provider", "none")));
    }

    [Fact]
    public async Task Scrape_AfterBlocks_CountsThemByPoolAndStatus()
    {
        for (var i = 0; i < 2; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(BaseAddress, "v1/blocks"))
            {
                Content = new StringContent("""{"type":"echo","tenant_id":"acme","payload":{"hello":"world"}}""", System.Text.Encoding.UTF8, "application/json"),
            };
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", MetricsFixture.AcmeKey);
            using var response = await fixture.Http.SendAsync(request);
            Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        }

        var scrape = await MetricsFixture.ScrapeUntilAsync(fixture.Http, BaseAddress,
            s => s.Sum("beamline_blocks_total", ("pool", "cpu"), ("status", "ok")) >= 2);

        Assert.True(scrape.Sum("beamline_block_duration_seconds_count", ("pool", "cpu"), ("status", "ok")) >= 2);
    }

    [Fact]
    public async Task Scrape_WithoutAdminKeyByDefault_IsOpen()
    {
        var (status, text) = await MetricsFixture.ScrapeAsync(fixture.Http, BaseAddress);

        Assert.Equal(200, status);
        Assert.Contains("# TYPE", text, StringComparison.Ordinal);
    }

    [RequiresPrometheusFact("promtool")]
    public async Task Scrape_AfterTraffic_PassesPromtoolCheckMetrics()
    {
        var promtool = Executables.Find("promtool")!;
        Assert.Equal(200, await MetricsFixture.ChatAsync(fixture.Http, BaseAddress, MetricsFixture.BetaKey));
        var scrape = await MetricsFixture.ScrapeUntilAsync(fixture.Http, BaseAddress, s => s.Sum("beamline_requests_total", ("tenant", "beta")) >= 1);

        var info = new ProcessStartInfo(promtool, ["check", "metrics"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.StandardInput.WriteAsync(scrape.Text);
        process.StandardInput.Close();
        await process.WaitForExitAsync();

        Assert.True(process.ExitCode == 0, $"promtool check metrics exited {process.ExitCode}:\n{await output}\n{await errors}\n--- scrape ---\n{scrape.Text}");
    }
}
