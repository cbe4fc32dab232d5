using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Beamline.Testing;
using Microsoft.Data.Sqlite;

namespace Beamline.Host.Tests.Replay;

/// <summary>
/// A real <c>beamline serve</c> with tenant <c>acme</c> opted in to replay and <c>beta</c> not, and
/// two <c>mock</c> providers: <c>mock_echo</c> echoes the last user message, <c>mock_other</c> always
/// answers the same. Each test uses its own request ids.
/// </summary>
public sealed class ReplayFixture : IAsyncLifetime
{
    public const string AdminKey = "test-admin-key-0123456789";
    public const string AcmeKey = "bl_acme_8TuqHhOWk1WTBbCPiHvIbCduVtcpsalf3UmxWMpS94j";
    public const string BetaKey = "bl_beta_Q7pLm2VxR9sKd4TfYh6JwN3cB8gZa5EuXo1iHtMvPqs";
    public const string GammaKey = "bl_gamma_PgJ6OUxSjPrtwtvbr5g5RCqfMc0QgD-nDY5OlPDle_E";
    public const string OtherReply = "Something else entirely";

    private readonly string _configFile = Path.Combine(Path.GetTempPath(), $"beamline-replay-{Guid.NewGuid():N}.json");

    public ControlPlaneProcess Process { get; private set; } = null!;

    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(60) };

    public string DatabasePath => Path.Combine(Process.DataDirectory, "replay.db");

    public async Task InitializeAsync()
    {
        await File.WriteAllTextAsync(_configFile, Config());
        Process = await ControlPlaneProcess.StartAsync("--config", _configFile);
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        SqliteConnection.ClearAllPools();
        if (Process is not null)
        {
            await Process.DisposeAsync();
        }
        File.Delete(_configFile);
    }

    private static string Config()
    {
        static JsonObject Tenant(string id, string key, JsonObject? limits = null) => new()
        {
            ["id"] = id,
            ["default_policy"] = "chat",
            ["limits"] = limits ?? new JsonObject(),
            ["keys"] = new JsonArray(new JsonObject { ["key"] = key }),
            ["policies"] = new JsonArray(new JsonObject
            {
                ["id"] = "chat",
                ["json"] = JsonNode.Parse("""{"version":"1.0","providers":[{"name":"mock_echo","weight":100}]}"""),
            }),
        };
        return new JsonObject
        {
            ["Beamline"] = new JsonObject
            {
                ["Replay"] = new JsonObject { ["Tenants"] = new JsonArray("acme", "gamma"), ["Retention"] = "01:00:00" },
                ["Tenancy"] = new JsonObject
                {
                    ["AdminKey"] = AdminKey,
                    ["Pepper"] = "test-pepper-0123456789abcdef",
                    ["tenants"] = new JsonArray(Tenant("acme", AcmeKey), Tenant("beta", BetaKey),
                        Tenant("gamma", GammaKey, new JsonObject { ["allowed_providers"] = new JsonArray("mock_echo") })),
                    ["providers"] = new JsonArray(
                        JsonNode.Parse("""{"id":"mock_echo","kind":"mock","model":"mock-echo-1"}"""),
                        JsonNode.Parse($$"""{"id":"mock_other","kind":"mock","model":"mock-other-1","reply":"{{OtherReply}}"}""")),
                },
            },
        }.ToJsonString();
    }

    /// <summary>One chat completion through the OpenAI face with <paramref name="requestId"/>; the answer's text.</summary>
    public async Task<string> ChatAsync(string key, string requestId, string content)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(Process.BaseAddress, "v1/chat/completions"))
        {
            Content = new StringContent(new JsonObject
            {
                ["model"] = "chat",
                ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = content }),
            }.ToJsonString(), Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        request.Headers.Add("x-request-id", requestId);
        using var response = await Http.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        return JsonNode.Parse(body)!["choices"]![0]!["message"]!["content"]!.GetValue<string>();
    }

    /// <summary><c>POST /admin/v1/replay/{id}</c>: the status and the answer.</summary>
    public async Task<(HttpStatusCode Status, JsonElement Answer)> ReplayAsync(string requestId, string body = "{}", string? adminKey = AdminKey)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(Process.BaseAddress, "admin/v1/replay/" + Uri.EscapeDataString(requestId)))
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        if (adminKey is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", adminKey);
        }
        using var response = await Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        using var document = JsonDocument.Parse(text);
        return (response.StatusCode, document.RootElement.Clone());
    }

    /// <summary>
    /// The kept rows' (tenant, request id, request body) once <paramref name="requestId"/> is among
    /// them: the capture writes in the background, in the order requests finished.
    /// </summary>
    public async Task<List<(string Tenant, string RequestId, string Body)>> KeptOnceWrittenAsync(string requestId)
    {
        for (var attempt = 0; ; attempt++)
        {
            var rows = new List<(string, string, string)>();
            if (File.Exists(DatabasePath))
            {
                await using var connection = new SqliteConnection($"Data Source={DatabasePath};Mode=ReadOnly;Pooling=False");
                await connection.OpenAsync();
                await using var command = connection.CreateCommand();
                command.CommandText = "SELECT tenant_id, request_id, CAST(request_body AS TEXT) FROM replay_requests;";
                await using var reader = await command.ExecuteReaderAsync();
                while (await reader.ReadAsync())
                {
                    rows.Add((reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? "" : reader.GetString(2)));
                }
            }
            if (rows.Exists(row => row.Item2 == requestId))
            {
                return rows;
            }
            Assert.True(attempt < 300, $"request {requestId} was not written to replay.db\n{Process.Process.Output}");
            await Task.Delay(100);
        }
    }
}

