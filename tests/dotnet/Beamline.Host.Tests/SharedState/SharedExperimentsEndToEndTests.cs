using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Beamline.Experiments;
using Beamline.Testing;

namespace Beamline.Host.Tests.SharedState;

/// <summary>
/// An experiment on two control planes behind one NATS: created on one, it routes on both; each
/// serves half the users and hears their feedback; the look is taken on both halves together and
/// promotes the winner everywhere, audited once. With experiments per process, B would not know the
/// experiment and A alone would never have enough observations for a look. Feedback posted to the
/// control plane that did not serve the request reaches the one that did.
/// </summary>
public sealed class SharedExperimentsEndToEndTests(SharedStateFixture fixture) : IClassFixture<SharedStateFixture>
{
    private const string Id = "shared-e1";
    private const int SamplesPerLook = 6;
    private static readonly TimeSpan Live = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Settled = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task ExperimentCreatedOnA_RoutesOnB_LooksAtBothHalves_AndPromotesOnceForAll()
    {
        var (created, _) = await fixture.AdminAsync(fixture.A, HttpMethod.Post, "admin/v1/tenants/lab/experiments", $$"""
            {"id":"{{Id}}","policy_id":"chat","metric":"quality","samples_per_look":{{SamplesPerLook}},"max_looks":3,
             "arms":[{"name":"control","provider":"mock_one","weight":50},{"name":"challenger","provider":"mock_two","weight":50}]}
            """);
        Assert.Equal(HttpStatusCode.Created, created);
        Assert.True(await SharedStateFixture.EventuallyAsync(async () => await StatusAsync(fixture.B) == "running", Live),
            "an experiment created on A was not on B within 1 s");

        // Half of each arm's users on each control plane: neither alone reaches a look.
        foreach (var (user, arm, index) in UsersByArm(SamplesPerLook))
        {
            var host = index % 2 == 0 ? fixture.A : fixture.B;
            var requestId = $"lab-{Guid.NewGuid():N}";
            Assert.Equal(arm == 0 ? "mock_one" : "mock_two", await ExecuteAsync(host, requestId, user));
            var score = arm == 1 ? "0.9" : "0.2";
            var (fed, _) = await Send(host, HttpMethod.Post, "v1/feedback", SharedStateFixture.LabKey, $$"""{"request_id":"{{requestId}}","score":{{score}}}""");
            Assert.Equal(HttpStatusCode.OK, fed);
        }

        Assert.True(await SharedStateFixture.EventuallyAsync(async () => await StatusAsync(fixture.A) == "promoted" && await StatusAsync(fixture.B) == "promoted", Settled),
            $"not promoted on both: A {await StatusAsync(fixture.A)}, B {await StatusAsync(fixture.B)}");
        foreach (var host in new[] { fixture.A, fixture.B })
        {
            var (_, state) = await fixture.AdminAsync(host, HttpMethod.Get, $"admin/v1/tenants/lab/experiments/{Id}");
            var results = state.GetProperty("experiment");
            Assert.Equal("challenger", results.GetProperty("winner").GetString());
            Assert.Equal(1, results.GetProperty("looks").GetInt32());
        }
        // A's results are both halves' figures.
        Assert.True(await SharedStateFixture.EventuallyAsync(async () =>
        {
            var (_, state) = await fixture.AdminAsync(fixture.A, HttpMethod.Get, $"admin/v1/tenants/lab/experiments/{Id}");
            return state.GetProperty("experiment").GetProperty("arms").EnumerateArray()
                .All(arm => arm.GetProperty("quality").GetProperty("n").GetInt64() == SamplesPerLook);
        }, Settled), "A does not show both control planes' figures");
        // The winner takes new users on both.
        Assert.Equal("mock_two", await ExecuteAsync(fixture.A, $"lab-{Guid.NewGuid():N}", "newcomer-a"));
        Assert.Equal("mock_two", await ExecuteAsync(fixture.B, $"lab-{Guid.NewGuid():N}", "newcomer-b"));
        // One promotion in the audit chains of both together (written in the background).
        Assert.True(await SharedStateFixture.EventuallyAsync(async () => await PromotionsAsync(fixture.A) + await PromotionsAsync(fixture.B) >= 1, Settled),
            "no promotion in the audit chains");
        Assert.Equal(1, await PromotionsAsync(fixture.A) + await PromotionsAsync(fixture.B));

        // Deleted on B: gone from A too.
        Assert.Equal(HttpStatusCode.OK, (await fixture.AdminAsync(fixture.B, HttpMethod.Delete, $"admin/v1/tenants/lab/experiments/{Id}")).Status);
        Assert.True(await SharedStateFixture.EventuallyAsync(async () => await StatusAsync(fixture.A) is null, Live), "a delete on B was not live on A within 1 s");
    }

