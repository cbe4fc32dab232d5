using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Beamline.Host.Tests.Gateway;

/// <summary>
/// The OpenAI face in front of an upstream that misbehaves (<see cref="GatewayUpstream"/>): stalls,
/// connection resets, malformed answers, 429 with <c>Retry-After</c>, 5xx, a client that goes away,
/// and first-byte pass-through of a stream. Called with a plain <see cref="HttpClient"/> reading the
/// server-sent events line by line, as a proxy or a hand-written client reads them.
/// </summary>
public sealed class GatewayUpstreamFaultTests(OpenAIGatewayFixture gateway) : IClassFixture<OpenAIGatewayFixture>, IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private readonly HttpClient _http = new() { Timeout = Timeout.InfiniteTimeSpan };

    public void Dispose() => _http.Dispose();

    [Fact]
    public async Task Whole_UpstreamStalls_TimesOutAndFallsBackToTheNextProvider()
    {
        var (status, body, _) = await CallAsync("stall-fallback");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(GatewayUpstream.Reply, Content(body));
        // The timed-out attempt's connection was closed, not left open at the upstream.
        await gateway.Scenario("stall-fallback").Aborted.Task.WaitAsync(Wait);
    }

    [Fact]
    public async Task Whole_UpstreamStallsWithoutFallback_504Timeout()
    {
        var (status, body, _) = await CallAsync("stall-alone");

        Assert.Equal(HttpStatusCode.GatewayTimeout, status);
        Assert.Equal("timeout", Error(body).GetProperty("type").GetString());
    }

    [Fact]
    public async Task Whole_Upstream429WithFallback_TheFallbackAnswers()
    {
        var (status, body, _) = await CallAsync("limited-fallback");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(GatewayUpstream.Reply, Content(body));
        Assert.Equal(1, gateway.Scenario("limited-fallback").Requests);
    }

    [Fact]
    public async Task Whole_Upstream429WithoutFallback_429WithTheUpstreamsRetryAfter()
    {
        var (status, body, response) = await CallAsync("limited-alone");

        Assert.Equal(HttpStatusCode.TooManyRequests, status);
        Assert.Equal("rate_limit_error", Error(body).GetProperty("type").GetString());
        Assert.Equal(TimeSpan.FromSeconds(GatewayUpstream.RetryAfterSeconds), response.Headers.RetryAfter?.Delta);
    }

    [Fact]
    public async Task Whole_EveryProvider503_503AfterTheFallback()
    {
        var (status, body, _) = await CallAsync("down");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal("service_unavailable", Error(body).GetProperty("type").GetString());
        Assert.True(gateway.Scenario("down-b").Requests >= 1);
    }

    [Fact]
    public async Task Whole_UpstreamResetsTheConnection_502()
    {
        var (status, body, _) = await CallAsync("reset-whole");

        Assert.Equal(HttpStatusCode.BadGateway, status);
        Assert.Equal("api_error", Error(body).GetProperty("type").GetString());
    }

    [Fact]
    public async Task Whole_UpstreamAnswersTruncatedJson_502NotTheBrokenBody()
    {
        var (status, body, _) = await CallAsync("malformed-whole");

        Assert.Equal(HttpStatusCode.BadGateway, status);
        Assert.Equal("bad_upstream_answer", Error(body).GetProperty("code").GetString());
    }

    [Fact]
    public async Task Whole_ClientGoesAway_TheUpstreamCallIsCancelled()
    {
        var scenario = gateway.Scenario("abort-whole");
        using var cancel = new CancellationTokenSource();
        var call = _http.SendAsync(Request("abort-whole", stream: false), cancel.Token);
        await scenario.Received.Task.WaitAsync(Wait);

        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        // The upstream's request-aborted token fired: Beamline closed its connection to the upstream.
        await scenario.Aborted.Task.WaitAsync(Wait);
    }

    [Fact]
    public async Task Stream_UpstreamOk_EventsConcatenateToTheReplyAndEndWithDone()
    {
        using var cancel = new CancellationTokenSource(Wait);
        using var response = await _http.SendAsync(Request("ok", stream: true), HttpCompletionOption.ResponseHeadersRead, cancel.Token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var events = new SseReader(await response.Content.ReadAsStreamAsync(cancel.Token));

        var text = new StringBuilder();
        string? data;
        while ((data = await events.NextAsync(cancel.Token)) is not null and not "[DONE]")
        {
            text.Append(Delta(data));
        }

        Assert.Equal("[DONE]", data);
        Assert.Equal(GatewayUpstream.Reply, text.ToString());
        Assert.Null(await events.NextAsync(cancel.Token));
    }

    [Fact]
    public async Task Stream_UpstreamSendsOneEventThenWaits_TheClientHasItBeforeTheUpstreamGoesOn()
    {
        var scenario = gateway.Scenario("first");
        using var cancel = new CancellationTokenSource(Wait);
        using var response = await _http.SendAsync(Request("first", stream: true), HttpCompletionOption.ResponseHeadersRead, cancel.Token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var events = new SseReader(await response.Content.ReadAsStreamAsync(cancel.Token));

        // The upstream holds the rest of its stream until this test releases it: the first event
        // can only be here if Beamline passed it on without waiting for more.
        var first = await events.NextAsync(cancel.Token);
        Assert.Equal("Hello ", Delta(first!));
        Assert.False(scenario.Release.Task.IsCompleted);
        scenario.Release.TrySetResult();

        var rest = new StringBuilder();
        string? data;
        while ((data = await events.NextAsync(cancel.Token)) is not null and not "[DONE]")
        {
            rest.Append(Delta(data));
        }
        Assert.Equal("[DONE]", data);
        Assert.Equal("after the signal", rest.ToString());
    }

    [Fact]
    public async Task Stream_UpstreamResetsMidStream_TheClientGetsAnErrorEventAndTheStreamEnds()
    {
        using var cancel = new CancellationTokenSource(Wait);
        using var response = await _http.SendAsync(Request("reset-stream", stream: true), HttpCompletionOption.ResponseHeadersRead, cancel.Token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var events = new SseReader(await response.Content.ReadAsStreamAsync(cancel.Token));

        Assert.Equal("partial ", Delta((await events.NextAsync(cancel.Token))!));
        // The client has the first event: now the upstream resets its connection.
        gateway.Scenario("reset-stream").Release.TrySetResult();
        var error = await events.NextAsync(cancel.Token);
        Assert.NotNull(error);
        var body = JsonDocument.Parse(error).RootElement.GetProperty("error");
        Assert.Equal("api_error", body.GetProperty("type").GetString());
        // The stream ends there (the token above would cancel a hang).
        Assert.Null(await events.NextAsync(cancel.Token));
    }

    [Fact]
    public async Task Stream_UpstreamSendsMalformedEvents_TheClientGetsThemOrAnErrorButNoHang()
    {
        using var cancel = new CancellationTokenSource(Wait);
        using var response = await _http.SendAsync(Request("malformed-stream", stream: true), HttpCompletionOption.ResponseHeadersRead, cancel.Token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var events = new SseReader(await response.Content.ReadAsStreamAsync(cancel.Token));

        // Same API on both sides: Beamline passes the provider's events through as they are, so
        // the client's own parser meets the broken event; the stream still ends.
        var seen = new List<string>();
        string? data;
        while ((data = await events.NextAsync(cancel.Token)) is not null)
        {
            seen.Add(data);
        }
        Assert.Equal("[DONE]", seen[^1]);
        Assert.StartsWith("{\"id\":\"chatcmpl-bad\"", seen[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stream_ClientGoesAwayMidStream_TheUpstreamCallIsCancelled()
    {
        var scenario = gateway.Scenario("abort-stream");
        using var cancel = new CancellationTokenSource(Wait);
        var response = await _http.SendAsync(Request("abort-stream", stream: true), HttpCompletionOption.ResponseHeadersRead, cancel.Token);
        var events = new SseReader(await response.Content.ReadAsStreamAsync(cancel.Token));
        Assert.Equal("Hello ", Delta((await events.NextAsync(cancel.Token))!));

        // The client closes the connection in the middle of the stream.
        events.Dispose();
        response.Dispose();

        await scenario.Aborted.Task.WaitAsync(Wait);
    }

    [Fact]
    public async Task Stream_UpstreamStalls_FallsBackBeforeTheFirstChunk()
    {
        using var cancel = new CancellationTokenSource(Wait);
        using var response = await _http.SendAsync(Request("stall-fallback", stream: true), HttpCompletionOption.ResponseHeadersRead, cancel.Token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var events = new SseReader(await response.Content.ReadAsStreamAsync(cancel.Token));

        var text = new StringBuilder();
        string? data;
        while ((data = await events.NextAsync(cancel.Token)) is not null and not "[DONE]")
        {
            text.Append(Delta(data));
        }
        Assert.Equal(GatewayUpstream.Reply, text.ToString());
    }

    [Theory]
    [InlineData("limited-alone", HttpStatusCode.TooManyRequests)]
    [InlineData("down", HttpStatusCode.ServiceUnavailable)]
    public async Task Stream_UpstreamFailsBeforeTheFirstByte_AnOrdinaryErrorResponse(string model, HttpStatusCode expected)
    {
        using var cancel = new CancellationTokenSource(Wait);
        using var response = await _http.SendAsync(Request(model, stream: true), HttpCompletionOption.ResponseHeadersRead, cancel.Token);

        Assert.Equal(expected, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Error(await response.Content.ReadAsStringAsync(cancel.Token));
        if (expected == HttpStatusCode.TooManyRequests)
        {
            Assert.Equal(TimeSpan.FromSeconds(GatewayUpstream.RetryAfterSeconds), response.Headers.RetryAfter?.Delta);
        }
    }

    private HttpRequestMessage Request(string model, bool stream)
    {
        var body = new JsonObject
        {
            ["model"] = model,
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "hi" }),
        };
        if (stream)
        {
            body["stream"] = true;
        }
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(gateway.Process.BaseAddress, "v1/chat/completions"))
        {
            Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", OpenAIGatewayFixture.Key);
        return request;
    }

    private async Task<(HttpStatusCode Status, string Body, HttpResponseMessage Response)> CallAsync(string model)
    {
        using var cancel = new CancellationTokenSource(Wait);
        var response = await _http.SendAsync(Request(model, stream: false), cancel.Token);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(cancel.Token), response);
    }

    private static string? Content(string completion)
        => JsonDocument.Parse(completion).RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString();

    private static string Delta(string chunk)
    {
        var root = JsonDocument.Parse(chunk).RootElement;
        Assert.False(root.TryGetProperty("error", out _), chunk);
        return root.GetProperty("choices") is { ValueKind: JsonValueKind.Array } choices && choices.GetArrayLength() > 0
            && choices[0].GetProperty("delta").TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String
            ? content.GetString()!
            : "";
    }

    private static JsonElement Error(string body) => JsonDocument.Parse(body).RootElement.GetProperty("error").Clone();
}

/// <summary>Reads server-sent events: the <c>data</c> of each event, or null at the end of the stream.</summary>
internal sealed class SseReader(Stream stream) : IDisposable
{
    private readonly StreamReader _reader = new(stream, Encoding.UTF8);

    public async Task<string?> NextAsync(CancellationToken cancellationToken)
    {
        StringBuilder? data = null;
        while (await _reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (line.Length == 0)
            {
                if (data is not null)
                {
                    return data.ToString();
                }
                continue;
            }
            if (line.StartsWith("data:", StringComparison.Ordinal))
            {
                var value = line.AsSpan(5).TrimStart(' ');
                if (data is null)
                {
                    data = new StringBuilder().Append(value);
                }
                else
                {
                    data.Append('\n').Append(value);
                }
            }
        }
        return data?.ToString();
    }

    public void Dispose() => _reader.Dispose();
}
