using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Beamline.Host.Tests.Costs;

/// <summary>
/// Cost tracking as a tenant sees it, through the real control plane: answers whole and streamed
/// in both formats are charged at the catalog's prices and show in <c>/v1/usage</c>; the usage an
/// upstream streams only because Beamline asked for it never reaches a client that did not; a
/// budget holds under 500 concurrent requests, refusing with OpenAI's own out-of-credit error, and
/// its alerts fire once per threshold; the audit chain lists every execution, to its own tenant only.
/// </summary>
public sealed class CostsEndToEndTests(CostsFixture host) : IClassFixture<CostsFixture>, IDisposable
{
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(120) };

    public void Dispose() => _http.Dispose();

    private const string Chat = """{"model":"chat","messages":[{"role":"user","content":"What does a request cost?"}]}""";

    [Fact]
    public async Task Chat_Whole_IsChargedAtTheCatalogPrice_AndShowsInUsageByProviderAndTeam()
    {
        var before = await UsageAsync(CostsFixture.RedKey);

        using var response = await PostAsync("v1/chat/completions", CostsFixture.RedKey, Chat);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();

        Assert.True(response.IsSuccessStatusCode, body.ToString());
        var usage = body.GetProperty("usage");
        var input = usage.GetProperty("prompt_tokens").GetInt64();
        var output = usage.GetProperty("completion_tokens").GetInt64();
        var expected = (input * CostsFixture.InputPerMTok + output * CostsFixture.OutputPerMTok) / 1_000_000m;
        Assert.Equal(expected, decimal.Parse(response.Headers.GetValues("x-beamline-cost-usd").Single(), CultureInfo.InvariantCulture));

        var after = await WaitForRequestsAsync(CostsFixture.RedKey, Requests(before) + 1);
        Assert.Equal(Spend(before) + expected, Spend(after));
        Assert.Equal(Tokens(before, "input_tokens") + input, Tokens(after, "input_tokens"));
        Assert.Contains(after.GetProperty("by_provider").EnumerateArray(), p => p.GetProperty("id").GetString() == "priced_mock");
        Assert.Contains(after.GetProperty("by_team").EnumerateArray(), t => t.GetProperty("id").GetString() == "red");
        Assert.Contains(after.GetProperty("by_model").EnumerateArray(), m => m.GetProperty("id").GetString() == "mock-priced-1");
    }

    [Fact]
    public async Task Chat_Streamed_WithoutIncludeUsage_IsChargedExactly_ButTheClientSeesNoUsageChunk()
    {
        var before = await UsageAsync(CostsFixture.PlainKey);

        var text = await StreamAsync("v1/chat/completions", CostsFixture.PlainKey,
            """{"model":"chat","stream":true,"messages":[{"role":"user","content":"Stream me a reply"}]}""");

        Assert.Contains("data: [DONE]", text);
        // No usage chunk (chunks may say "usage":null, as OpenAI's do once usage is asked for).
        Assert.DoesNotContain("\"usage\":{", text);
        var after = await WaitForRequestsAsync(CostsFixture.PlainKey, Requests(before) + 1);
        Assert.True(Tokens(after, "output_tokens") > Tokens(before, "output_tokens"));
        Assert.True(Spend(after) > Spend(before));
        Assert.Equal(Tokens(before, "estimated_requests"), Tokens(after, "estimated_requests"));
    }

    [Fact]
    public async Task Chat_Streamed_WithIncludeUsage_GetsTheUsageChunk()
    {
        var text = await StreamAsync("v1/chat/completions", CostsFixture.PlainKey,
            """{"model":"chat","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Stream me a reply"}]}""");

        Assert.Contains("\"usage\":{", text);
        Assert.Contains("data: [DONE]", text);
    }

    [Fact]
    public async Task AnthropicMessages_WholeAndStreamed_AreBothCharged()
    {
        var before = await UsageAsync(CostsFixture.RedKey);
        const string Message = """{"model":"chat","max_tokens":50,"messages":[{"role":"user","content":"Hello Claude"}]}""";

        using var whole = await PostAsync("v1/messages", CostsFixture.RedKey, Message);
        Assert.True(whole.IsSuccessStatusCode, await whole.Content.ReadAsStringAsync());
        var streamed = await StreamAsync("v1/messages", CostsFixture.RedKey, Message.Replace("\"max_tokens\":50", "\"max_tokens\":50,\"stream\":true"));
        Assert.Contains("message_stop", streamed);

        var after = await WaitForRequestsAsync(CostsFixture.RedKey, Requests(before) + 2);
        Assert.True(Spend(after) > Spend(before));
    }

    [Fact]
    public async Task Cp1Execute_BlockWithoutUsage_IsCountedAndMarkedEstimated()
    {
        var before = await UsageAsync(CostsFixture.PlainKey);
        var request = $$$"""{"version":"1","tenant_id":"spend","request_id":"req-est-{{{Guid.NewGuid():N}}}","task":{"type":"chat","payload":{"text":"count these words please"}},"policy_id":"blocks"}""";

        using var response = await PostAsync("v1/execute", CostsFixture.PlainKey, request);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();

        Assert.True(response.IsSuccessStatusCode, body.ToString());
        var usage = body.GetProperty("result").GetProperty("usage");
        Assert.True(usage.GetProperty("estimated").GetBoolean());
        Assert.True(usage.GetProperty("input_tokens").GetInt64() > 0);
        Assert.True(body.GetProperty("result").GetProperty("cost_usd").GetDecimal() > 0);
        var after = await WaitForRequestsAsync(CostsFixture.PlainKey, Requests(before) + 1);
        Assert.Equal(Tokens(before, "estimated_requests") + 1, Tokens(after, "estimated_requests"));
    }

    [Fact]
    public async Task Budget_500ConcurrentRequests_OvershootAtMostOneReservation_RefusedAsInsufficientQuota_AlertsOncePerThreshold()
    {
        var calls = Enumerable.Range(0, 500).Select(async i =>
        {
            using var response = await PostAsync("v1/chat/completions", CostsFixture.CrowdKey,
                $$"""{"model":"chat","messages":[{"role":"user","content":"Concurrent request number {{i}}"}]}""");
            return (response.StatusCode, Body: await response.Content.ReadFromJsonAsync<JsonElement>());
        }).ToArray();
        var results = await Task.WhenAll(calls);

        var answered = results.Count(r => r.StatusCode == HttpStatusCode.OK);
        var refused = results.Where(r => r.StatusCode == HttpStatusCode.TooManyRequests).ToArray();
        Assert.Equal(500, answered + refused.Length);
        Assert.True(answered > 0 && refused.Length > 0, $"{answered} answered, {refused.Length} refused");
        Assert.All(refused, r =>
        {
            Assert.Equal("insufficient_quota", r.Body.GetProperty("error").GetProperty("code").GetString());
            Assert.Equal("insufficient_quota", r.Body.GetProperty("error").GetProperty("type").GetString());
        });

        var usage = await WaitForRequestsAsync(CostsFixture.CrowdKey, answered);
        // One reservation: the prompt (a few tokens) plus default_max_tokens out, at the prices; 100 prompt tokens is a generous ceiling.
        var reservation = (100 * CostsFixture.InputPerMTok + CostsFixture.DefaultMaxTokens * CostsFixture.OutputPerMTok) / 1_000_000m;
        Assert.InRange(Spend(usage), CostsFixture.CrowdBudgetUsd - reservation, CostsFixture.CrowdBudgetUsd + reservation);
        Assert.Equal(CostsFixture.CrowdBudgetUsd, usage.GetProperty("budget_usd").GetDecimal());

        // 50, 80 and 100 % of the monthly budget: each exactly once, signed, for this tenant.
        var alerts = await WaitForAlertsAsync("crowd", 3);
        Assert.Equal([50, 80, 100], alerts.Select(a => a.GetProperty("threshold_percent").GetInt32()).Order().ToArray());
        Assert.All(alerts, a => Assert.Equal("monthly", a.GetProperty("budget_kind").GetString()));
        Assert.Empty(host.BadSignatures);
        await Task.Delay(500);
        Assert.Equal(3, host.Alerts.Count(a => a.GetProperty("tenant_id").GetString() == "crowd"));

        // Spent: even a decide is refused now, as CP1's quota_exceeded with reason budget.
        using var decide = await PostAsync("api/v1/routes/decide", CostsFixture.CrowdKey,
            """{"version":"1","tenant_id":"crowd","request_id":"req-after","task":{"type":"chat","payload":{"text":"hi"}}}""");
        var refusal = await decide.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(HttpStatusCode.TooManyRequests, decide.StatusCode);
        Assert.Equal("quota_exceeded", refusal.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal("budget", refusal.GetProperty("error").GetProperty("details").GetProperty("reason").GetString());
    }

    [Fact]
    public async Task Usage_AndAudit_OfAnotherTenant_AreNeverShown()
    {
        using var mine = await PostAsync("v1/chat/completions", CostsFixture.OtherKey, Chat);
        var id = (await mine.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString();
        Assert.True(mine.IsSuccessStatusCode);
        await WaitForRequestsAsync(CostsFixture.OtherKey, 1);

        using var foreign = await GetAsync("v1/usage?tenant_id=spend", CostsFixture.OtherKey);
        Assert.Equal(HttpStatusCode.Forbidden, foreign.StatusCode);
        using var foreignAudit = await GetAsync("v1/audit?tenant=spend", CostsFixture.OtherKey);
        Assert.Equal(HttpStatusCode.Forbidden, foreignAudit.StatusCode);

        // The chain lists this tenant's executions (hashes, never bodies) and nothing of the others.
        var entries = await WaitForAuditAsync(CostsFixture.OtherKey, e => e.GetProperty("kind").GetString() == "execution");
        Assert.All(entries, e => Assert.Equal("other", e.GetProperty("tenant_id").GetString()));
        var execution = entries.First(e => e.GetProperty("kind").GetString() == "execution");
        Assert.Equal("priced_mock", execution.GetProperty("provider_id").GetString());
        Assert.Equal(64, execution.GetProperty("request_sha256").GetString()!.Length);
        Assert.DoesNotContain("What does a request cost", JsonSerializer.Serialize(entries), StringComparison.Ordinal);
        Assert.NotNull(id);
    }

    private static decimal Spend(JsonElement usage) => usage.GetProperty("spend_usd").GetDecimal();

    private static long Requests(JsonElement usage) => usage.GetProperty("requests").GetInt64();

    private static long Tokens(JsonElement usage, string name) => usage.GetProperty(name).GetInt64();

    private async Task<JsonElement> UsageAsync(string key)
    {
        using var response = await GetAsync("v1/usage", key);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(response.IsSuccessStatusCode, body.ToString());
        return body.GetProperty("usage").Clone();
    }

    // The ledger writes in batches off the request path: poll until the requests are in.
    private async Task<JsonElement> WaitForRequestsAsync(string key, long requests)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            var usage = await UsageAsync(key);
            if (Requests(usage) >= requests)
            {
                return usage;
            }
            await Task.Delay(100, timeout.Token);
        }
    }

    private async Task<JsonElement[]> WaitForAlertsAsync(string tenant, int count)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            var alerts = host.Alerts.Where(a => a.GetProperty("tenant_id").GetString() == tenant).ToArray();
            if (alerts.Length >= count)
            {
                return alerts;
            }
            await Task.Delay(100, timeout.Token);
        }
    }

    private async Task<JsonElement[]> WaitForAuditAsync(string key, Func<JsonElement, bool> wanted)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            using var response = await GetAsync("v1/audit", key);
            var body = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.True(response.IsSuccessStatusCode, body.ToString());
            var entries = body.GetProperty("entries").EnumerateArray().Select(e => e.Clone()).ToArray();
            if (entries.Any(wanted))
            {
                return entries;
            }
            await Task.Delay(100, timeout.Token);
        }
    }

    private Task<HttpResponseMessage> PostAsync(string path, string key, string json)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(host.Process.BaseAddress, path))
        {
            Content = new StringContent(json, Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return _http.SendAsync(request);
    }

    private Task<HttpResponseMessage> GetAsync(string path, string key)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, new Uri(host.Process.BaseAddress, path));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return _http.SendAsync(request);
    }

    private async Task<string> StreamAsync(string path, string key, string json)
    {
        using var response = await PostAsync(path, key, json);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, text);
        return text;
    }
}
