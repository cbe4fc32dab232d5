using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace Beamline.Host.Tests.Dashboard;

/// <summary>
/// <c>/ui</c> over plain HTTP: who gets in, what a session may do (read, never write), and the
/// headers that keep the page to itself.
/// </summary>
[Collection(DashboardCollection.Name)]
public sealed class DashboardEndpointsTests(DashboardFixture fixture)
{
    [Fact]
    public async Task Page_WithoutSession_ServesTheLoginForm()
    {
        using var response = await fixture.Http.GetAsync(fixture.Url("ui"));
        var html = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("action=\"/ui/session\"", html, StringComparison.Ordinal);
        Assert.DoesNotContain("dashboard.js", html, StringComparison.Ordinal);
        Assert.True(response.Headers.CacheControl?.NoStore);
        AssertLockedDown(response);
    }

    [Fact]
    public async Task Api_WithoutSession_Returns401()
    {
        using var response = await fixture.Http.GetAsync(fixture.Url("ui/api/summary"));
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("unauthorized", (string?)body["error"]?["code"]);
    }

    [Fact]
    public async Task Api_WithMadeUpCookie_Returns401()
    {
        using var response = await GetAsync("ui/api/summary", "beamline_session=bm90LWEtcmVhbC1zZXNzaW9uLXRva2VuLWF0LWFsbA");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task Login_WithWrongKey_Returns401WithTheFormAndNoCookie()
    {
        using var response = await fixture.LoginAsync("not-the-admin-key");
        var html = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("That is not the admin key.", html, StringComparison.Ordinal);
        Assert.False(response.Headers.Contains("Set-Cookie"));
    }

    [Fact]
    public async Task Login_WithAdminKey_SetsAStrictHttpOnlySessionCookieThatIsNotTheKey()
    {
        using var response = await fixture.LoginAsync(DashboardFixture.AdminKey);

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/ui", response.Headers.Location?.OriginalString);
        var header = Assert.Single(response.Headers.GetValues("Set-Cookie"));
        Assert.StartsWith("beamline_session=", header, StringComparison.Ordinal);
        Assert.Contains("httponly", header, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", header, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("path=/", header, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(DashboardFixture.AdminKey, header, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Session_ReadsTheDashboardAndAdminViews()
    {
        using var login = await fixture.LoginAsync(DashboardFixture.AdminKey);
        var cookie = DashboardFixture.SessionCookie(login);

        using var page = await GetAsync("ui", cookie);
        using var summary = await GetAsync("ui/api/summary", cookie);
        using var tenants = await GetAsync("admin/v1/tenants", cookie);
        using var providers = await GetAsync("admin/v1/provider-stats", cookie);

        Assert.Contains("dashboard.js", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, summary.StatusCode);
        var figures = JsonNode.Parse(await summary.Content.ReadAsStringAsync())!;
        Assert.Equal(60, figures["requests"]!["history"]!.AsArray().Count);
        Assert.Equal("in_process", (string?)figures["dispatch"]!["mode"]);
        Assert.Equal(HttpStatusCode.OK, tenants.StatusCode);
        Assert.Equal(HttpStatusCode.OK, providers.StatusCode);
    }

    // A session is for reading: even a request that carries it cannot change anything.
    [Fact]
    public async Task Session_CannotWrite()
    {
        using var login = await fixture.LoginAsync(DashboardFixture.AdminKey);
        var cookie = DashboardFixture.SessionCookie(login);
        using var request = new HttpRequestMessage(HttpMethod.Post, fixture.Url("admin/v1/tenants"))
        {
            Content = new StringContent("""{"id":"intruder"}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("Cookie", cookie);

        using var response = await fixture.Http.SendAsync(request);
        using var tenants = await GetAsync("admin/v1/tenants", cookie);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.DoesNotContain("intruder", await tenants.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Logout_EndsTheSession()
    {
        using var login = await fixture.LoginAsync(DashboardFixture.AdminKey);
        var cookie = DashboardFixture.SessionCookie(login);
        using var request = new HttpRequestMessage(HttpMethod.Post, fixture.Url("ui/logout"));
        request.Headers.Add("Cookie", cookie);

        using var logout = await fixture.Http.SendAsync(request);
        using var after = await GetAsync("ui/api/summary", cookie);

        Assert.Equal(HttpStatusCode.Redirect, logout.StatusCode);
        Assert.Contains(logout.Headers.GetValues("Set-Cookie"), h => h.StartsWith("beamline_session=;", StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.Unauthorized, after.StatusCode);
    }

    [Theory]
    [InlineData("dashboard.js", "text/javascript")]
    [InlineData("dashboard.css", "text/css")]
    public async Task Asset_IsServedWithItsTypeAndAnETagThatRevalidates(string file, string mediaType)
    {
        using var first = await fixture.Http.GetAsync(fixture.Url("ui/assets/" + file));
        var etag = first.Headers.ETag;
        using var again = new HttpRequestMessage(HttpMethod.Get, fixture.Url("ui/assets/" + file));
        again.Headers.IfNoneMatch.Add(etag!);
        using var second = await fixture.Http.SendAsync(again);

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(mediaType, first.Content.Headers.ContentType?.MediaType);
        Assert.NotNull(etag);
        Assert.True(first.Headers.CacheControl?.NoCache);
        AssertLockedDown(first);
        Assert.Equal(HttpStatusCode.NotModified, second.StatusCode);
    }

    [Theory]
    [InlineData("ui/assets/nothing.js")]
    [InlineData("ui/assets/dashboard.html")] // the page itself only at /ui, behind the session
    public async Task Asset_Unknown_Returns404(string path)
    {
        using var response = await fixture.Http.GetAsync(fixture.Url(path));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    private async Task<HttpResponseMessage> GetAsync(string path, string cookie)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, fixture.Url(path));
        request.Headers.Add("Cookie", cookie);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        return await fixture.Http.SendAsync(request);
    }

    private static void AssertLockedDown(HttpResponseMessage response)
    {
        var policy = Assert.Single(response.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("default-src 'self'", policy, StringComparison.Ordinal);
        Assert.Contains("script-src 'self'", policy, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe-inline", policy, StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'none'", policy, StringComparison.Ordinal);
        Assert.Equal("nosniff", Assert.Single(response.Headers.GetValues("X-Content-Type-Options")));
    }
}
