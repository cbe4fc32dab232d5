using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Beamline.Testing;

namespace Beamline.Host.Tests.SharedState;

/// <summary>
/// Two control planes on one NATS share their state through JetStream KV: configuration,
/// budgets, quotas, breakers and sticky sessions. Each test would fail with per-process state
/// (two budgets' worth spent, two quotas granted, a breaker or session only on the instance that made it).
/// </summary>
public sealed class SharedStateEndToEndTests(SharedStateFixture fixture) : IClassFixture<SharedStateFixture>
{
    // Issue 15: a change on one instance is live on all within 1 s; a breaker opened on one is open on all within ~1 s.
    private static readonly TimeSpan Live = TimeSpan.FromSeconds(1);

    // The largest reservation of one budget request: prompt tokens (well under 50 for "Hello") at
    // $100/Mtok plus 20 answer tokens at $200/Mtok.
    private const decimal MaxReservationUsd = (50 * 100 + 20 * 200) / 1_000_000m;

    [Fact]
    public async Task ApiKeyCreatedOnA_AuthenticatesOnB()
    {
        var (status, created) = await fixture.AdminAsync(fixture.A, HttpMethod.Post, "admin/v1/tenants/free/keys", """{"name":"made-on-a"}""");
        Assert.Equal(HttpStatusCode.Created, status);
        var key = created.GetProperty("key").GetString()!;

        var seen = await SharedStateFixture.EventuallyAsync(async () => await fixture.ChatAsync(fixture.B, key) == HttpStatusCode.OK, Live);

        Assert.True(seen, "a key created on A did not authenticate on B within 1 s");
    }

    [Fact]
    public async Task PolicyChangedOnA_IsLiveOnB()
    {
        // A's change: tenant "free" gets a policy that B must then route with.
        var (status, _) = await fixture.AdminAsync(fixture.A, HttpMethod.Put, "admin/v1/tenants/free/policies/only_two",
            """{"version":"1.0","providers":[{"name":"mock_two","weight":100}]}""");
        Assert.True(status is HttpStatusCode.OK or HttpStatusCode.Created, status.ToString());

        var seen = await SharedStateFixture.EventuallyAsync(async () =>
        {
            var (dryStatus, body) = await fixture.AdminAsync(fixture.B, HttpMethod.Post, "admin/v1/dry-run",
                """{"tenant_id":"free","policy_id":"only_two","payload":"hi"}""");
            return dryStatus == HttpStatusCode.OK
                && body.GetProperty("result").GetProperty("decision").GetProperty("provider_id").GetString() == "mock_two";
        }, Live);

        Assert.True(seen, "a policy put on A was not live on B within 1 s");
    }

    [Fact]
    public async Task ExtensionPutOnA_IsRegisteredOnB_AndItsDeleteToo()
    {
        var id = $"shared_{Guid.NewGuid():N}"[..20];
        var (put, _) = await fixture.AdminAsync(fixture.A, HttpMethod.Put, $"admin/v1/extensions/{id}",
            """{"type":"validator","subject":"beamline.ext.validator.shared.v1","timeout_ms":500}""");
        Assert.Equal(HttpStatusCode.OK, put);

        var seen = await SharedStateFixture.EventuallyAsync(async () =>
            (await fixture.AdminAsync(fixture.B, HttpMethod.Get, $"admin/v1/extensions/{id}")).Status == HttpStatusCode.OK, Live);
        Assert.True(seen, "an extension put on A was not registered on B within 1 s");

        var (deleted, _) = await fixture.AdminAsync(fixture.A, HttpMethod.Delete, $"admin/v1/extensions/{id}");
        Assert.True(deleted is HttpStatusCode.OK or HttpStatusCode.NoContent, deleted.ToString());
        var gone = await SharedStateFixture.EventuallyAsync(async () =>
            (await fixture.AdminAsync(fixture.B, HttpMethod.Get, $"admin/v1/extensions/{id}")).Status == HttpStatusCode.NotFound, Live);
        Assert.True(gone, "an extension deleted on A was still registered on B after 1 s");
    }

