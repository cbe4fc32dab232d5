using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Beamline.Testing;

namespace Beamline.Host.Tests.Extensions;

/// <summary>
/// The extension registry's admin API as an operator uses it: a real <c>beamline serve</c> whose
/// <c>Beamline:Extensions:Directory</c> holds the upstream CP1 entry files, asked over HTTP with
/// and without the admin key; changes are live without a restart and survive one.
/// </summary>
public sealed class ExtensionAdminEndToEndTests(ExtensionAdminHostFixture host) : IClassFixture<ExtensionAdminHostFixture>, IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(60) };

    public void Dispose() => _http.Dispose();

    [Fact]
    public async Task List_DirectoryOfUpstreamFiles_ListsEveryEntryWithItsSource()
    {
        var (status, body) = await AdminAsync(host.Server, HttpMethod.Get, "admin/v1/extensions");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(body.GetProperty("ok").GetBoolean());
        var extensions = body.GetProperty("extensions").EnumerateArray().ToDictionary(e => e.GetProperty("id").GetString()!);
        foreach (var id in new[] { "mask_pii", "normalize_text", "pii_guard", "test_provider" })
        {
            Assert.Equal("directory", extensions[id].GetProperty("source").GetString());
            Assert.EndsWith(id + ".json", extensions[id].GetProperty("file").GetString(), StringComparison.Ordinal);
        }
        var guard = extensions["pii_guard"];
        Assert.Equal("validator", guard.GetProperty("type").GetString());
        Assert.Equal("beamline.ext.validate.pii_guard.v1", guard.GetProperty("subject").GetString());
        Assert.Equal(200, guard.GetProperty("timeout_ms").GetInt32());
        Assert.Equal("PII detection validator", guard.GetProperty("metadata").GetProperty("description").GetString());
        Assert.Equal(1, extensions["test_provider"].GetProperty("retry").GetInt32());
        Assert.False(extensions.ContainsKey("zz_broken"));
        Assert.Contains("zz_broken.json", host.Server.Process.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("GET", "admin/v1/extensions", null)]
    [InlineData("GET", "admin/v1/extensions/pii_guard", null)]
    [InlineData("PUT", "admin/v1/extensions/sneaky", """{"type":"pre"}""")]
    [InlineData("DELETE", "admin/v1/extensions/pii_guard", null)]
    public async Task AnyRequest_WithoutOrWithAWrongAdminKey_IsUnauthorized(string method, string path, string? json)
    {
        foreach (var key in new[] { null, "wrong-admin-key-0123456789" })
        {
            var (status, body) = await SendAsync(host.Server, new HttpMethod(method), path, json, key);

            Assert.Equal(HttpStatusCode.Unauthorized, status);
            AssertError(body, "unauthorized", null);
        }
        var (_, after) = await AdminAsync(host.Server, HttpMethod.Get, "admin/v1/extensions");
        Assert.DoesNotContain(after.GetProperty("extensions").EnumerateArray(), e => e.GetProperty("id").GetString() == "sneaky");
        Assert.Equal(HttpStatusCode.OK, (await AdminAsync(host.Server, HttpMethod.Get, "admin/v1/extensions/pii_guard")).Status);
    }

    [Fact]
    public async Task PutGetDelete_NewEntry_IsLiveAtOnceWithoutARestart()
    {
        var (put, stored) = await AdminAsync(host.Server, HttpMethod.Put, "admin/v1/extensions/add_tags",
            """{"id":"add_tags","type":"pre","subject":"beamline.ext.pre.add_tags.v1","timeout_ms":80,"retry":2,"config":{"tags":["a"]},"future_field":1}""");

        Assert.Equal(HttpStatusCode.OK, put);
        var extension = stored.GetProperty("extension");
        Assert.Equal("admin", extension.GetProperty("source").GetString());
        Assert.Equal(80, extension.GetProperty("timeout_ms").GetInt32());
        Assert.False(extension.TryGetProperty("future_field", out _));

        var (get, got) = await AdminAsync(host.Server, HttpMethod.Get, "admin/v1/extensions/add_tags");
        Assert.Equal(HttpStatusCode.OK, get);
        Assert.Equal("a", got.GetProperty("extension").GetProperty("config").GetProperty("tags")[0].GetString());
        Assert.Equal(2, got.GetProperty("extension").GetProperty("retry").GetInt32());

        var (delete, deleted) = await AdminAsync(host.Server, HttpMethod.Delete, "admin/v1/extensions/add_tags");
        Assert.Equal(HttpStatusCode.OK, delete);
        Assert.True(deleted.GetProperty("ok").GetBoolean());

        var (gone, error) = await AdminAsync(host.Server, HttpMethod.Get, "admin/v1/extensions/add_tags");
        Assert.Equal(HttpStatusCode.NotFound, gone);
        AssertError(error, "extension_not_found", "id");
    }

    [Fact]
    public async Task Put_WithoutIdInTheBody_TakesThePathId()
    {
        var (status, body) = await AdminAsync(host.Server, HttpMethod.Put, "admin/v1/extensions/builtin_only", """{"type":"post","enabled":false}""");

        Assert.Equal(HttpStatusCode.OK, status);
        var extension = body.GetProperty("extension");
        Assert.Equal("builtin_only", extension.GetProperty("id").GetString());
        Assert.Equal(JsonValueKind.Null, extension.GetProperty("subject").ValueKind);
        Assert.Equal(100, extension.GetProperty("timeout_ms").GetInt32());
        Assert.False(extension.GetProperty("enabled").GetBoolean());
    }

    [Fact]
    public async Task Put_OverDirectoryEntry_OverridesIt_AndDeleteBringsTheFileEntryBack()
    {
        var (put, stored) = await AdminAsync(host.Server, HttpMethod.Put, "admin/v1/extensions/mask_pii",
            """{"type":"post","subject":"beamline.ext.post.mask_pii.v2","timeout_ms":400}""");

        Assert.Equal(HttpStatusCode.OK, put);
        Assert.Equal("admin", stored.GetProperty("extension").GetProperty("source").GetString());
        Assert.EndsWith("mask_pii.json", stored.GetProperty("extension").GetProperty("overrides_file").GetString(), StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.OK, (await AdminAsync(host.Server, HttpMethod.Delete, "admin/v1/extensions/mask_pii")).Status);

        var (_, back) = await AdminAsync(host.Server, HttpMethod.Get, "admin/v1/extensions/mask_pii");
        Assert.Equal("directory", back.GetProperty("extension").GetProperty("source").GetString());
        Assert.Equal(150, back.GetProperty("extension").GetProperty("timeout_ms").GetInt32());
    }

    [Theory]
    [InlineData("x1", "{oops", null)]
    [InlineData("x1", "[1]", null)]
    [InlineData("x1", """{"id":"other","type":"pre"}""", "id")]
    [InlineData("x1", """{"id":"x1"}""", "type")]
    [InlineData("x1", """{"type":"filter"}""", "type")]
    [InlineData("x1", """{"type":"pre","subject":"beamline.ext.>"}""", "subject")]
    [InlineData("x1", """{"type":"pre","subject":"a..b"}""", "subject")]
    [InlineData("x1", """{"type":"pre","timeout_ms":0}""", "timeout_ms")]
    [InlineData("x1", """{"type":"pre","timeout_ms":60001}""", "timeout_ms")]
    [InlineData("x1", """{"type":"pre","retry":6}""", "retry")]
    [InlineData("x1", """{"type":"pre","enabled":"yes"}""", "enabled")]
    [InlineData("x1", """{"type":"pre","config":[]}""", "config")]
    [InlineData("a.b", """{"type":"pre"}""", "id")]
    [InlineData("health", """{"type":"pre"}""", "id")]
    public async Task Put_InvalidEntry_IsInvalidRequestNamingTheField(string id, string json, string? field)
    {
        var (status, body) = await AdminAsync(host.Server, HttpMethod.Put, $"admin/v1/extensions/{id}", json);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        AssertError(body, "invalid_request", field);
        var (_, list) = await AdminAsync(host.Server, HttpMethod.Get, "admin/v1/extensions");
        Assert.DoesNotContain(list.GetProperty("extensions").EnumerateArray(), e => e.GetProperty("id").GetString() == id);
    }

    [Fact]
    public async Task Delete_EntryOnlyFromADirectoryFile_IsAConflictNamingTheFile()
    {
        var (status, body) = await AdminAsync(host.Server, HttpMethod.Delete, "admin/v1/extensions/normalize_text");

        Assert.Equal(HttpStatusCode.Conflict, status);
        AssertError(body, "invalid_request", "id");
        Assert.Contains("normalize_text.json", body.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await AdminAsync(host.Server, HttpMethod.Get, "admin/v1/extensions/normalize_text")).Status);
    }

    [Fact]
    public async Task DeleteOrGet_UnknownEntry_IsExtensionNotFound()
    {
        var (delete, deleted) = await AdminAsync(host.Server, HttpMethod.Delete, "admin/v1/extensions/never_there");
        var (get, got) = await AdminAsync(host.Server, HttpMethod.Get, "admin/v1/extensions/never_there");

        Assert.Equal(HttpStatusCode.NotFound, delete);
        AssertError(deleted, "extension_not_found", "id");
        Assert.Equal(HttpStatusCode.NotFound, get);
        AssertError(got, "extension_not_found", "id");
    }

    [Fact]
    public async Task GetHealth_IsTheHealthView_NotAnEntryNamedHealth()
    {
        var (status, body) = await AdminAsync(host.Server, HttpMethod.Get, "admin/v1/extensions/health");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(body.GetProperty("ok").GetBoolean());
        Assert.False(body.TryGetProperty("extension", out _));
    }

    [Fact]
    public async Task DirectoryFile_AddedWhileServing_IsListedWithoutARestart()
    {
        await File.WriteAllTextAsync(Path.Combine(host.ExtensionsDirectory, "late_arrival.json"),
            """{"id":"late_arrival","type":"post","subject":"beamline.ext.post.late_arrival.v1","timeout_ms":120,"retry":0,"enabled":true,"config":{},"metadata":{}}""");

        var deadline = DateTime.UtcNow + Wait;
        JsonElement body;
        HttpStatusCode status;
        do
        {
            await Task.Delay(100);
            (status, body) = await AdminAsync(host.Server, HttpMethod.Get, "admin/v1/extensions/late_arrival");
        }
        while (status != HttpStatusCode.OK && DateTime.UtcNow < deadline);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("directory", body.GetProperty("extension").GetProperty("source").GetString());
    }

    [Fact]
    public async Task StoredEntries_SurviveARestartOnTheSameDataDirectory()
    {
        var dataDirectory = Directory.CreateTempSubdirectory("beamline-data-").FullName;
        try
        {
            await using (var first = await ControlPlaneProcess.StartOnDataDirectoryAsync(dataDirectory, "--config", host.ConfigFile))
            {
                Assert.Equal(HttpStatusCode.OK, (await AdminAsync(first, HttpMethod.Put, "admin/v1/extensions/kept",
                    """{"type":"validator","subject":"beamline.ext.validate.kept.v1","timeout_ms":300,"config":{"level":"strict"}}""")).Status);
                Assert.Equal(HttpStatusCode.OK, (await AdminAsync(first, HttpMethod.Put, "admin/v1/extensions/pii_guard",
                    """{"type":"validator","subject":"beamline.ext.validate.pii_guard.v2","timeout_ms":250}""")).Status);
                Assert.Equal(HttpStatusCode.OK, (await AdminAsync(first, HttpMethod.Put, "admin/v1/extensions/dropped", """{"type":"pre"}""")).Status);
                Assert.Equal(HttpStatusCode.OK, (await AdminAsync(first, HttpMethod.Delete, "admin/v1/extensions/dropped")).Status);
            }

            await using var second = await ControlPlaneProcess.StartOnDataDirectoryAsync(dataDirectory, "--config", host.ConfigFile);

            var (status, kept) = await AdminAsync(second, HttpMethod.Get, "admin/v1/extensions/kept");
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Equal("admin", kept.GetProperty("extension").GetProperty("source").GetString());
            Assert.Equal("strict", kept.GetProperty("extension").GetProperty("config").GetProperty("level").GetString());
            var (_, guard) = await AdminAsync(second, HttpMethod.Get, "admin/v1/extensions/pii_guard");
            Assert.Equal("beamline.ext.validate.pii_guard.v2", guard.GetProperty("extension").GetProperty("subject").GetString());
            Assert.Equal("admin", guard.GetProperty("extension").GetProperty("source").GetString());
            Assert.Equal(HttpStatusCode.NotFound, (await AdminAsync(second, HttpMethod.Get, "admin/v1/extensions/dropped")).Status);
            Assert.True(File.Exists(Path.Combine(dataDirectory, "extensions", "kept.json")));
        }
        finally
        {
            Directory.Delete(dataDirectory, recursive: true);
        }
    }

    private static void AssertError(JsonElement body, string code, string? field)
    {
        Assert.False(body.GetProperty("ok").GetBoolean(), body.ToString());
        var error = body.GetProperty("error");
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
        if (field is null)
        {
            Assert.False(error.GetProperty("details").TryGetProperty("field", out _), body.ToString());
        }
        else
        {
            Assert.Equal(field, error.GetProperty("details").GetProperty("field").GetString());
        }
    }

    private Task<(HttpStatusCode Status, JsonElement Body)> AdminAsync(ControlPlaneProcess server, HttpMethod method, string path, string? json = null)
        => SendAsync(server, method, path, json, ExtensionAdminHostFixture.AdminKey);

    private async Task<(HttpStatusCode Status, JsonElement Body)> SendAsync(ControlPlaneProcess server, HttpMethod method, string path, string? json, string? adminKey)
    {
        using var request = new HttpRequestMessage(method, new Uri(server.BaseAddress, path));
        if (adminKey is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", adminKey);
        }
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }
        using var response = await _http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return (response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }
}

