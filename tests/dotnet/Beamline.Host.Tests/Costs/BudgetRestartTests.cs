using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Beamline.Testing;

namespace Beamline.Host.Tests.Costs;

/// <summary>
/// A month's spend outlives the process: a tenant that spent its budget is still refused after the
/// control plane restarts on the same data directory, and a budget set mid-month counts what was
/// spent before it (the budget gate seeds itself from the usage ledger).
/// </summary>
public sealed class BudgetRestartTests : IDisposable
{
    private const string Key = "bl_restart_Vd3Xk9Qm2Lp7Rt5Yb8Nc1Hf4Js6Ae0Ui3Ko8Pw2Zq7M";
    private readonly string _data = Directory.CreateTempSubdirectory("beamline-budget-restart-").FullName;
    private readonly string _config = Path.Combine(Path.GetTempPath(), $"beamline-budget-restart-{Guid.NewGuid():N}.json");
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(60) };

    public void Dispose()
    {
        _http.Dispose();
        File.Delete(_config);
        Directory.Delete(_data, recursive: true);
    }

    [Fact]
    public async Task Restart_SpentBudget_IsStillRefused()
    {
        await File.WriteAllTextAsync(_config, Config(budgetUsd: 0.01m));
        await using (var first = await ControlPlaneProcess.StartOnDataDirectoryAsync(_data, "--config", _config))
        {
            // A request costs about $0.002 here: spend until the budget refuses.
            var answered = 0;
            while (await ChatAsync(first) == HttpStatusCode.OK)
            {
                answered++;
                Assert.True(answered < 100, "the budget never refused");
            }
            await WaitForLedgerAsync(first, answered);
        }

        await using var second = await ControlPlaneProcess.StartOnDataDirectoryAsync(_data, "--config", _config);
        Assert.Equal(HttpStatusCode.TooManyRequests, await ChatAsync(second));
    }

    [Fact]
    public async Task BudgetSetMidMonth_CountsWhatWasSpentBeforeIt()
    {
        await File.WriteAllTextAsync(_config, Config(budgetUsd: null));
        await using var process = await ControlPlaneProcess.StartOnDataDirectoryAsync(_data, "--config", _config);
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(HttpStatusCode.OK, await ChatAsync(process));
        }
        var spent = await WaitForLedgerAsync(process, 10);

        // The admin sets a budget below what was already spent: the next request is refused.
        using var patch = new HttpRequestMessage(HttpMethod.Patch, new Uri(process.BaseAddress, "admin/v1/tenants/restart"))
        {
            Content = new StringContent(new JsonObject { ["limits"] = new JsonObject { ["monthly_budget_usd"] = spent / 2 } }.ToJsonString(),
                Encoding.UTF8, "application/json"),
        };
        patch.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "test-admin-key-0123456789");
        using (var patched = await _http.SendAsync(patch))
        {
            Assert.True(patched.IsSuccessStatusCode, await patched.Content.ReadAsStringAsync());
        }

        Assert.Equal(HttpStatusCode.TooManyRequests, await ChatAsync(process));
    }

    private async Task<HttpStatusCode> ChatAsync(ControlPlaneProcess process)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(process.BaseAddress, "v1/chat/completions"))
        {
            Content = new StringContent("""{"model":"chat","messages":[{"role":"user","content":"Hello"}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Key);
        using var response = await _http.SendAsync(request);
        return response.StatusCode;
    }

    // The ledger writes in batches: wait until it holds the requests (then a kill loses nothing of them).
    private async Task<decimal> WaitForLedgerAsync(ControlPlaneProcess process, int requests)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(process.BaseAddress, "v1/usage"));
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Key);
            using var response = await _http.SendAsync(request, timeout.Token);
            var usage = (await response.Content.ReadFromJsonAsync<JsonElement>(timeout.Token)).GetProperty("usage");
            if (usage.GetProperty("requests").GetInt64() >= requests)
            {
                return usage.GetProperty("spend_usd").GetDecimal();
            }
            await Task.Delay(100, timeout.Token);
        }
    }

    private static string Config(decimal? budgetUsd) => new JsonObject
    {
        ["Beamline"] = new JsonObject
        {
            ["Tenancy"] = new JsonObject
            {
                ["AdminKey"] = "test-admin-key-0123456789",
                ["Pepper"] = "test-pepper-0123456789abcdef",
                ["tenants"] = new JsonArray(new JsonObject
                {
                    ["id"] = "restart",
                    ["default_policy"] = "chat",
                    ["limits"] = budgetUsd is { } budget ? new JsonObject { ["monthly_budget_usd"] = budget } : new JsonObject(),
                    ["keys"] = new JsonArray(new JsonObject { ["key"] = Key }),
                    ["policies"] = new JsonArray(new JsonObject
                    {
                        ["id"] = "chat",
                        ["json"] = JsonNode.Parse("""{"version":"1.0","providers":[{"name":"priced_mock","weight":100}]}"""),
                    }),
                }),
                ["providers"] = new JsonArray(new JsonObject
                {
                    ["id"] = "priced_mock",
                    ["kind"] = "mock",
                    ["model"] = "mock-priced-1",
                    ["reply"] = "Hello from the priced mock",
                    ["default_max_tokens"] = 20,
                    ["prices"] = new JsonObject { ["input_per_mtok"] = 100, ["output_per_mtok"] = 200 },
                }),
            },
        },
    }.ToJsonString();
}