/// <summary>Request replay end to end: the OpenAI face, replay.db, the admin endpoint and <c>beamline replay</c>.</summary>
public sealed class ReplayEndToEndTests(ReplayFixture fixture) : IClassFixture<ReplayFixture>
{
    private const string Email = "jane.doe@example.com";

    private static string Id(string name) => name + "-" + Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public async Task Replay_KeptRequest_IsMaskedAndReproducesTheSameAnswer()
    {
        var id = Id("same");
        Assert.Equal($"Echo: mail {Email} today", await fixture.ChatAsync(ReplayFixture.AcmeKey, id, $"mail {Email} today"));

        var kept = (await fixture.KeptOnceWrittenAsync(id)).Single(row => row.RequestId == id);
        Assert.Equal("acme", kept.Tenant);
        Assert.DoesNotContain(Email, kept.Body, StringComparison.Ordinal);
        Assert.Contains("mail [EMAIL] today", kept.Body, StringComparison.Ordinal);

        var (status, answer) = await fixture.ReplayAsync(id);
        Assert.True(status == HttpStatusCode.OK, answer.ToString());
        var original = answer.GetProperty("original");
        var replay = answer.GetProperty("replay");
        Assert.Equal("Echo: mail [EMAIL] today", original.GetProperty("output").GetString());
        Assert.Equal(original.GetProperty("output").GetString(), replay.GetProperty("output").GetString());
        Assert.Equal(("mock_echo", "ok"), (replay.GetProperty("provider_id").GetString(), replay.GetProperty("status").GetString()));
        Assert.Equal($"replay-{id}-1", replay.GetProperty("request_id").GetString());
        Assert.Equal(string.Empty, answer.GetProperty("diff").GetString());
    }