    [Fact]
    public async Task FeedbackOnAnotherControlPlane_ReachesTheOneThatServedTheRequest()
    {
        var requestId = $"lab-{Guid.NewGuid():N}";
        await ExecuteAsync(fixture.A, requestId, "feedback-user");

        var (onB, _) = await Send(fixture.B, HttpMethod.Post, "v1/feedback", SharedStateFixture.LabKey, $$"""{"request_id":"{{requestId}}","score":0.7}""");
        var (unknown, _) = await Send(fixture.B, HttpMethod.Post, "v1/feedback", SharedStateFixture.LabKey, """{"request_id":"nobody-served-this","score":0.7}""");
        // Another tenant naming lab's request is answered as for an unknown one, on either control plane.
        var (otherTenant, _) = await Send(fixture.B, HttpMethod.Post, "v1/feedback", SharedStateFixture.FreeKey, $$"""{"request_id":"{{requestId}}","score":0.7}""");

        Assert.Equal(HttpStatusCode.OK, onB);
        Assert.Equal(HttpStatusCode.NotFound, unknown);
        Assert.Equal(HttpStatusCode.NotFound, otherTenant);
    }

    // Users whose sticky arm is known (the assignment is a public, deterministic hash): `perArm` of
    // each, numbered within their arm.
    private static List<(string User, int Arm, int Index)> UsersByArm(int perArm)
    {
        var users = new List<(string, int, int)>();
        var counts = new int[2];
        for (var i = 0; counts.Min() < perArm; i++)
        {
            var user = $"user-{i}";
            var arm = ExperimentAssignment.ArmOf([5000, 5000], ExperimentAssignment.Bucket(Id, user));
            if (counts[arm] < perArm)
            {
                users.Add((user, arm, counts[arm]++));
            }
        }
        return users;
    }

    private async Task<string?> StatusAsync(ControlPlaneProcess host)
    {
        var (status, body) = await fixture.AdminAsync(host, HttpMethod.Get, $"admin/v1/tenants/lab/experiments/{Id}");
        return status == HttpStatusCode.OK ? body.GetProperty("experiment").GetProperty("status").GetString() : null;
    }

    private async Task<int> PromotionsAsync(ControlPlaneProcess host)
    {
        var (_, page) = await fixture.AdminAsync(host, HttpMethod.Get, "admin/v1/audit?tenant_id=lab&kind=admin&limit=1000");
        return page.GetProperty("entries").EnumerateArray().Count(e => e.GetProperty("actor").GetString() == "experiments");
    }

    private async Task<string> ExecuteAsync(ControlPlaneProcess host, string requestId, string user)
    {
        var body = $$$"""{"version":"1","tenant_id":"lab","request_id":"{{{requestId}}}","task":{"type":"chat","payload":{"text":"hello"}},"policy_id":"chat","context":{"user_id":"{{{user}}}"}}""";
        var (status, answer) = await Send(host, HttpMethod.Post, "v1/execute", SharedStateFixture.LabKey, body);
        Assert.True(status == HttpStatusCode.OK, answer.ToString());
        return answer.GetProperty("route").GetProperty("provider_id").GetString()!;
    }

    private async Task<(HttpStatusCode Status, JsonElement Body)> Send(ControlPlaneProcess host, HttpMethod method, string path, string key, string json)
    {
        using var request = new HttpRequestMessage(method, new Uri(host.BaseAddress, path))
        {
            Content = new StringContent(json, Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        using var response = await fixture.Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }
}
