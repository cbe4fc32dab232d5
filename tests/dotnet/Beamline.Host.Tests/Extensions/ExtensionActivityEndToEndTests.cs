using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;

namespace Beamline.Host.Tests.Extensions;

/// <summary>
/// <c>GET /admin/v1/activity/stream</c> while executes with NATS extensions run: the operator
/// sees each extension step with its outcome, the provider attempt and the outcome of the request.
/// </summary>
[Collection(ExtensionsOverNatsCollection.Name)]
public sealed class ExtensionActivityEndToEndTests(ExtensionsOverNatsFixture host) : IDisposable
{
    private const string Payload = """{"messages":[{"role":"user","content":"hi"}]}""";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private readonly HttpClient _stream = new() { Timeout = Timeout.InfiniteTimeSpan };
    private readonly Cp1Client _client = new(host.Server, ExtensionsOverNatsFixture.Tenant, ExtensionsOverNatsFixture.Key, host.Nats.Url);

    public void Dispose()
    {
        _client.Dispose();
        _stream.Dispose();
    }

    [Fact]
    public async Task Stream_WhileAnExecuteWithExtensionsRuns_ShowsItsExtensionStepsProviderAttemptAndFinal()
    {
        using var cancel = new CancellationTokenSource(Wait);
        using var reader = await OpenAsync(cancel.Token);

        var requestId = $"activity-ext-{Guid.NewGuid():N}";
        var (status, body) = await _client.ExecuteAsync("activity", Payload, requestId);
        Assert.Equal(HttpStatusCode.OK, status);
        // The post (node 'inspect') answers with the request it was sent: the echoed payload as the pre rewrote it.
        Assert.Equal("node", JsonNode.Parse(Cp1Client.Output(body))!["payload"]!["rewritten_by"]!.GetValue<string>());

        var events = await ReadUntilFinalAsync(reader, requestId, cancel.Token);

        // In pipeline order: pre, validators, the provider, post (which changed the answer), the outcome.
        Assert.Equal(
            [
                "extension:pre:act_pre:ok",
                "extension:validator:act_val:ok",
                "provider_attempt:-:echo_cpu:ok",
                "extension:post:act_post:ok",
                "post_change:post:act_post:ok",
                "final:-:echo_cpu:ok",
            ],
            Steps(events));
        Assert.All(events.Where(e => e["kind"]!.GetValue<string>() == "extension"), e => Assert.NotNull(e["latency_ms"]));
        Assert.Equal("trace-ext", events[^1]["trace_id"]!.GetValue<string>());
    }

    [Fact]
    public async Task Stream_FailingAndRejectingExtensions_ShowEachStepsOutcome()
    {
        using var cancel = new CancellationTokenSource(Wait);
        using var reader = await OpenAsync(cancel.Token);

        var passedId = $"activity-failing-{Guid.NewGuid():N}";
        var (passed, _) = await _client.ExecuteAsync("activity_failing", Payload, passedId);
        Assert.Equal(HttpStatusCode.OK, passed);
        var passedEvents = await ReadUntilFinalAsync(reader, passedId, cancel.Token);

        var blockedId = $"activity-blocked-{Guid.NewGuid():N}";
        var (blocked, _) = await _client.ExecuteAsync("activity_blocked", Payload, blockedId);
        Assert.Equal(HttpStatusCode.Forbidden, blocked);
        var blockedEvents = await ReadUntilFinalAsync(reader, blockedId, cancel.Token);

        // Optional pres that fail are skipped (the request goes on); a warning validator's reject lets it through.
        Assert.Equal(
            [
                "extension:pre:act_pre_dead:unavailable",
                "extension:pre:act_pre_slow:timeout",
                "extension:pre:act_pre_malformed:malformed",
                "extension:validator:act_val_reject:reject",
                "provider_attempt:-:echo_cpu:ok",
                "final:-:echo_cpu:ok",
            ],
            Steps(passedEvents));
        // A blocking one ends the request before any provider is called.
        Assert.Equal(["extension:validator:act_val_reject:reject", "final:-:-:validator_blocked"], Steps(blockedEvents));
    }

    private async Task<StreamReader> OpenAsync(CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get,
            new Uri(host.Server.BaseAddress, $"admin/v1/activity/stream?tenant_id={ExtensionsOverNatsFixture.Tenant}"));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ExtensionsOverNatsFixture.AdminKey);
        var response = await _stream.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        // The reader owns the response stream; disposing it ends the stream.
        var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken));
        Assert.Equal(": connected", await reader.ReadLineAsync(cancellationToken));
        return reader;
    }

    /// <summary>The events of <paramref name="requestId"/>, up to and with its <c>final</c>; the other requests' are passed over.</summary>
    private static async Task<List<JsonNode>> ReadUntilFinalAsync(StreamReader reader, string requestId, CancellationToken cancellationToken)
    {
        var events = new List<JsonNode>();
        while (events.Count == 0 || events[^1]["kind"]!.GetValue<string>() != "final")
        {
            var line = await reader.ReadLineAsync(cancellationToken);
            Assert.NotNull(line);
            if (!line.StartsWith("data: ", StringComparison.Ordinal))
            {
                continue;
            }
            var data = JsonNode.Parse(line["data: ".Length..])!;
            Assert.Equal(ExtensionsOverNatsFixture.Tenant, data["tenant_id"]!.GetValue<string>());
            if (data["request_id"]!.GetValue<string>() == requestId)
            {
                events.Add(data);
            }
        }
        return events;
    }

    /// <summary><c>kind:stage:subject:status</c> of each event after <c>received</c> and <c>decision</c>.</summary>
    private static string[] Steps(List<JsonNode> events) => events
        .Where(e => e["kind"]!.GetValue<string>() is not ("received" or "decision"))
        .Select(e => string.Join(':', new[] { "kind", "stage", "subject", "status" }.Select(name => e[name]?.GetValue<string>() ?? "-")))
        .ToArray();
}
