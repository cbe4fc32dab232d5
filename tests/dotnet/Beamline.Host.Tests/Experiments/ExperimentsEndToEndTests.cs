using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Beamline.Testing;

namespace Beamline.Host.Tests.Experiments;

/// <summary>
/// Experiments as an operator and tenants meet them: a real <c>beamline serve</c> with two in-process
/// mock providers; an experiment created over the admin API splits a tenant's policy between them,
/// sticky per user; CP1 executes are counted per arm, feedback scores the answers, the better arm is
/// promoted and the promotion is in the audit chain; another tenant sees none of it.
/// </summary>
public sealed class ExperimentsEndToEndTests : IAsyncLifetime
{
    private const string AdminKey = "test-admin-key-0123456789";
    private const string LabKey = "bl_lab_AScwL0is5kdmjI-Ic5CK7VwGHXzqgwpKdzZzYmDlgKM";
    private const string RivalKey = "bl_rival_PcYK7WPjINtrxvqWdQlm3xkMWsB4Lfr5py9fgu0wATY";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(60) };
    private readonly string _root = Directory.CreateTempSubdirectory("beamline-experiments-").FullName;
    private ControlPlaneProcess _server = null!;

    private string ConfigFile => Path.Combine(_root, "beamline.json");

    private string DataDirectory => Path.Combine(_root, "data");

    public async Task InitializeAsync()
    {
        await File.WriteAllTextAsync(ConfigFile, Config());
        Directory.CreateDirectory(DataDirectory);
        _server = await ControlPlaneProcess.StartOnDataDirectoryAsync(DataDirectory, "--config", ConfigFile);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _http.Dispose();
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public async Task AnExperiment_SplitsStickyPerUser_LearnsFromFeedback_AndPromotesTheBetterArmIntoTheAuditLog()
    {
        const string Body = """
            {"id":"e1","policy_id":"chat","metric":"quality","samples_per_look":5,"max_looks":3,
             "arms":[{"name":"control","provider":"mock_a","weight":50},{"name":"challenger","provider":"mock_b","weight":50}]}
            """;
        var (created, experiment) = await SendAsync(HttpMethod.Post, "admin/v1/tenants/lab/experiments", AdminKey, Body);
        Assert.Equal(HttpStatusCode.Created, created);
        Assert.Equal("running", experiment.GetProperty("experiment").GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.Conflict, (await SendAsync(HttpMethod.Post, "admin/v1/tenants/lab/experiments", AdminKey, Body)).Status);

        // Users arrive; each keeps its arm; the challenger's answers are scored higher.
        var byUser = new Dictionary<string, string>();
        for (var i = 0; i < 80; i++)
        {
            var user = $"user-{i % 40}";
            var provider = await ExecuteAsync(LabKey, "lab", $"lab-req-{i}", user);
            if (byUser.TryGetValue(user, out var earlier))
            {
                Assert.Equal(earlier, provider);
            }
            byUser[user] = provider;
            var score = provider == "mock_b" ? 0.8 + (0.1 * (i % 2)) : 0.2 + (0.1 * (i % 2));
            var (fed, _) = await SendAsync(HttpMethod.Post, "v1/feedback", LabKey, $$"""{"request_id":"lab-req-{{i}}","score":{{score}},"comment":"ok"}""");
            Assert.Equal(HttpStatusCode.OK, fed);
            if (await StatusAsync() == "promoted")
            {
                break;
            }
        }
        Assert.Contains("mock_a", byUser.Values);
        Assert.Contains("mock_b", byUser.Values);

        var (_, state) = await SendAsync(HttpMethod.Get, "admin/v1/tenants/lab/experiments/e1", AdminKey, null);
        var results = state.GetProperty("experiment");
        Assert.Equal("promoted", results.GetProperty("status").GetString());
        Assert.Equal("challenger", results.GetProperty("winner").GetString());
        Assert.True(results.GetProperty("looks").GetInt32() >= 1);
        foreach (var arm in results.GetProperty("arms").EnumerateArray())
        {
            Assert.True(arm.GetProperty("executions").GetInt64() >= 5, arm.ToString());
            Assert.True(arm.GetProperty("quality").GetProperty("n").GetInt64() >= 5, arm.ToString());
            Assert.Equal(0, arm.GetProperty("errors").GetInt64());
            Assert.True(arm.GetProperty("latency_ms").GetProperty("mean").GetDouble() > 0);
        }
        var comparison = results.GetProperty("comparisons")[0];
        Assert.Equal("challenger", comparison.GetProperty("arm").GetString());
        Assert.True(comparison.GetProperty("quality").GetProperty("p_value").GetDouble() < results.GetProperty("last_threshold").GetDouble());

        // The winner takes all traffic, new users included.
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal("mock_b", await ExecuteAsync(LabKey, "lab", $"lab-after-{i}", $"newcomer-{i}"));
        }

        // The promotion is in the audit chain, as the tenant's.
        var promotion = await EventuallyAsync(async () =>
        {
            var (_, page) = await SendAsync(HttpMethod.Get, "admin/v1/audit?tenant_id=lab&kind=admin&limit=1000", AdminKey, null);
            return page.GetProperty("entries").EnumerateArray().FirstOrDefault(e => e.GetProperty("actor").GetString() == "experiments");
        });
        Assert.Equal("PROMOTE /admin/v1/tenants/lab/experiments/e1?winner=challenger", promotion.GetProperty("action").GetString());
        Assert.Equal("mock_b", promotion.GetProperty("provider_id").GetString());
        Assert.Equal("ok", promotion.GetProperty("status").GetString());

        // The tenant reads its own experiment with its key.
        var (own, mine) = await SendAsync(HttpMethod.Get, "v1/experiments/e1", LabKey, null);
        Assert.Equal(HttpStatusCode.OK, own);
        Assert.Equal("challenger", mine.GetProperty("experiment").GetProperty("winner").GetString());
    }

    [Fact]
    public async Task AfterARestart_ThePromotedWinnerKeepsItsTraffic_AndARunningExperimentItsFigures()
    {
        var (created, _) = await SendAsync(HttpMethod.Post, "admin/v1/tenants/lab/experiments", AdminKey, """
            {"id":"won","policy_id":"chat","metric":"quality","samples_per_look":3,"max_looks":1,
             "arms":[{"name":"control","provider":"mock_a","weight":50},{"name":"challenger","provider":"mock_b","weight":50}]}
            """);
        Assert.Equal(HttpStatusCode.Created, created);
        for (var i = 0; i < 60 && await StatusAsync("won") == "running"; i++)
        {
            var provider = await ExecuteAsync(LabKey, "lab", $"won-{i}", $"user-{i}");
            await SendAsync(HttpMethod.Post, "v1/feedback", LabKey, $$"""{"request_id":"won-{{i}}","score":{{(provider == "mock_b" ? 0.9 - (0.05 * (i % 2)) : 0.1 + (0.05 * (i % 2)))}}}""");
        }
        Assert.Equal("promoted", await StatusAsync("won"));
        Assert.Equal(HttpStatusCode.Created, (await SendAsync(HttpMethod.Post, "admin/v1/tenants/rival/experiments", AdminKey,
            """{"id":"ongoing","policy_id":"chat","metric":"latency","arms":[{"name":"control","provider":"mock_a","weight":50},{"name":"b","provider":"mock_b","weight":50}]}""")).Status);
        for (var i = 0; i < 6; i++)
        {
            await ExecuteAsync(RivalKey, "rival", $"ongoing-{i}", $"user-{i}");
        }
        var before = (await SendAsync(HttpMethod.Get, "admin/v1/tenants/rival/experiments/ongoing", AdminKey, null)).Body.GetProperty("experiment");

        _server.Process.Terminate();
        var exitCode = await _server.Process.WaitForExitAsync(Wait);
        Assert.True(exitCode == 0, _server.Process.Output);
        await _server.DisposeAsync();
        _server = await ControlPlaneProcess.StartOnDataDirectoryAsync(DataDirectory, "--config", ConfigFile);

        Assert.Equal("promoted", await StatusAsync("won"));
        Assert.Equal("mock_b", await ExecuteAsync(LabKey, "lab", "won-after-restart", "someone-new"));
        var after = (await SendAsync(HttpMethod.Get, "admin/v1/tenants/rival/experiments/ongoing", AdminKey, null)).Body.GetProperty("experiment");
        Assert.Equal("running", after.GetProperty("status").GetString());
        Assert.Equal(before.GetProperty("arms").ToString(), after.GetProperty("arms").ToString());
        Assert.Equal(6, after.GetProperty("arms").EnumerateArray().Sum(a => a.GetProperty("executions").GetInt64()));
    }

    [Fact]
    public async Task AnotherTenant_CannotSeeTheExperiment_NorGiveFeedbackOnItsRequests()
    {
        var (created, _) = await SendAsync(HttpMethod.Post, "admin/v1/tenants/lab/experiments", AdminKey,
            """{"id":"private","policy_id":"chat","split":{"canary_percent":10},"arms":[{"name":"control","provider":"mock_a"},{"name":"canary","provider":"mock_b"}]}""");
        Assert.Equal(HttpStatusCode.Created, created);
        await ExecuteAsync(LabKey, "lab", "lab-secret-req", "someone");
        await ExecuteAsync(RivalKey, "rival", "rival-req", "someone");

        var (listed, list) = await SendAsync(HttpMethod.Get, "v1/experiments", RivalKey, null);
        Assert.Equal(HttpStatusCode.OK, listed);
        Assert.Empty(list.GetProperty("experiments").EnumerateArray());
        var (hidden, error) = await SendAsync(HttpMethod.Get, "v1/experiments/private", RivalKey, null);
        Assert.Equal(HttpStatusCode.NotFound, hidden);
        Assert.Equal("not_found", error.GetProperty("error").GetProperty("code").GetString());
        Assert.Empty((await SendAsync(HttpMethod.Get, "admin/v1/tenants/rival/experiments", AdminKey, null)).Body.GetProperty("experiments").EnumerateArray());

        // Feedback on the other tenant's request is answered as for an unknown one.
        var (foreign, foreignError) = await SendAsync(HttpMethod.Post, "v1/feedback", RivalKey, """{"request_id":"lab-secret-req","score":1}""");
        var (unknown, unknownError) = await SendAsync(HttpMethod.Post, "v1/feedback", RivalKey, """{"request_id":"never-sent","score":1}""");
        Assert.Equal(HttpStatusCode.NotFound, foreign);
        Assert.Equal(HttpStatusCode.NotFound, unknown);
        Assert.False(foreignError.GetProperty("ok").GetBoolean());
        Assert.Equal("not_found", foreignError.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal("request_id", foreignError.GetProperty("error").GetProperty("details").GetProperty("field").GetString());
        Assert.Equal(unknownError.GetProperty("error").GetProperty("code").GetString(), foreignError.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(HttpMethod.Post, "v1/feedback", RivalKey, """{"request_id":"rival-req","score":0.5}""")).Status);

        // Bad input and missing keys.
        var (badScore, badScoreError) = await SendAsync(HttpMethod.Post, "v1/feedback", LabKey, """{"request_id":"lab-secret-req","score":1.5}""");
        Assert.Equal(HttpStatusCode.BadRequest, badScore);
        Assert.Equal("score", badScoreError.GetProperty("error").GetProperty("details").GetProperty("field").GetString());
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(HttpMethod.Post, "v1/feedback", null, """{"request_id":"x","score":1}""")).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(HttpMethod.Get, "admin/v1/tenants/lab/experiments", LabKey, null)).Status);
        var (badArm, badArmError) = await SendAsync(HttpMethod.Post, "admin/v1/tenants/lab/experiments", AdminKey,
            """{"id":"x","policy_id":"chat","arms":[{"name":"a","provider":"mock_a","weight":50},{"name":"b","provider":"nope","weight":50}]}""");
        Assert.Equal(HttpStatusCode.BadRequest, badArm);
        Assert.Equal("arms[1].provider", badArmError.GetProperty("error").GetProperty("details").GetProperty("field").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(HttpMethod.Get, "admin/v1/tenants/nobody/experiments", AdminKey, null)).Status);

        // Stopped: results kept, traffic back with the policy.
        var (stopped, stoppedBody) = await SendAsync(HttpMethod.Post, "admin/v1/tenants/lab/experiments/private/stop", AdminKey, null);
        Assert.Equal(HttpStatusCode.OK, stopped);
        Assert.Equal("stopped", stoppedBody.GetProperty("experiment").GetProperty("status").GetString());
        Assert.Equal(10, stoppedBody.GetProperty("experiment").GetProperty("arms")[1].GetProperty("weight").GetDouble());
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(HttpMethod.Delete, "admin/v1/tenants/lab/experiments/private", AdminKey, null)).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(HttpMethod.Get, "admin/v1/tenants/lab/experiments/private", AdminKey, null)).Status);
    }

    private async Task<string?> StatusAsync(string id = "e1")
        => (await SendAsync(HttpMethod.Get, $"admin/v1/tenants/lab/experiments/{id}", AdminKey, null)).Body.GetProperty("experiment").GetProperty("status").GetString();

    private async Task<string> ExecuteAsync(string key, string tenant, string requestId, string user)
    {
        var body = $$$"""{"version":"1","tenant_id":"{{{tenant}}}","request_id":"{{{requestId}}}","task":{"type":"chat","payload":{"text":"hello"}},"policy_id":"chat","context":{"user_id":"{{{user}}}"}}""";
        var (status, answer) = await SendAsync(HttpMethod.Post, "v1/execute", key, body);
        Assert.True(status == HttpStatusCode.OK, answer.ToString());
        return answer.GetProperty("route").GetProperty("provider_id").GetString()!;
    }

    private static async Task<JsonElement> EventuallyAsync(Func<Task<JsonElement>> read)
    {
        using var timeout = new CancellationTokenSource(Wait);
        while (true)
        {
            var found = await read();
            if (found.ValueKind != JsonValueKind.Undefined)
            {
                return found;
            }
            await Task.Delay(50, timeout.Token);
        }
    }

    private async Task<(HttpStatusCode Status, JsonElement Body)> SendAsync(HttpMethod method, string path, string? key, string? json)
    {
        using var request = new HttpRequestMessage(method, new Uri(_server.BaseAddress, path));
        if (key is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }
        using var response = await _http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }

    private static JsonObject Tenant(string id, string key) => new()
    {
        ["id"] = id,
        ["default_policy"] = "chat",
        ["keys"] = new JsonArray(new JsonObject { ["key"] = key }),
        ["policies"] = new JsonArray(new JsonObject
        {
            ["id"] = "chat",
            ["json"] = JsonNode.Parse("""{"version":"1.0","providers":[{"name":"mock_a","weight":100}]}"""),
        }),
    };

    private static JsonObject Mock(string id, string reply) => new()
    {
        ["id"] = id,
        ["kind"] = "mock",
        ["model"] = $"{id}-model",
        ["reply"] = reply,
        ["prices"] = new JsonObject { ["input_per_mtok"] = 1, ["output_per_mtok"] = 2 },
    };

    private static string Config() => new JsonObject
    {
        ["Beamline"] = new JsonObject
        {
            ["Tenancy"] = new JsonObject
            {
                ["AdminKey"] = AdminKey,
                ["Pepper"] = "test-pepper-0123456789abcdef",
                ["tenants"] = new JsonArray(Tenant("lab", LabKey), Tenant("rival", RivalKey)),
                ["providers"] = new JsonArray(Mock("mock_a", "Answer A"), Mock("mock_b", "Answer B")),
            },
        },
    }.ToJsonString();
}
