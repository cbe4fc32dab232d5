using System.Text;
using System.Text.Json.Nodes;
using Beamline.Cp1;
using Beamline.Pipeline;
using Beamline.Host.Routing;
using Beamline.Providers;
using Beamline.Routing.Catalog;

namespace Beamline.Host.Tests.Routing;

/// <summary>How a CP1 payload becomes an Anthropic Messages body and a CP1 NATS provider request, and how a provider's reply is read.</summary>
public sealed class ProviderPayloadTests
{
    private static readonly ProviderDescriptor Claude = new() { Id = "claude", Kind = ProviderKind.Anthropic, Model = "claude-test" };

    [Fact]
    public void AnthropicBody_TextPayload_BecomesOneUserMessageKeepingItsSettings()
    {
        var body = JsonNode.Parse(AnthropicMessages.Body(Claude, P(Request("""{"text":"hi","role":"system","temperature":0.2,"max_tokens":50}"""))))!;

        Assert.Equal("claude-test", body["model"]!.GetValue<string>());
        Assert.Equal(50, body["max_tokens"]!.GetValue<int>());
        Assert.Equal(0.2, body["temperature"]!.GetValue<double>());
        var message = Assert.Single(body["messages"]!.AsArray())!;
        Assert.Equal(("user", "hi"), (message["role"]!.GetValue<string>(), message["content"]!.GetValue<string>()));
    }

    [Fact]
    public void AnthropicBody_MessagesWithSystem_JoinsSystemPromptsAndKeepsAnAllowedModelGiven()
    {
        var claude = Claude with { Models = ["claude-test", "claude-other"] };
        var body = JsonNode.Parse(AnthropicMessages.Body(claude, P(Request(
            """{"model":"claude-other","system":"First.","messages":[{"role":"system","content":"Second."},{"role":"user","content":"q"},{"role":"assistant","content":"a"}]}"""))))!;

        Assert.Equal("claude-other", body["model"]!.GetValue<string>());
        Assert.Equal(1024, body["max_tokens"]!.GetValue<int>());
        Assert.Equal("First.\n\nSecond.", body["system"]!.GetValue<string>());
        Assert.Equal(["user", "assistant"], body["messages"]!.AsArray().Select(m => m!["role"]!.GetValue<string>()));
    }

    [Fact]
    public void AnthropicBody_PlainTextPayload_IsTheUserMessage()
    {
        var request = Request("plain words") with { PayloadEncoding = PayloadEncoding.Text };
        var body = JsonNode.Parse(AnthropicMessages.Body(Claude, P(request)))!;

        Assert.Equal("plain words", body["messages"]![0]!["content"]!.GetValue<string>());
    }

    // The provider entry, not the tenant's payload, decides which model of the operator's account is used.
    [Theory]
    [InlineData(ProviderKind.OpenAICompatible)]
    [InlineData(ProviderKind.OpenAI)]
    [InlineData(ProviderKind.Anthropic)]
    public void RefuseModel_PayloadNamesAModelTheEntryDoesNotOffer_SaysWhy(ProviderKind kind)
    {
        var provider = new ProviderDescriptor { Id = "cheap", Kind = kind, Model = "llama-cheap" };

        var refusal = ProviderBlocks.RefuseModel(provider, P(Request("""{"model":"gpt-4-32k-expensive","text":"hi"}""")));
        var asJsonString = ProviderBlocks.RefuseModel(provider, P(Request("""{"model":"gpt-4-32k-expensive","text":"hi"}""") with { PayloadEncoding = PayloadEncoding.JsonString }));

        Assert.NotNull(refusal);
        Assert.Contains("gpt-4-32k-expensive", refusal, StringComparison.Ordinal);
        Assert.Contains("llama-cheap", refusal, StringComparison.Ordinal);
        Assert.NotNull(asJsonString);
        Assert.NotNull(ProviderBlocks.RefuseModel(provider, P(Request("""{"model":42,"text":"hi"}"""))));
        Assert.Null(ProviderBlocks.RefuseModel(provider, P(Request("""{"model":"llama-cheap","text":"hi"}"""))));
        Assert.Null(ProviderBlocks.RefuseModel(provider, P(Request("""{"text":"hi"}"""))));
        Assert.Null(ProviderBlocks.RefuseModel(provider, P(Request("plain words") with { PayloadEncoding = PayloadEncoding.Text })));
    }

