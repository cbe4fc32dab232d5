using System.ClientModel;
using System.ClientModel.Primitives;
using System.Net.Http;
using System.Text;
using Anthropic;
using Anthropic.Models.Messages;
using OpenAI;
using OpenAI.Chat;

namespace Beamline.Host.Tests.Gateway;

/// <summary>
/// Post extensions over a streamed gateway answer: a policy with <c>mask_pii</c> masks the e-mail
/// address and the phone number split across four events in the answer's text, and the official
/// SDKs still read the stream — on the OpenAI and the Anthropic face, from a provider answering in
/// the client's API or in the other one.
/// </summary>
public sealed class StreamPostEndToEndTests(AnthropicGatewayFixture fixture) : IClassFixture<AnthropicGatewayFixture>
{
    private const string Masked = "Write to [EMAIL] or call [PHONE] now";

    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData("masked")]
    [InlineData("masked-claude")]
    public async Task OpenAISdk_StreamedAnswerUnderMaskPii_IsMaskedAndEndsWithItsFinishReason(string policy)
    {
        var client = new OpenAIClient(new ApiKeyCredential(AnthropicGatewayFixture.TenantKey), new OpenAIClientOptions
        {
            Endpoint = new Uri(fixture.BaseUrl + "/v1"),
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
            NetworkTimeout = Wait,
        });
        var text = new StringBuilder();
        ChatFinishReason? finish = null;
        using var cancel = new CancellationTokenSource(Wait);
        await foreach (var update in client.GetChatClient(policy).CompleteChatStreamingAsync([new UserChatMessage("Who do I write to?")], cancellationToken: cancel.Token))
        {
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }
            finish ??= update.FinishReason;
        }

        Assert.Equal(Masked, text.ToString());
        Assert.Equal(ChatFinishReason.Stop, finish);
    }

    [Theory]
    [InlineData("masked")]
    [InlineData("masked-openai")]
    public async Task AnthropicSdk_StreamedAnswerUnderMaskPii_IsMaskedAndEndsWithItsStopReason(string policy)
    {
        var client = new AnthropicClient { ApiKey = AnthropicGatewayFixture.TenantKey, BaseUrl = fixture.BaseUrl, MaxRetries = 0 };
        var text = new StringBuilder();
        string? stopReason = null;
        var stopped = false;
        await foreach (var item in client.Messages.CreateStreaming(new MessageCreateParams
        {
            Model = policy,
            MaxTokens = 256,
            Messages = [new UserMessageParam("Who do I write to?")],
        }))
        {
            if (item.TryPickContentBlockDelta(out var delta) && delta.Delta.TryPickText(out var piece))
            {
                text.Append(piece.Text);
            }
            else if (item.TryPickDelta(out var messageDelta))
            {
                stopReason = messageDelta.Delta.StopReason?.Raw();
            }
            else if (item.TryPickStop(out _))
            {
                stopped = true;
            }
        }

        Assert.Equal(Masked, text.ToString());
        Assert.Equal("end_turn", stopReason);
        Assert.True(stopped);
    }

    [Theory]
    [InlineData("v1/chat/completions", """{"model":"masked","stream":true,"messages":[{"role":"user","content":"x"}]}""", "data: [DONE]")]
    [InlineData("v1/messages", """{"model":"masked","stream":true,"max_tokens":64,"messages":[{"role":"user","content":"x"}]}""", "event: message_stop")]
    public async Task StreamedAnswerUnderMaskPii_NeverCarriesTheAddressOrTheNumber(string path, string body, string last)
    {
        using var response = await fixture.PostAsync(path, body, bearer: true, completion: HttpCompletionOption.ResponseHeadersRead);
        var stream = await response.Content.ReadAsStringAsync();

        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.DoesNotContain("bob@", stream, StringComparison.Ordinal);
        Assert.DoesNotContain("example.com", stream, StringComparison.Ordinal);
        Assert.DoesNotContain("2671", stream, StringComparison.Ordinal);
        Assert.Contains("[EMAIL]", stream, StringComparison.Ordinal);
        Assert.Contains("[PHONE]", stream, StringComparison.Ordinal);
        Assert.StartsWith(last, stream.TrimEnd().Split("\n\n")[^1], StringComparison.Ordinal);
    }
}
