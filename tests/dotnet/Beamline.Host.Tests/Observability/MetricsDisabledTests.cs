using System.Net;
using Beamline.Testing;

namespace Beamline.Host.Tests.Observability;

/// <summary><c>Beamline:Metrics:Enabled=false</c>: nothing recorded, no scrape endpoint, requests served as before.</summary>
public sealed class MetricsDisabledTests
{
    [Fact]
    public async Task MetricsDisabled_NoScrapeEndpoint_AndRequestsStillAnswered()
    {
        var config = Path.Combine(Path.GetTempPath(), $"beamline-nometrics-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(config, MetricsFixture.Config());
        try
        {
            await using var process = await ControlPlaneProcess.StartAsync(new Dictionary<string, string> { ["Beamline__Metrics__Enabled"] = "false" },
                "--config", config);
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };

            Assert.Equal(200, await MetricsFixture.ChatAsync(http, process.BaseAddress, MetricsFixture.AcmeKey));
            using var scrape = await http.GetAsync(new Uri(process.BaseAddress, "metrics"));
            Assert.Equal(HttpStatusCode.NotFound, scrape.StatusCode);
        }
        finally
        {
            File.Delete(config);
        }
    }
}
