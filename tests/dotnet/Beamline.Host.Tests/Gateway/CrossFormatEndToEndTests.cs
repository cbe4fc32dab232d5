using System.Net;
using System.Text;
using System.Text.Json;

namespace Beamline.Host.Tests.Gateway;

/// <summary>
/// The OpenAI face served by the Anthropic-shaped mock, read as a plain HTTP client reads it:
/// the answer and the stream come back in the Chat Completions shape.
/// </summary>
public sealed class CrossFormatEndToEndTests(AnthropicGatewayFixture fixture) : IClassFixture<AnthropicGatewayFixture>
{
    [Fact]
    public async Task ChatCompletions_ServedByAnthropicShapedMock_AnswersAChatCompletion()
    {
        using var response = await fixture.PostAsync("v1/chat/completions",
            """{"model":"mock-claude","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hello via OpenAI"}]}""", bearer: true);
        var completion = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("chat.completion", completion.GetProperty("object").GetString());
        Assert.StartsWith("msg_mock_", completion.GetProperty("id").GetString(), StringComparison.Ordinal);
        Assert.Equal("mock-claude", completion.GetProperty("model").GetString());
        var choice = completion.GetProperty("choices")[0];
        Assert.Equal("Echo: Hello via OpenAI", choice.GetProperty("message").GetProperty("content").GetString());
        Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
        Assert.Equal(4, completion.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(6, completion.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task ChatCompletionsStream_ServedByAnthropicShapedMock_StreamsChunksUsageAndDone()
    {
        using var response = await fixture.PostAsync("v1/chat/completions",
            """{"model":"mock-claude","stream":true,"messages":[{"role":"user","content":"one two three four"}]}""", bearer: true,
            completion: HttpCompletionOption.ResponseHeadersRead);
        var lines = (await response.Content.ReadAsStringAsync()).Split('\n').Where(l => l.StartsWith("data: ", StringComparison.Ordinal)).Select(l => l[6..]).ToList();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("[DONE]", lines[^1]);
        var chunks = lines.Take(lines.Count - 1).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.All(chunks, c => Assert.Equal("chat.completion.chunk", c.GetProperty("object").GetString()));
        Assert.Equal("assistant", chunks[0].GetProperty("choices")[0].GetProperty("delta").GetProperty("role").GetString());
        var text = new StringBuilder();
        foreach (var chunk in chunks.Where(c => c.GetProperty("choices").GetArrayLength() > 0))
        {
            if (chunk.GetProperty("choices")[0].GetProperty("delta").TryGetProperty("content", out var content))
            {
                text.Append(content.GetString());
            }
        }
        Assert.Equal("Echo: one two three four", text.ToString());
        Assert.Single(chunks, c => c.GetProperty("choices").GetArrayLength() > 0 && c.GetProperty("choices")[0].GetProperty("finish_reason").GetString() == "stop");
        Assert.Equal(11, chunks[^1].GetProperty("usage").GetProperty("total_tokens").GetInt32());
    }

    [Fact]
    public async Task Messages_ServedByOpenAIShapedMock_StreamsAnthropicEventsInOrder()
    {
        using var response = await fixture.PostAsync("v1/messages",
            """{"model":"mock-gpt","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"raw stream"}]}""",
            completion: HttpCompletionOption.ResponseHeadersRead);
        var names = (await response.Content.ReadAsStringAsync()).Split('\n').Where(l => l.StartsWith("event: ", StringComparison.Ordinal)).Select(l => l[7..]).ToList();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("message_start", names[0]);
        Assert.Equal(["content_block_stop", "message_delta", "message_stop"], names.TakeLast(3));
        Assert.DoesNotContain("error", names);
    }
}