/// <summary>One control plane whose extension directory is a copy of the upstream CP1 entry files.</summary>
public sealed class ExtensionAdminHostFixture : IAsyncLifetime
{
    internal const string AdminKey = "test-admin-key-0123456789";

    private readonly string _root = Directory.CreateTempSubdirectory("beamline-ext-admin-").FullName;

    public ControlPlaneProcess Server { get; private set; } = null!;

    public string ExtensionsDirectory => Path.Combine(_root, "extensions");

    public string ConfigFile => Path.Combine(_root, "beamline.json");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(ExtensionsDirectory);
        foreach (var file in Directory.GetFiles(Path.Combine(Cp1Fixtures.Root, "extensions"), "*.json"))
        {
            File.Copy(file, Path.Combine(ExtensionsDirectory, Path.GetFileName(file)));
        }
        // A bad file is logged and skipped: the host starts and serves the others.
        await File.WriteAllTextAsync(Path.Combine(ExtensionsDirectory, "zz_broken.json"), """{"id":"zz_broken","type":"pre","retry":99}""");
        var config = new JsonObject
        {
            ["Beamline"] = new JsonObject
            {
                ["Tenancy"] = new JsonObject
                {
                    ["AdminKey"] = AdminKey,
                    ["Pepper"] = "test-pepper-0123456789abcdef",
                },
                ["Extensions"] = new JsonObject
                {
                    ["Directory"] = ExtensionsDirectory,
                    ["ReloadDelay"] = "00:00:00.100",
                },
            },
        };
        await File.WriteAllTextAsync(ConfigFile, config.ToJsonString());
        Server = await ControlPlaneProcess.StartAsync("--config", ConfigFile);
    }

    public async Task DisposeAsync()
    {
        if (Server is not null)
        {
            await Server.DisposeAsync();
        }
        Directory.Delete(_root, recursive: true);
    }
}