    [Fact]
    public void RefuseModel_EntryWithAModelsList_AllowsExactlyThose()
    {
        var provider = ProviderJson.Parse("multi", """{"kind":"openai","model":"gpt-4o-mini","models":["gpt-4o-mini","gpt-4o"]}""");

        Assert.Equal(["gpt-4o-mini", "gpt-4o"], provider.Models.ToArray());
        Assert.Null(ProviderBlocks.RefuseModel(provider, P(Request("""{"model":"gpt-4o","text":"hi"}"""))));
        Assert.NotNull(ProviderBlocks.RefuseModel(provider, P(Request("""{"model":"gpt-4-32k-expensive","text":"hi"}"""))));
        var body = JsonNode.Parse(ProviderBlocks.ChatCompletionBody(provider, P(Request("""{"model":"gpt-4o","text":"hi"}"""))))!;
        Assert.Equal("gpt-4o", body["model"]!.GetValue<string>());
        body = JsonNode.Parse(ProviderBlocks.ChatCompletionBody(provider, P(Request("""{"text":"hi"}"""))))!;
        Assert.Equal("gpt-4o-mini", body["model"]!.GetValue<string>());
    }

    // A gateway client's model names a route (here the policy "support"), not the upstream's model:
    // refusing it made every OpenAI SDK call routed by policy name to an HTTP provider a 400.
    [Fact]
    public void RefuseModel_GatewayRequestWhoseModelNamesARoute_IsNotRefusedAndTheUpstreamGetsTheEntrysModel()
    {
        var provider = new ProviderDescriptor { Id = "cheap", Kind = ProviderKind.OpenAICompatible, Model = "llama-cheap", Endpoint = "http://127.0.0.1:1/v1" };
        var request = P(Request("""{"model":"support","messages":[{"role":"user","content":"hi"}],"max_tokens":16}"""), WireFormat.OpenAIChat);

        Assert.Null(ProviderBlocks.RefuseModel(provider, request));
        var block = ProviderBlocks.Build(provider, request, out var reason);
        Assert.Null(reason);
        var body = JsonNode.Parse(JsonNode.Parse(block!.Payload.ToStringUtf8())!["body"]!.GetValue<string>())!;
        Assert.Equal("llama-cheap", body["model"]!.GetValue<string>());
    }

    [Fact]
    public void Build_PayloadNamesAModelTheEntryDoesNotOffer_MakesNoBlock()
    {
        var provider = new ProviderDescriptor { Id = "cheap", Kind = ProviderKind.OpenAICompatible, Model = "llama-cheap", Endpoint = "http://127.0.0.1:1/v1" };

        Assert.Null(ProviderBlocks.Build(provider, P(Request("""{"model":"gpt-4-32k-expensive","messages":[]}""")), out var reason));
        Assert.Contains("gpt-4-32k-expensive", reason, StringComparison.Ordinal);
        Assert.Null(ProviderBlocks.Build(provider with { Kind = ProviderKind.Anthropic }, P(Request("""{"model":"gpt-4-32k-expensive","messages":[]}""")), out _));
    }

    [Theory]
    [InlineData("""{"answer":"ok"}""", true, null)]
    [InlineData("not json at all", true, null)]
    [InlineData("""{"error":"boom"}""", false, "provider_error")]
    [InlineData("""{"error":{"code":"rate_limited","message":"slow down"}}""", false, "rate_limited")]
    [InlineData("""{"status":"error"}""", false, "provider_error")]
    public void NatsProviderReply_ErrorShapesAreFailures(string reply, bool succeeded, string? code)
    {
        var outcome = NatsProviderClient.Interpret(Encoding.UTF8.GetBytes(reply));

        Assert.Equal(succeeded, outcome.Succeeded);
        Assert.Equal(code, outcome.ErrorCode);
        Assert.Equal(reply, Encoding.UTF8.GetString(outcome.Output.Span));
    }

    [Fact]
    public void NatsProviderRequest_CarriesTheCp1Fields()
    {
        var provider = new ProviderDescriptor { Id = "custom", Kind = ProviderKind.NatsProvider, SubjectVersion = 2 };
        var body = JsonNode.Parse(NatsProviderClient.Body(provider, P(Request("""{"text":"x"}""") with
        {
            TraceId = "trace-1",
            Metadata = new Dictionary<string, string> { ["source"] = "test" },
        })))!;

        Assert.Equal("beamline.provider.custom.v2", provider.Subject);
        Assert.Equal("trace-1", body["trace_id"]!.GetValue<string>());
        Assert.Equal("t1", body["tenant_id"]!.GetValue<string>());
        Assert.Equal("x", body["payload"]!["text"]!.GetValue<string>());
        Assert.Equal("test", body["metadata"]!["source"]!.GetValue<string>());
    }

