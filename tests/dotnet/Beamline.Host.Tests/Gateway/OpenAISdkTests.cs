using System.ClientModel;
using System.ClientModel.Primitives;
using System.Text;
using System.Text.Json;
using OpenAI;
using OpenAI.Chat;
using OpenAI.Embeddings;
using OpenAI.Models;

namespace Beamline.Host.Tests.Gateway;

/// <summary>
/// The official OpenAI .NET SDK (NuGet <c>OpenAI</c>) pointed at a real <c>beamline serve</c> with a
/// tenant key, as a user changes only the endpoint and the key: whole and streamed chat, tool
/// calls from an HTTP upstream, embeddings, the models list, and each error as the SDK surfaces it.
/// Retries are off, so that every status is the one Beamline answered.
/// </summary>
public sealed class OpenAISdkTests(OpenAIGatewayFixture gateway) : IClassFixture<OpenAIGatewayFixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private OpenAIClient Client(string key = OpenAIGatewayFixture.Key) => new(new ApiKeyCredential(key), new OpenAIClientOptions
    {
        Endpoint = gateway.OpenAIBaseUrl,
        RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
        NetworkTimeout = Wait,
    });

    [Fact]
    public async Task CompleteChat_DefaultPolicy_AnswersTheMockReplyWithUsage()
    {
        // An unknown model name routes by the tenant's default policy ("chat", a mock provider).
        ChatCompletion completion = await Client().GetChatClient("gpt-4o-mini").CompleteChatAsync([new UserChatMessage("Say hello")]);

        Assert.Equal(OpenAIGatewayFixture.MockReply, Assert.Single(completion.Content).Text);
        Assert.Equal(ChatMessageRole.Assistant, completion.Role);
        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
        Assert.Equal("mock-chat-1", completion.Model);
        Assert.True(completion.Usage.OutputTokenCount > 0);
        Assert.Equal(completion.Usage.InputTokenCount + completion.Usage.OutputTokenCount, completion.Usage.TotalTokenCount);
    }

    [Fact]
    public async Task CompleteChat_ModelNamesAPolicyWithAnHttpProvider_TheUpstreamAnswersWithTheOperatorsKey()
    {
        ChatCompletion completion = await Client().GetChatClient("ok").CompleteChatAsync([new UserChatMessage("hi upstream")]);

        Assert.Equal(GatewayUpstream.Reply, Assert.Single(completion.Content).Text);
        var upstream = gateway.Scenario("ok");
        // The upstream got the provider's model and the operator's key, never the tenant's.
        Assert.Equal("upstream-model", upstream.LastBody.GetProperty("model").GetString());
        Assert.Equal("hi upstream", upstream.LastBody.GetProperty("messages")[0].GetProperty("content").GetString());
        Assert.Equal("Bearer " + OpenAIGatewayFixture.UpstreamKey, upstream.LastAuthorization);
    }

    [Fact]
    public async Task CompleteChatStreaming_DefaultPolicy_UpdatesConcatenateToTheMockReplyAndEndWithUsage()
    {
        var text = new StringBuilder();
        ChatTokenUsage? usage = null;
        ChatFinishReason? finish = null;
        var updates = 0;
        using var cancel = new CancellationTokenSource(Wait);
        await foreach (var update in Client().GetChatClient("chat").CompleteChatStreamingAsync([new UserChatMessage("Say hello")], cancellationToken: cancel.Token))
        {
            updates++;
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }
            finish ??= update.FinishReason;
            usage ??= update.Usage;
        }

        Assert.Equal(OpenAIGatewayFixture.MockReply, text.ToString());
        // One update per word at least: the answer came as a stream, not one piece.
        Assert.True(updates > OpenAIGatewayFixture.MockReply.Split(' ').Length, $"{updates} updates");
        Assert.Equal(ChatFinishReason.Stop, finish);
        // The SDK asks for stream_options.include_usage; the last chunk carries the usage.
        Assert.NotNull(usage);
        Assert.True(usage.OutputTokenCount > 0);
    }

    [Fact]
    public async Task CompleteChat_UpstreamAnswersAToolCall_TheSdkSeesTheFunctionAndItsArguments()
    {
        var options = new ChatCompletionOptions();
        options.Tools.Add(ChatTool.CreateFunctionTool("get_weather", "The weather in a city",
            BinaryData.FromString("""{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}""")));

        ChatCompletion completion = await Client().GetChatClient("tools").CompleteChatAsync([new UserChatMessage("Weather in Paris?")], options);

        Assert.Equal(ChatFinishReason.ToolCalls, completion.FinishReason);
        var call = Assert.Single(completion.ToolCalls);
        Assert.Equal("call_weather_1", call.Id);
        Assert.Equal("get_weather", call.FunctionName);
        Assert.Equal("Paris", JsonDocument.Parse(call.FunctionArguments.ToString()).RootElement.GetProperty("city").GetString());
        // The tools the client declared reached the upstream as it sent them.
        var tools = gateway.Scenario("tools").LastBody.GetProperty("tools");
        Assert.Equal("get_weather", tools[0].GetProperty("function").GetProperty("name").GetString());
    }

    [Fact]
    public async Task CompleteChatStreaming_UpstreamStreamsAToolCall_TheSdkAssemblesTheArguments()
    {
        var options = new ChatCompletionOptions();
        options.Tools.Add(ChatTool.CreateFunctionTool("get_weather", "The weather in a city"));
        var arguments = new StringBuilder();
        string? name = null;
        string? id = null;
        ChatFinishReason? finish = null;
        using var cancel = new CancellationTokenSource(Wait);

        await foreach (var update in Client().GetChatClient("tools").CompleteChatStreamingAsync([new UserChatMessage("Weather in Paris?")], options, cancel.Token))
        {
            foreach (var call in update.ToolCallUpdates)
            {
                name ??= call.FunctionName;
                id ??= call.ToolCallId;
                arguments.Append(call.FunctionArgumentsUpdate?.ToString());
            }
            finish ??= update.FinishReason;
        }

        Assert.Equal("get_weather", name);
        Assert.Equal("call_weather_1", id);
        Assert.Equal("""{"city":"Paris"}""", arguments.ToString());
        Assert.Equal(ChatFinishReason.ToolCalls, finish);
    }

    [Fact]
    public async Task CompleteChatStreaming_UpstreamResetsMidStream_TheStreamEndsWithThePartialTextAndNoFinishReason()
    {
        var scenario = gateway.Scenario("reset-stream");
        var text = new StringBuilder();
        ChatFinishReason? finish = null;
        using var cancel = new CancellationTokenSource(Wait);

        // Beamline ends the stream with OpenAI's error event (data: {"error":{...}}). The .NET SDK
        // (2.15) does not raise it: it yields an empty update and the stream ends, so a .NET client
        // tells a cut-off answer by its missing finish reason. (The npm SDK throws an APIError.)
        await foreach (var update in Client().GetChatClient("reset-stream").CompleteChatStreamingAsync([new UserChatMessage("hi")], cancellationToken: cancel.Token))
        {
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }
            finish ??= update.FinishReason;
            if (text.Length > 0)
            {
                // The client has the first text: now the upstream resets its connection.
                scenario.Release.TrySetResult();
            }
        }

        Assert.Equal("partial ", text.ToString());
        Assert.Null(finish);
    }

    [Fact]
    public async Task GenerateEmbeddings_ModelOfAMockProvider_OneUnitVectorPerInputAndEqualTextsEmbedEqually()
    {
        var client = Client().GetEmbeddingClient("mock-embed-1");

        OpenAIEmbeddingCollection embeddings = await client.GenerateEmbeddingsAsync(["the same text", "another text", "the same text"]);

        Assert.Equal(3, embeddings.Count);
        Assert.Equal([0, 1, 2], embeddings.Select(e => e.Index));
        var vectors = embeddings.Select(e => e.ToFloats().ToArray()).ToArray();
        Assert.All(vectors, v => Assert.Equal(1.0, Math.Sqrt(v.Sum(x => (double)x * x)), 3));
        Assert.Equal(vectors[0], vectors[2]);
        Assert.NotEqual(vectors[0], vectors[1]);
        Assert.Equal("mock-embed-1", embeddings.Model);
    }

    [Fact]
    public async Task GetModels_ListsTheTenantsPoliciesThenTheProvidersModels()
    {
        OpenAIModelCollection models = await Client().GetOpenAIModelClient().GetModelsAsync();

        var ids = models.Select(m => m.Id).ToList();
        Assert.Contains("chat", ids);
        Assert.Contains("guarded", ids);
        Assert.Contains("mock-chat-1", ids);
        Assert.Contains("mock-embed-1", ids);
        Assert.Equal("beamline", models.Single(m => m.Id == "chat").OwnedBy);
        Assert.Equal("mock_chat", models.Single(m => m.Id == "mock-chat-1").OwnedBy);
        Assert.Equal(ids.Count, ids.Distinct().Count());
    }

    [Fact]
    public async Task CompleteChat_WrongKey_ClientResultException401()
    {
        var error = await Assert.ThrowsAsync<ClientResultException>(
            () => Client("bl_acme_ef0IeTRjUQaPh1mkMiJcaRQpkyW2xQEfbbLIAteZ6Ga").GetChatClient("chat").CompleteChatAsync([new UserChatMessage("hi")]));

        Assert.Equal(401, error.Status);
        Assert.Equal("invalid_api_key", ErrorBody(error).GetProperty("code").GetString());
        Assert.Equal("authentication_error", ErrorBody(error).GetProperty("type").GetString());
    }

    [Fact]
    public async Task GetModels_WrongKey_ClientResultException401()
    {
        var error = await Assert.ThrowsAsync<ClientResultException>(() => Client("sk-not-beamline").GetOpenAIModelClient().GetModelsAsync());

        Assert.Equal(401, error.Status);
    }

    [Fact]
    public async Task CompleteChat_EmptyMessages_ClientResultException400()
    {
        // What a user of the SDK's protocol method sends by mistake: no messages.
        var chat = Client().GetChatClient("chat");
        var error = await Assert.ThrowsAsync<ClientResultException>(
            () => chat.CompleteChatAsync(BinaryContent.Create(BinaryData.FromString("""{"model":"chat","messages":[]}"""))));

        Assert.Equal(400, error.Status);
        Assert.Equal("invalid_request_error", ErrorBody(error).GetProperty("type").GetString());
        Assert.Contains("messages", ErrorBody(error).GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CompleteChat_KeysDefaultPolicyDoesNotExist_ClientResultException404ModelNotFound()
    {
        // A model naming no policy or provider routes by the key's default policy; this tenant's
        // names a policy it does not have, the only way a gateway call meets a missing policy.
        var error = await Assert.ThrowsAsync<ClientResultException>(
            () => Client(OpenAIGatewayFixture.OrphanKey).GetChatClient("gpt-4o").CompleteChatAsync([new UserChatMessage("hi")]));

        Assert.Equal(404, error.Status);
        Assert.Equal("model_not_found", ErrorBody(error).GetProperty("code").GetString());
    }

    [Fact]
    public async Task CompleteChat_PiiGuardBlocksAnEmail_ClientResultException403WithoutThePii()
    {
        var error = await Assert.ThrowsAsync<ClientResultException>(
            () => Client().GetChatClient("guarded").CompleteChatAsync([new UserChatMessage("Write to me at jane.doe@example.com please")]));

        Assert.Equal(403, error.Status);
        var body = ErrorBody(error);
        Assert.Equal("permission_error", body.GetProperty("type").GetString());
        Assert.Equal("validator_blocked", body.GetProperty("code").GetString());
        Assert.DoesNotContain("jane.doe", body.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CompleteChat_OverTheTenantsRequestsPerMinute_ClientResultException429WithRetryAfter()
    {
        var chat = Client(OpenAIGatewayFixture.LimitedKey).GetChatClient("chat");
        ChatCompletion first = await chat.CompleteChatAsync([new UserChatMessage("one")]);
        Assert.Equal(OpenAIGatewayFixture.MockReply, first.Content[0].Text);

        var error = await Assert.ThrowsAsync<ClientResultException>(() => chat.CompleteChatAsync([new UserChatMessage("two")]));

        Assert.Equal(429, error.Status);
        Assert.Equal("rate_limit_error", ErrorBody(error).GetProperty("type").GetString());
        Assert.True(error.GetRawResponse()!.Headers.TryGetValue("Retry-After", out var retryAfter));
        Assert.InRange(int.Parse(retryAfter!, System.Globalization.CultureInfo.InvariantCulture), 1, 61);
    }

    [Fact]
    public async Task CompleteChat_UpstreamRateLimitedWithoutFallback_ClientResultException429WithTheUpstreamsRetryAfter()
    {
        var error = await Assert.ThrowsAsync<ClientResultException>(
            () => Client().GetChatClient("limited-alone").CompleteChatAsync([new UserChatMessage("hi")]));

        Assert.Equal(429, error.Status);
        Assert.True(error.GetRawResponse()!.Headers.TryGetValue("Retry-After", out var retryAfter));
        Assert.Equal(GatewayUpstream.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture), retryAfter);
    }

    [Fact]
    public async Task CompleteChat_EveryProviderAnswers503_ClientResultException503()
    {
        var error = await Assert.ThrowsAsync<ClientResultException>(
            () => Client().GetChatClient("down").CompleteChatAsync([new UserChatMessage("hi")]));

        Assert.Equal(503, error.Status);
        Assert.Equal("service_unavailable", ErrorBody(error).GetProperty("type").GetString());
        // The fallback was tried before giving up.
        Assert.Equal(1, gateway.Scenario("down-a").Requests);
        Assert.Equal(1, gateway.Scenario("down-b").Requests);
    }

    private static JsonElement ErrorBody(ClientResultException error)
    {
        var response = error.GetRawResponse();
        Assert.NotNull(response);
        return JsonDocument.Parse(response.Content.ToString()).RootElement.GetProperty("error").Clone();
    }
}
