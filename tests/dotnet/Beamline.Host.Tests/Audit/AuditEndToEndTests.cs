using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Beamline.Testing;
using Microsoft.Data.Sqlite;

namespace Beamline.Host.Tests.Audit;

/// <summary>
/// The audit chain as an operator and tenants meet it: a real <c>beamline serve</c>, admin changes
/// over HTTP recorded and read back page by page, tenants' keys that see only their own entries,
/// then the real <c>beamline audit verify</c> on the stopped host's data directory, before and
/// after tampering with the SQLite file.
/// </summary>
public sealed class AuditEndToEndTests : IDisposable
{
    private const string AdminKey = "test-admin-key-0123456789";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(60) };
    private readonly string _root = Directory.CreateTempSubdirectory("beamline-audit-e2e-").FullName;

    private string DataDirectory => Path.Combine(_root, "data");

    private string ConfigFile => Path.Combine(_root, "beamline.json");

    public void Dispose()
    {
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
    public async Task AdminChanges_AreAuditedPerTenant_AndTheCliCatchesTamperingAfterStop()
    {
        await WriteConfigAsync();
        Directory.CreateDirectory(DataDirectory);
        string keyA, keyB;
        const string TenantABody = """{"id":"tenant_a","name":"A"}""";
        await using (var server = await ControlPlaneProcess.StartOnDataDirectoryAsync(DataDirectory, "--config", ConfigFile))
        {
            Assert.Equal(HttpStatusCode.Created, (await SendAsync(server, HttpMethod.Post, "admin/v1/tenants", AdminKey, TenantABody)).Status);
            Assert.Equal(HttpStatusCode.Created, (await SendAsync(server, HttpMethod.Post, "admin/v1/tenants", AdminKey, """{"id":"tenant_b"}""")).Status);
            keyA = (await SendAsync(server, HttpMethod.Post, "admin/v1/tenants/tenant_a/keys", AdminKey, "{}")).Body.GetProperty("key").GetString()!;
            keyB = (await SendAsync(server, HttpMethod.Post, "admin/v1/tenants/tenant_b/keys", AdminKey, "{}")).Body.GetProperty("key").GetString()!;
            Assert.Equal(HttpStatusCode.OK, (await SendAsync(server, HttpMethod.Patch, "admin/v1/tenants/tenant_a", AdminKey, """{"name":"A2"}""")).Status);
            Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(server, HttpMethod.Delete, "admin/v1/tenants/tenant_b", null, null)).Status);
            Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(server, HttpMethod.Delete, "admin/v1/tenants/tenant_zz", AdminKey, null)).Status);

            // Entries are durable shortly after the change: read until all seven are there.
            var all = await EventuallyAsync(server, "admin/v1/audit?limit=1000", AdminKey, 7);
            Assert.Equal(Enumerable.Range(1, 7).Select(i => (long)i), all.Select(e => e.GetProperty("seq").GetInt64()));
            Assert.All(all, e => Assert.Equal("admin", e.GetProperty("kind").GetString()));
            var created = all[0];
            Assert.Equal("POST /admin/v1/tenants", created.GetProperty("action").GetString());
            Assert.Equal("201", created.GetProperty("status").GetString());
            Assert.Equal("admin", created.GetProperty("actor").GetString());
            Assert.Equal(JsonValueKind.Null, created.GetProperty("tenant_id").ValueKind);
            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(TenantABody))), created.GetProperty("request_sha256").GetString());
            Assert.DoesNotContain(all, e => e.ToString().Contains(keyA, StringComparison.Ordinal));
            Assert.Equal("tenant_a", all[2].GetProperty("tenant_id").GetString());
            Assert.Equal("POST /admin/v1/tenants/tenant_a/keys", all[2].GetProperty("action").GetString());
            var refused = all[5];
            Assert.Equal("DELETE /admin/v1/tenants/tenant_b", refused.GetProperty("action").GetString());
            Assert.Equal("401", refused.GetProperty("status").GetString());
            Assert.Equal("unauthenticated", refused.GetProperty("actor").GetString());
            // A refused attempt is not the tenant's (anyone could write into its view) and its body is not read.
            Assert.Equal(JsonValueKind.Null, refused.GetProperty("tenant_id").ValueKind);
            Assert.Equal(JsonValueKind.Null, refused.GetProperty("request_sha256").ValueKind);
            Assert.Equal("404", all[6].GetProperty("status").GetString());
            Assert.Equal(all[0].GetProperty("hash").GetString(), all[1].GetProperty("prev_hash").GetString());

            // Pages: a cursor until next_after is null.
            var (_, first) = await SendAsync(server, HttpMethod.Get, "admin/v1/audit?limit=3", AdminKey, null);
            Assert.Equal(3, first.GetProperty("next_after").GetInt64());
            var (_, last) = await SendAsync(server, HttpMethod.Get, "admin/v1/audit?limit=3&after=6", AdminKey, null);
            Assert.Single(last.GetProperty("entries").EnumerateArray());
            Assert.Equal(JsonValueKind.Null, last.GetProperty("next_after").ValueKind);

            // One tenant: by the admin's filter, or by the tenant's own key; never another's.
            var adminA = Entries((await SendAsync(server, HttpMethod.Get, "admin/v1/audit?tenant=tenant_a", AdminKey, null)).Body);
            Assert.Equal([3L, 5L], adminA.Select(e => e.GetProperty("seq").GetInt64()));
            var byTenantId = Entries((await SendAsync(server, HttpMethod.Get, "admin/v1/audit?tenant_id=tenant_a", AdminKey, null)).Body);
            Assert.Equal(adminA.Select(e => e.ToString()), byTenantId.Select(e => e.ToString()));
            var (okA, ownA) = await SendAsync(server, HttpMethod.Get, "v1/audit", keyA, null);
            Assert.Equal(HttpStatusCode.OK, okA);
            Assert.Equal(adminA.Select(e => e.ToString()), Entries(ownA).Select(e => e.ToString()));
            var ownB = Entries((await SendAsync(server, HttpMethod.Get, "v1/audit?kind=admin", keyB, null)).Body);
            Assert.NotEmpty(ownB);
            Assert.All(ownB, e => Assert.Equal("tenant_b", e.GetProperty("tenant_id").GetString()));
            Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(server, HttpMethod.Get, "v1/audit?tenant=tenant_b", keyA, null)).Status);
            Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(server, HttpMethod.Get, "admin/v1/audit?tenant=tenant_b", keyA, null)).Status);
            Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(server, HttpMethod.Get, "admin/v1/audit", null, null)).Status);
            Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(server, HttpMethod.Get, "v1/audit", "bl_not_a_key", null)).Status);
            var (badStatus, bad) = await SendAsync(server, HttpMethod.Get, "admin/v1/audit?limit=0", AdminKey, null);
            Assert.Equal(HttpStatusCode.BadRequest, badStatus);
            Assert.Equal("limit", bad.GetProperty("error").GetProperty("details").GetProperty("field").GetString());

            server.Process.Terminate();
            Assert.Equal(0, await server.Process.WaitForExitAsync(Wait));
        }

        var intact = await ProgramRun.RunAsync("beamline", "audit", "verify", "--data-dir", DataDirectory);
        Assert.True(intact.Code == 0, intact.Stdout + intact.Stderr);
        Assert.StartsWith("audit log intact: 7 entries, head 7 ", intact.Stdout, StringComparison.Ordinal);

        using (var connection = new SqliteConnection($"Data Source={Path.Combine(DataDirectory, "audit.db")};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "UPDATE audit SET status = '200' WHERE seq = 6;";
            Assert.Equal(1, command.ExecuteNonQuery());
        }
        var broken = await ProgramRun.RunAsync("beamline", "audit", "verify", "--data-dir", DataDirectory);
        Assert.Equal(1, broken.Code);
        Assert.StartsWith("audit log broken at entry 6: ", broken.Stdout, StringComparison.Ordinal);

        var usage = await ProgramRun.RunAsync("beamline", "audit", "verify");
        Assert.Equal(2, usage.Code);
        var missing = await ProgramRun.RunAsync("beamline", "audit", "verify", "--data-dir", _root);
        Assert.Equal(2, missing.Code);
    }

    [Fact]
    public async Task Head_IsPublishedOnNatsAfterAChange()
    {
        await using var nats = await NatsServer.StartAsync();
        await WriteConfigAsync();
        await using var client = await NatsTestClient.ConnectAsync(nats.Url);
        await using var heads = await client.CollectAsync("beamline.audit.v1.head");
        await using var server = await ControlPlaneProcess.StartAsync("--config", ConfigFile, "--nats", nats.Url);

        Assert.Equal(HttpStatusCode.Created, (await SendAsync(server, HttpMethod.Post, "admin/v1/tenants", AdminKey, """{"id":"tenant_n"}""")).Status);

        var message = await heads.WaitForAsync(m => JsonDocument.Parse(m.Data!).RootElement.GetProperty("seq").GetInt64() >= 1, Wait);
        var head = JsonDocument.Parse(message.Data!).RootElement;
        var entry = (await EventuallyAsync(server, "admin/v1/audit", AdminKey, 1))[0];
        Assert.Equal(entry.GetProperty("hash").GetString(), head.GetProperty("hash").GetString());
        Assert.Equal(3, head.EnumerateObject().Count()); // seq, hash, time: nothing of the entry itself
    }

    private async Task WriteConfigAsync()
    {
        var config = new JsonObject
        {
            ["Beamline"] = new JsonObject
            {
                ["Tenancy"] = new JsonObject
                {
                    ["AdminKey"] = AdminKey,
                    ["Pepper"] = "test-pepper-0123456789abcdef",
                },
            },
        };
        await File.WriteAllTextAsync(ConfigFile, config.ToJsonString());
    }

    private async Task<List<JsonElement>> EventuallyAsync(ControlPlaneProcess server, string path, string key, int count)
    {
        using var timeout = new CancellationTokenSource(Wait);
        while (true)
        {
            var entries = Entries((await SendAsync(server, HttpMethod.Get, path, key, null)).Body);
            if (entries.Count >= count)
            {
                return entries;
            }
            await Task.Delay(50, timeout.Token);
        }
    }

    private static List<JsonElement> Entries(JsonElement page) => [.. page.GetProperty("entries").EnumerateArray()];

    private async Task<(HttpStatusCode Status, JsonElement Body)> SendAsync(ControlPlaneProcess server, HttpMethod method, string path, string? key, string? json)
    {
        using var request = new HttpRequestMessage(method, new Uri(server.BaseAddress, path));
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
}