    // Hardening item 9: the API key travelled in the http.request payload (over NATS to workers).
    [Theory]
    [InlineData(ProviderKind.OpenAI, "authorization")]
    [InlineData(ProviderKind.OpenAICompatible, "authorization")]
    [InlineData(ProviderKind.Anthropic, "x-api-key")]
    public void Build_HttpProviderWithApiKeyEnv_NamesTheCredentialAndCarriesNoKey(ProviderKind kind, string keyHeader)
    {
        var variable = $"BEAMLINE_TEST_KEY_{Guid.NewGuid():N}";
        const string Secret = "sk-payload-test-0a1b2c3d";
        Environment.SetEnvironmentVariable(variable, Secret);
        try
        {
            var provider = new ProviderDescriptor { Id = "prov", Kind = kind, Model = "m", Endpoint = "https://llm.example.com/v1", ApiKeyVariable = variable };

            var block = ProviderBlocks.Build(provider, P(Request("""{"text":"hi"}""")), out var reason);

            Assert.NotNull(block);
            Assert.Null(reason);
            Assert.True(Google.Protobuf.MessageExtensions.ToByteArray(block).AsSpan().IndexOf(Encoding.UTF8.GetBytes(Secret)) < 0);
            var payload = JsonNode.Parse(block.Payload.ToStringUtf8())!;
            Assert.Equal("prov", payload["credential_ref"]!.GetValue<string>());
            Assert.DoesNotContain(payload["headers"]!.AsObject(), h => string.Equals(h.Key, keyHeader, StringComparison.OrdinalIgnoreCase));
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    [Fact]
    public void Build_CredentialRefOrNone_IsWhatTheEntrySays()
    {
        var named = new ProviderDescriptor { Id = "prov", Kind = ProviderKind.OpenAI, CredentialRef = "shared-openai" };
        var keyless = new ProviderDescriptor { Id = "local", Kind = ProviderKind.OpenAICompatible, Endpoint = "http://10.0.0.5:8000/v1" };

        var namedPayload = JsonNode.Parse(ProviderBlocks.Build(named, P(Request("""{"text":"hi"}""")), out _)!.Payload.ToStringUtf8())!;
        var keylessPayload = JsonNode.Parse(ProviderBlocks.Build(keyless, P(Request("""{"text":"hi"}""")), out _)!.Payload.ToStringUtf8())!;

        Assert.Equal("shared-openai", namedPayload["credential_ref"]!.GetValue<string>());
        Assert.Null(keylessPayload["credential_ref"]);
    }

    [Fact]
    public void ProviderCredentials_For_GivesHeaderPrefixVariableAndTheBaseUrlsHost()
    {
        var openai = ProviderCredentials.For(new ProviderDescriptor { Id = "openai", Kind = ProviderKind.OpenAI, ApiKeyVariable = "OPENAI_API_KEY" })!;
        var claude = ProviderCredentials.For(new ProviderDescriptor
        {
            Id = "claude", Kind = ProviderKind.Anthropic, ApiKeyVariable = "ANTHROPIC_API_KEY", Endpoint = "http://127.0.0.1:8089/v1", CredentialRef = "anthropic-team",
        })!;

        Assert.Equal(("openai", "Authorization", "Bearer ", "OPENAI_API_KEY"), (openai.Name, openai.Header, openai.Prefix, openai.ValueEnvironmentVariable));
        Assert.Equal("api.openai.com", Assert.Single(openai.Hosts));
        Assert.Equal(("anthropic-team", "x-api-key", "", "ANTHROPIC_API_KEY"), (claude.Name, claude.Header, claude.Prefix, claude.ValueEnvironmentVariable));
        Assert.Equal("127.0.0.1:8089", Assert.Single(claude.Hosts));
        Assert.Null(ProviderCredentials.For(new ProviderDescriptor { Id = "local", Kind = ProviderKind.OpenAICompatible, Endpoint = "http://x/v1" }));
        Assert.Null(ProviderCredentials.For(new ProviderDescriptor { Id = "b", Kind = ProviderKind.Block, BlockType = "echo", ApiKeyVariable = "X" }));
    }

    [Theory]
    [InlineData("http.request", """{"url":"https://x","credential_ref":"openai"}""", true)]
    [InlineData("http.request", """{"url":"https://x","credential\u005fref":"openai"}""", true)]
    [InlineData("http.request", """{"url":"https://x","body":"{\"credential_ref\":1}","headers":{"credential_ref":"a"}}""", false)]
    [InlineData("http.request", """{"url":"https://x"} trailing""", true)]
    [InlineData("echo", """{"credential_ref":"openai"}""", false)]
    [InlineData("http.request", """{"url":"http://127.0.0.1:11434/","provider_ref":"local-llm"}""", true)]
    [InlineData("http.request", """{"url":"https://x","provider\u005fref":"openai"}""", true)]
    [InlineData("http.request", """{"url":"https://x","provider_ref":null}""", true)]
    [InlineData("http.request", """{"url":"https://x","headers":{"provider_ref":"a"},"body":"{\"provider_ref\":1}"}""", false)]
    [InlineData("echo", """{"provider_ref":"openai"}""", false)]
    public void RefuseClientCredential_HttpRequestNamingOne_IsRefused(string type, string payload, bool refused)
        => Assert.Equal(refused, ProviderBlocks.RefuseClientCredential(type, Encoding.UTF8.GetBytes(payload), out _) is not null);

    [Theory]
    [InlineData(WireFormat.Cp1)]
    [InlineData(WireFormat.OpenAIChat)]
    public void Build_HttpProvider_NamesItselfAsTheProviderRef(WireFormat format)
    {
        var body = format == WireFormat.Cp1 ? """{"text":"hi"}""" : """{"model":"m","messages":[{"role":"user","content":"hi"}]}""";
        foreach (var provider in new[]
                 {
                     new ProviderDescriptor { Id = "openai", Kind = ProviderKind.OpenAI, Model = "m" },
                     new ProviderDescriptor { Id = "local", Kind = ProviderKind.OpenAICompatible, Model = "m", Endpoint = "http://127.0.0.1:11434/v1" },
                     new ProviderDescriptor { Id = "claude", Kind = ProviderKind.Anthropic, Model = "m" },
                 })
        {
            var block = ProviderBlocks.Build(provider, P(Request(body), format), out var reason);

            Assert.True(block is not null, reason);
            Assert.Equal(provider.Id, JsonNode.Parse(block.Payload.ToStringUtf8())!["provider_ref"]!.GetValue<string>());
        }
    }

    [Fact]
    public void Build_BlockProviderOfHttpRequest_RefusesAPayloadNamingAProvider()
    {
        var provider = new ProviderDescriptor { Id = "raw", Kind = ProviderKind.Block, BlockType = "http.request", Pool = "io" };

        var block = ProviderBlocks.Build(provider, P(Request("""{"url":"http://127.0.0.1:11434/","provider_ref":"local"}""")), out var reason);

        Assert.Null(block);
        Assert.Contains("provider_ref", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void ProviderCredentials_DestinationOf_IsTheBaseUrlsHost()
    {
        static string? Of(ProviderKind kind, string? endpoint)
            => ProviderCredentials.DestinationOf(new ProviderDescriptor { Id = "p", Kind = kind, Endpoint = endpoint }) is { } destination
                ? string.Join(' ', destination.Hosts)
                : null;

        Assert.Equal("api.openai.com", Of(ProviderKind.OpenAI, null));
        Assert.Equal("api.anthropic.com", Of(ProviderKind.Anthropic, null));
        Assert.Equal("127.0.0.1:8089", Of(ProviderKind.OpenAICompatible, "http://127.0.0.1:8089/v1"));
        Assert.Equal("[::1]:8000", Of(ProviderKind.OpenAICompatible, "http://[::1]:8000/v1"));
        Assert.Equal("vllm.internal:8000", Of(ProviderKind.OpenAICompatible, "http://vllm.internal:8000/v1"));
        // localhost resolves to a loopback address, which an entry must name for a connection to it.
        Assert.Equal("localhost:11434 127.0.0.1:11434 [::1]:11434", Of(ProviderKind.OpenAICompatible, "http://localhost:11434/v1"));
        Assert.Null(Of(ProviderKind.OpenAICompatible, null));
        Assert.Null(ProviderCredentials.DestinationOf(new ProviderDescriptor { Id = "b", Kind = ProviderKind.Block, BlockType = "echo" }));
    }

    [Fact]
    public void Build_BlockProviderOfHttpRequest_RefusesAPayloadNamingACredential()
    {
        var provider = new ProviderDescriptor { Id = "raw", Kind = ProviderKind.Block, BlockType = "http.request", Pool = "io" };

        var block = ProviderBlocks.Build(provider, P(Request("""{"url":"https://x","credential_ref":"openai"}""")), out var reason);

        Assert.Null(block);
        Assert.Contains("credential_ref", reason, StringComparison.Ordinal);
    }

    // The pipeline's request of a CP1 one, as the CP1 faces build it.
    private static PipelineRequest P(DecideRequest request, WireFormat format = WireFormat.Cp1) => new()
    {
        Format = format,
        Caller = new Caller { TenantId = request.TenantId },
        RequestId = request.RequestId,
        TraceId = request.TraceId,
        MessageType = request.TaskType,
        Payload = request.Payload,
        PayloadKind = request.PayloadEncoding switch
        {
            PayloadEncoding.Json or PayloadEncoding.JsonString => PayloadKind.Json,
            PayloadEncoding.Text => PayloadKind.Text,
            _ => PayloadKind.Binary,
        },
        Metadata = new Dictionary<string, string>(request.Metadata),
    };

    private static DecideRequest Request(string payload) => new()
    {
        TenantId = "t1",
        RequestId = "r1",
        TaskType = "chat",
        Payload = Encoding.UTF8.GetBytes(payload),
        PayloadEncoding = PayloadEncoding.Json,
    };
}