    [Fact]
    public async Task Budget_TwoControlPlanes500ConcurrentRequests_OvershootAtMostOneReservationPerInstance()
    {
        var hosts = new[] { fixture.A, fixture.B };
        var results = await Task.WhenAll(Enumerable.Range(0, 500).Select(async i =>
        {
            var host = hosts[i % 2];
            return (Host: i % 2, Status: await fixture.ChatAsync(host, SharedStateFixture.BudgetKey));
        }));

        var answeredA = results.Count(r => r.Host == 0 && r.Status == HttpStatusCode.OK);
        var answeredB = results.Count(r => r.Host == 1 && r.Status == HttpStatusCode.OK);
        Assert.All(results, r => Assert.Contains(r.Status, new[] { HttpStatusCode.OK, HttpStatusCode.TooManyRequests }));
        Assert.True(answeredA + answeredB > 0, "nothing was answered");
        var spent = await fixture.SpendAsync(fixture.A, SharedStateFixture.BudgetKey, answeredA)
            + await fixture.SpendAsync(fixture.B, SharedStateFixture.BudgetKey, answeredB);
        Assert.True(spent <= SharedStateFixture.BudgetUsd + 2 * MaxReservationUsd,
            $"spent ${spent} of a ${SharedStateFixture.BudgetUsd} budget ({answeredA} + {answeredB} requests)");
    }

    [Fact]
    public async Task Quota_AcrossTwoControlPlanes_IsGrantedOnce()
    {
        var answered = 0;
        for (var i = 0; i < 3 * SharedStateFixture.RequestsPerMinute; i++)
        {
            var status = await fixture.ChatAsync(i % 2 == 0 ? fixture.A : fixture.B, SharedStateFixture.QuotaKey);
            Assert.Contains(status, new[] { HttpStatusCode.OK, HttpStatusCode.TooManyRequests });
            answered += status == HttpStatusCode.OK ? 1 : 0;
        }

        // Per-process counters would grant 2 × 10; shared ones at most the quota (plus one request per instance).
        Assert.InRange(answered, 1, SharedStateFixture.RequestsPerMinute + 2);
    }

    [Fact]
    public async Task BreakerOpenedOnA_IsOpenOnB()
    {
        var status = await fixture.ChatAsync(fixture.A, SharedStateFixture.BreakerKey);
        Assert.NotEqual(HttpStatusCode.OK, status);
        Assert.True(await IsOpenAsync(fixture.A), "the failed call did not open A's breaker");

        var seen = await SharedStateFixture.EventuallyAsync(() => IsOpenAsync(fixture.B), Live);

        Assert.True(seen, "a breaker opened on A was not open on B within 1 s");
    }

    [Fact]
    public async Task StickySessionMadeOnA_IsHonouredOnB()
    {
        var user = $"user-{Guid.NewGuid():N}";
        var first = await DecideAsync(fixture.A, user);

        // B learns the session through the watch: dry runs (which store nothing) until it answers "sticky".
        var seen = await SharedStateFixture.EventuallyAsync(async () =>
        {
            var (status, body) = await fixture.AdminAsync(fixture.B, HttpMethod.Post, "admin/v1/dry-run",
                new JsonObject { ["tenant_id"] = "route", ["policy_id"] = "sticky", ["payload"] = "hi", ["context"] = new JsonObject { ["user_id"] = user } }.ToJsonString());
            return status == HttpStatusCode.OK && body.GetProperty("result").GetProperty("decision").GetProperty("reason").GetString() == "sticky";
        }, TimeSpan.FromSeconds(5));
        Assert.True(seen, "B never saw the session A made");

        for (var i = 0; i < 5; i++)
        {
            var onB = await DecideAsync(fixture.B, user);
            Assert.Equal("sticky", onB.GetProperty("reason").GetString());
            Assert.Equal(first.GetProperty("provider_id").GetString(), onB.GetProperty("provider_id").GetString());
        }
    }

    private async Task<bool> IsOpenAsync(ControlPlaneProcess host)
    {
        var (status, body) = await fixture.AdminAsync(host, HttpMethod.Get, "admin/v1/circuit-breakers");
        return status == HttpStatusCode.OK && body.GetProperty("breakers").EnumerateArray().Any(b =>
            b.GetProperty("tenant_id").GetString() == "breaker" && b.GetProperty("provider_id").GetString() == "dead"
            && b.GetProperty("state").GetString() == "open");
    }

    private async Task<JsonElement> DecideAsync(ControlPlaneProcess host, string user)
    {
        var body = new JsonObject
        {
            ["version"] = "1",
            ["tenant_id"] = "route",
            ["request_id"] = Guid.NewGuid().ToString(),
            ["task"] = new JsonObject { ["type"] = "chat", ["payload"] = new JsonObject { ["text"] = "hi" } },
            ["policy_id"] = "sticky",
            ["context"] = new JsonObject { ["user_id"] = user },
        };
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(host.BaseAddress, "api/v1/routes/decide"))
        {
            Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", SharedStateFixture.RouteKey);
        using var response = await fixture.Http.SendAsync(request);
        var reply = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
        Assert.True(reply.GetProperty("ok").GetBoolean(), reply.ToString());
        return reply.GetProperty("decision");
    }
}
