using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Beamline.Testing;

namespace Beamline.Host.Tests.Routing;

/// <summary>
/// A provider entry the admin API accepts is one routing can read, prices included: an entry
/// routing would leave out is refused with the reason, and nothing is stored.
/// </summary>
public sealed class ProviderEntryValidatorTests(ExecuteHostFixture host) : IClassFixture<ExecuteHostFixture>, IDisposable
{
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(60) };

    public void Dispose() => _http.Dispose();

    [Theory]
    [InlineData("""{"kind":"openai","prices":{"input_per_mtok":-1}}""", "prices.input_per_mtok")]
    [InlineData("""{"kind":"openai","prices":{"models":{"gpt-4o":{"output_per_mtok":"cheap"}}}}""", "prices.models.gpt-4o.output_per_mtok")]
    [InlineData("""{"kind":"openai","default_max_tokens":0}""", "default_max_tokens")]
    [InlineData("""{"kind":"carrier-pigeon"}""", "kind")]
    public async Task PutProvider_RoutingCannotReadIt_Returns400NamingTheMemberAndStoresNothing(string entry, string member)
    {
        var id = "bad_" + Guid.NewGuid().ToString("N")[..8];

        using var response = await SendAsync(HttpMethod.Put, $"admin/v1/providers/{id}", entry);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();

        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, body.ToString());
        Assert.Equal("invalid_request", body.GetProperty("error").GetProperty("code").GetString());
        Assert.Contains(member, body.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        using var stored = await SendAsync(HttpMethod.Get, $"admin/v1/providers/{id}", null);
        Assert.Equal(HttpStatusCode.NotFound, stored.StatusCode);
    }

    [Fact]
    public async Task PutProvider_PricesPerModel_AreStoredAsGiven()
    {
        const string entry = """{"kind":"openai","model":"gpt-4o-mini","default_max_tokens":1024,"prices":{"input_per_mtok":0.15,"output_per_mtok":0.6,"cached_input_per_mtok":0.075,"per_request":0.0001,"models":{"gpt-4o":{"input_per_mtok":2.5,"output_per_mtok":10}}}}""";

        using var response = await SendAsync(HttpMethod.Put, "admin/v1/providers/priced_openai", entry);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();

        Assert.True(response.StatusCode == HttpStatusCode.OK, body.ToString());
        var prices = body.GetProperty("provider").GetProperty("prices");
        Assert.Equal(0.075m, prices.GetProperty("cached_input_per_mtok").GetDecimal());
        Assert.Equal(10m, prices.GetProperty("models").GetProperty("gpt-4o").GetProperty("output_per_mtok").GetDecimal());
    }

    private Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? json)
    {
        var request = new HttpRequestMessage(method, new Uri(host.Process.BaseAddress, path));
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ExecuteHostFixture.AdminKey);
        return _http.SendAsync(request);
    }
}
