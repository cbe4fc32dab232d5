using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace Beamline.Host.Tests.Routing;

/// <summary>
/// The workers on the bus as the control plane sees them through their heartbeats: the admin
/// view <c>GET /admin/v1/workers</c> and the pool gauges on <c>/metrics</c>, with a real
/// <c>beamline-worker</c> on a real nats-server.
/// </summary>
public sealed class WorkersViewTests(ExecuteOverNatsFixture host) : IClassFixture<ExecuteOverNatsFixture>
{
    private const string AdminKey = "test-admin-key-0123456789";

    [Fact]
    public async Task Workers_AdminView_ShowsTheWorkerAndItsPoolsFromItsHeartbeat()
    {
        using var client = new HttpClient { BaseAddress = host.Process.BaseAddress };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AdminKey);

        var worker = await WaitForWorkerAsync(client, host.Worker.WorkerId);

        Assert.True(worker.GetProperty("alive").GetBoolean());
        Assert.False(worker.GetProperty("draining").GetBoolean());
        var cpu = worker.GetProperty("pools").EnumerateArray().Single(p => p.GetProperty("name").GetString() == "cpu");
        Assert.Equal(2, cpu.GetProperty("capacity").GetInt32());
        Assert.Equal(0, cpu.GetProperty("stuck").GetInt32());
        Assert.Equal(0, cpu.GetProperty("replaced").GetInt64());
        Assert.Contains(worker.GetProperty("executors").EnumerateArray(), e => e.GetString() == "echo");
    }

    [Fact]
    public async Task Workers_Metrics_CarryThePoolGauges()
    {
        using var client = new HttpClient { BaseAddress = host.Process.BaseAddress };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AdminKey);
        await WaitForWorkerAsync(client, host.Worker.WorkerId);

        var lines = (await client.GetStringAsync("/metrics")).Split('\n');

        var capacity = lines.Where(l => l.StartsWith("beamline_worker_pool_capacity{", StringComparison.Ordinal)).ToArray();
        Assert.Contains(capacity, l => l.Contains($"worker=\"{host.Worker.WorkerId}\"", StringComparison.Ordinal)
            && l.Contains("pool=\"cpu\"", StringComparison.Ordinal) && l.Split(' ')[1] == "2");
        Assert.Contains(lines, l => l.StartsWith("beamline_workers{", StringComparison.Ordinal) && l.Contains("state=\"alive\"", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Workers_WithoutTheAdminKey_IsUnauthorized()
    {
        using var client = new HttpClient { BaseAddress = host.Process.BaseAddress };

        using var response = await client.GetAsync("/admin/v1/workers");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("unauthorized", body.RootElement.GetProperty("error").GetProperty("code").GetString());
    }

    // The worker heartbeats every 500 ms; its first one may come after the control plane started.
    private static async Task<JsonElement> WaitForWorkerAsync(HttpClient client, string workerId)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            using var document = JsonDocument.Parse(await client.GetStringAsync("/admin/v1/workers", timeout.Token));
            Assert.Equal("nats", document.RootElement.GetProperty("mode").GetString());
            foreach (var worker in document.RootElement.GetProperty("workers").EnumerateArray())
            {
                if (worker.GetProperty("worker_id").GetString() == workerId)
                {
                    return worker.Clone();
                }
            }
            await Task.Delay(200, timeout.Token);
        }
    }
}
