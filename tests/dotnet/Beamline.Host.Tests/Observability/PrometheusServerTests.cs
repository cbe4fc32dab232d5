using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Beamline.Testing;

namespace Beamline.Host.Tests.Observability;

/// <summary>
/// A real Prometheus server on loopback scraping a real <c>beamline serve</c> every second: the
/// target is up and the request counter reaches its query API.
/// </summary>
public sealed class PrometheusServerTests(MetricsFixture fixture) : IClassFixture<MetricsFixture>, IAsyncLifetime
{
    private readonly string _directory = Directory.CreateTempSubdirectory("beamline-prometheus-").FullName;
    private ChildProcess? _prometheus;
    private Uri _prometheusAddress = null!;

    public async Task InitializeAsync()
    {
        if (Executables.Find("prometheus") is not { } program)
        {
            return; // the fact is skipped, saying why
        }
        var target = fixture.Process.BaseAddress;
        var config = Path.Combine(_directory, "prometheus.yml");
        await File.WriteAllTextAsync(config, string.Create(CultureInfo.InvariantCulture, $"""
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            scrape_configs:
              - job_name: beamline
                scrape_interval: 1s
                scrape_timeout: 1s
                metrics_path: /metrics
                static_configs:
                  - targets: ['{target.Host}:{target.Port}']
            """));
        var port = FreePort.Next();
        _prometheusAddress = new Uri(string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{port}/"));
        _prometheus = ChildProcess.Start(program,
        [
            "--config.file=" + config,
            "--storage.tsdb.path=" + Path.Combine(_directory, "data"),
            string.Create(CultureInfo.InvariantCulture, $"--web.listen-address=127.0.0.1:{port}"),
        ]);
        await FreePort.WaitUntilListeningAsync(port, TimeSpan.FromSeconds(60), () => _prometheus.IsRunning);
    }

    public async Task DisposeAsync()
    {
        if (_prometheus is not null)
        {
            await _prometheus.DisposeAsync();
        }
        Directory.Delete(_directory, recursive: true);
    }

    [RequiresPrometheusFact("prometheus")]
    public async Task Prometheus_ScrapingTheControlPlane_SeesItUpAndTheRequestCounter()
    {
        for (var i = 0; i < 2; i++)
        {
            Assert.Equal(200, await MetricsFixture.ChatAsync(fixture.Http, fixture.Process.BaseAddress, MetricsFixture.BetaKey));
        }

        var up = await QueryUntilAsync("""up{job="beamline"}""", value => value == 1);
        var requests = await QueryUntilAsync("""sum(beamline_requests_total{job="beamline",tenant="beta",face="openai"})""", value => value >= 2);

        Assert.Equal(1, up);
        Assert.True(requests >= 2, $"beamline_requests_total for beta is {requests}");
    }

    // Polls the query API until the query's first value passes, failing with Prometheus's last answer
    // and output after a generous time.
    private async Task<double> QueryUntilAsync(string query, Func<double, bool> passes)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        var last = "";
        while (true)
        {
            try
            {
                var uri = new Uri(_prometheusAddress, "api/v1/query?query=" + Uri.EscapeDataString(query));
                var answer = await fixture.Http.GetFromJsonAsync<JsonElement>(uri);
                last = answer.GetRawText();
                var result = answer.GetProperty("data").GetProperty("result");
                if (result.GetArrayLength() > 0
                    && double.Parse(result[0].GetProperty("value")[1].GetString()!, CultureInfo.InvariantCulture) is var value
                    && passes(value))
                {
                    return value;
                }
            }
            catch (HttpRequestException e)
            {
                last = e.Message; // not ready yet
            }
            if (DateTime.UtcNow > until)
            {
                Assert.Fail($"Prometheus never answered '{query}' as expected; last answer: {last}\n{_prometheus!.Output}");
            }
            await Task.Delay(500);
        }
    }
}