    [Fact]
    public async Task Replay_AgainstAnotherProvider_PrintsTheDifference()
    {
        var id = Id("other");
        await fixture.ChatAsync(ReplayFixture.AcmeKey, id, "hello there");
        await fixture.KeptOnceWrittenAsync(id);

        var (status, answer) = await fixture.ReplayAsync(id, """{"provider":"mock_other"}""");

        Assert.True(status == HttpStatusCode.OK, answer.ToString());
        Assert.Equal("mock_other", answer.GetProperty("replay").GetProperty("provider_id").GetString());
        var diff = answer.GetProperty("diff").GetString()!;
        Assert.Contains("-Echo: hello there", diff, StringComparison.Ordinal);
        Assert.Contains("+" + ReplayFixture.OtherReply, diff, StringComparison.Ordinal);
        Assert.StartsWith($"--- original/{id}\n+++ replay/replay-{id}-1\n", diff, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Replay_PinnedToAProviderTheTenantMayNotUse_IsNotRoutedThere()
    {
        var id = Id("barred");
        await fixture.ChatAsync(ReplayFixture.GammaKey, id, "hello");
        await fixture.KeptOnceWrittenAsync(id);

        var (status, answer) = await fixture.ReplayAsync(id, """{"provider":"mock_other"}""");

        Assert.True(status == HttpStatusCode.OK, answer.ToString());
        var replay = answer.GetProperty("replay");
        Assert.NotEqual("ok", replay.GetProperty("status").GetString());
        Assert.NotEqual("mock_other", replay.TryGetProperty("provider_id", out var provider) ? provider.GetString() : null);
    }

    [Fact]
    public async Task Replay_DryRun_AnswersTheDecisionWithoutExecuting()
    {
        var id = Id("dry");
        await fixture.ChatAsync(ReplayFixture.AcmeKey, id, "hello");
        await fixture.KeptOnceWrittenAsync(id);

        var (status, answer) = await fixture.ReplayAsync(id, """{"dry_run":true,"provider":"mock_other"}""");

        Assert.True(status == HttpStatusCode.OK, answer.ToString());
        Assert.True(answer.GetProperty("dry_run").GetBoolean());
        var decision = answer.GetProperty("decision");
        Assert.Equal(("ok", "mock_other", "pinned"), (decision.GetProperty("status").GetString(), decision.GetProperty("provider_id").GetString(),
            decision.GetProperty("reason").GetString()));
        Assert.False(answer.TryGetProperty("replay", out _));
        // Nothing ran: the first real replay is still number 1.
        var (_, real) = await fixture.ReplayAsync(id);
        Assert.Equal($"replay-{id}-1", real.GetProperty("replay").GetProperty("request_id").GetString());
    }

    [Fact]
    public async Task Replay_StreamedRequest_IsReplayedAsAStreamWithoutADiff()
    {
        var id = Id("stream");
        using (var request = new HttpRequestMessage(HttpMethod.Post, new Uri(fixture.Process.BaseAddress, "v1/chat/completions"))
        {
            Content = new StringContent($$$"""{"model":"chat","stream":true,"messages":[{"role":"user","content":"stream to {{{Email}}}"}]}""",
                Encoding.UTF8, "application/json"),
        })
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ReplayFixture.AcmeKey);
            request.Headers.Add("x-request-id", id);
            using var response = await fixture.Http.SendAsync(request);
            Assert.Contains("data:", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        await fixture.KeptOnceWrittenAsync(id);

        var (status, answer) = await fixture.ReplayAsync(id);

        Assert.True(status == HttpStatusCode.OK, answer.ToString());
        Assert.True(answer.GetProperty("original").GetProperty("stream").GetBoolean());
        Assert.Equal(JsonValueKind.Null, answer.GetProperty("original").GetProperty("output").ValueKind);
        Assert.Equal("Echo: stream to [EMAIL]", answer.GetProperty("replay").GetProperty("output").GetString());
        Assert.Equal(JsonValueKind.Null, answer.GetProperty("diff").ValueKind);
    }

    [Fact]
    public async Task Replay_TenantNotOptedIn_KeepsNothingAndAnswersNotFound()
    {
        var betaId = Id("beta");
        var acmeId = Id("after-beta");
        await fixture.ChatAsync(ReplayFixture.BetaKey, betaId, $"secret {Email}");
        // The writer keeps requests in the order they finished: once acme's later one is written, beta's would have been.
        await fixture.ChatAsync(ReplayFixture.AcmeKey, acmeId, "later");
        var rows = await fixture.KeptOnceWrittenAsync(acmeId);

        Assert.DoesNotContain(rows, row => row.Tenant == "beta");
        var (status, answer) = await fixture.ReplayAsync(betaId);
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("not_found", answer.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task Replay_WithoutTheAdminKey_IsUnauthorized()
    {
        var (status, answer) = await fixture.ReplayAsync("anything", adminKey: null);
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("unauthorized", answer.GetProperty("error").GetProperty("code").GetString());
        (status, _) = await fixture.ReplayAsync("anything", adminKey: ReplayFixture.AcmeKey);
        Assert.Equal(HttpStatusCode.Unauthorized, status);
    }

    [Fact]
    public async Task Replay_MalformedBody_IsInvalidRequest()
    {
        var (status, answer) = await fixture.ReplayAsync("anything", """{"dry_run":"yes"}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("dry_run", answer.GetProperty("error").GetProperty("details").GetProperty("field").GetString());
    }

    private Task<(int Code, string Stdout, string Stderr)> CliAsync(params string[] args)
        => ProgramRun.RunAsync("beamline", ["replay", .. args, "--url", fixture.Process.BaseAddress.ToString()]);

    [Fact]
    public async Task Cli_Replay_PrintsBothSidesAndTheDiff()
    {
        var id = Id("cli");
        await fixture.ChatAsync(ReplayFixture.AcmeKey, id, "from the command line");
        await fixture.KeptOnceWrittenAsync(id);

        var (code, stdout, stderr) = await CliAsync(id, "--admin-key", ReplayFixture.AdminKey);
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains($"request {id} (tenant acme)", stdout, StringComparison.Ordinal);
        Assert.Contains("original: provider mock_echo", stdout, StringComparison.Ordinal);
        Assert.Contains($"replay replay-{id}-1: provider mock_echo", stdout, StringComparison.Ordinal);
        Assert.Contains("diff: none (the answers are the same)", stdout, StringComparison.Ordinal);

        (code, stdout, stderr) = await CliAsync(id, "--admin-key", ReplayFixture.AdminKey, "--provider", "mock_other");
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("+" + ReplayFixture.OtherReply, stdout, StringComparison.Ordinal);
        Assert.Contains("-Echo: from the command line", stdout, StringComparison.Ordinal);

        (code, stdout, stderr) = await CliAsync(id, "--admin-key", ReplayFixture.AdminKey, "--dry-run");
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("dry run: provider mock_echo", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cli_Replay_ExitCodesSayWhatWentWrong()
    {
        var id = Id("cli-codes");
        await fixture.ChatAsync(ReplayFixture.AcmeKey, id, "hello");
        await fixture.KeptOnceWrittenAsync(id);

        // The replay itself failed: the provider is not in the catalog.
        var (code, stdout, stderr) = await CliAsync(id, "--admin-key", ReplayFixture.AdminKey, "--provider", "no_such_provider");
        Assert.True(code == 1, stdout + stderr);
        Assert.Contains("status decision_failed", stdout, StringComparison.Ordinal);

        (code, _, stderr) = await CliAsync("never-kept", "--admin-key", ReplayFixture.AdminKey);
        Assert.True(code == 3, stderr);
        Assert.Contains("not_found", stderr, StringComparison.Ordinal);

        (code, _, stderr) = await CliAsync("--admin-key", ReplayFixture.AdminKey);
        Assert.True(code == 2, stderr);
        Assert.Contains("REQUEST_ID", stderr, StringComparison.Ordinal);

        (code, _, stderr) = await CliAsync(id, "--admin-key", "wrong-key");
        Assert.True(code == 1, stderr);
        Assert.Contains("unauthorized", stderr, StringComparison.Ordinal);
    }
}
