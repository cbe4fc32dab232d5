using System.Net;
using System.Text.Json;

namespace Beamline.Host.Tests.Gateway;

/// <summary>
/// <c>POST /v1/responses</c> on a real control plane, served by either mock shape (the Responses
/// request is sent as Chat Completions or Messages, the answer comes back as a response).
/// </summary>
public sealed class ResponsesEndToEndTests(AnthropicGatewayFixture fixture) : IClassFixture<AnthropicGatewayFixture>
{
    [Theory]
    [InlineData(AnthropicGatewayFixture.OpenAIModel)]
    [InlineData(AnthropicGatewayFixture.AnthropicModel)]
    public async Task Create_ServedByEitherShape_AnswersAResponseWithOutputTextAndUsage(string model)
    {
        using var response = await fixture.PostAsync("v1/responses",
            $$"""{"model":"{{model}}","instructions":"Be brief.","input":[{"role":"user","content":[{"type":"input_text","text":"Hello Responses"}]}],"max_output_tokens":50}""",
            bearer: true);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("response", body.GetProperty("object").GetString());
        Assert.Equal("completed", body.GetProperty("status").GetString());
        Assert.Equal(model, body.GetProperty("model").GetString());
        var item = Assert.Single(body.GetProperty("output").EnumerateArray());
        Assert.Equal("message", item.GetProperty("type").GetString());
        Assert.Equal("Echo: Hello Responses", item.GetProperty("content")[0].GetProperty("text").GetString());
        Assert.Equal(4, body.GetProperty("usage").GetProperty("input_tokens").GetInt32());
        Assert.Equal(6, body.GetProperty("usage").GetProperty("output_tokens").GetInt32());
    }

    [Theory]
    [InlineData(AnthropicGatewayFixture.OpenAIModel)]
    [InlineData(AnthropicGatewayFixture.AnthropicModel)]
    public async Task CreateStreamed_ServedByEitherShape_StreamsTypedEventsEndingInCompleted(string model)
    {
        using var response = await fixture.PostAsync("v1/responses", $$"""{"model":"{{model}}","input":"stream me now","stream":true}""", bearer: true,
            completion: HttpCompletionOption.ResponseHeadersRead);
        var events = (await response.Content.ReadAsStringAsync()).Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
            .Select(e => (Name: e.Split('\n')[0]["event: ".Length..], Data: JsonDocument.Parse(e.Split('\n')[1]["data: ".Length..]).RootElement)).ToList();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"], events.Take(4).Select(e => e.Name));
        Assert.Equal(["response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed"], events.TakeLast(4).Select(e => e.Name));
        var deltas = events.Where(e => e.Name == "response.output_text.delta").Select(e => e.Data.GetProperty("delta").GetString()).ToList();
        Assert.True(deltas.Count >= 3);
        Assert.Equal("Echo: stream me now", string.Concat(deltas));
        var completed = events[^1].Data.GetProperty("response");
        Assert.Equal("Echo: stream me now", completed.GetProperty("output")[0].GetProperty("content")[0].GetProperty("text").GetString());
        Assert.Equal(4, completed.GetProperty("usage").GetProperty("input_tokens").GetInt32());
        Assert.Equal(5, completed.GetProperty("usage").GetProperty("output_tokens").GetInt32());
    }

    [Fact]
    public async Task Create_WithoutInput_Returns400InOpenAIsErrorShape()
    {
        using var response = await fixture.PostAsync("v1/responses", """{"model":"mock-gpt"}""", bearer: true);
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
    }
}
