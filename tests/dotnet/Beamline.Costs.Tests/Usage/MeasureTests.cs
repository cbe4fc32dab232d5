using System.Text;
using Beamline.Costs.Tokens;
using Beamline.Pipeline;
using Beamline.Pipeline.Costs;

namespace Beamline.Costs.Tests.Usage;

public sealed class MeasureTests
{
    private static readonly CostQuote Quote = new("gpt-4o", 17, 100, 0);
    private readonly CostMeter _meter = new();

    private TokenUsage Measure(WireFormat format, string answer)
        => _meter.Measure(Requests.Of(format, "{}"), Quote, format, Encoding.UTF8.GetBytes(answer));

    [Fact]
    public void Measure_ChatCompletion_ReadsItsUsage()
    {
        const string answer = """
            {"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}],
             "usage":{"prompt_tokens":1200,"completion_tokens":30,"total_tokens":1230,"prompt_tokens_details":{"cached_tokens":1024,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}
            """;

        Assert.Equal(new TokenUsage(1200, 30, 1024), Measure(WireFormat.OpenAIChat, answer));
    }

    [Fact]
    public void Measure_Responses_ReadsItsUsage()
    {
        const string answer = """
            {"id":"resp_1","object":"response","status":"completed","output":[{"type":"message","role":"assistant","content":[{"type":"output_text","text":"Hi"}]}],
             "usage":{"input_tokens":328,"input_tokens_details":{"cached_tokens":128},"output_tokens":52,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":380}}
            """;

        Assert.Equal(new TokenUsage(328, 52, 128), Measure(WireFormat.OpenAIResponses, answer));
    }

    [Fact]
    public void Measure_Embeddings_ReadsThePromptTokens()
    {
        const string answer = """{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,0.2]}],"model":"text-embedding-3-small","usage":{"prompt_tokens":8,"total_tokens":8}}""";

        Assert.Equal(new TokenUsage(8, 0), Measure(WireFormat.OpenAIEmbeddings, answer));
    }

    [Fact]
    public void Measure_AnthropicMessage_AddsTheCacheToTheInput()
    {
        const string answer = """
            {"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4","content":[{"type":"text","text":"Hi"}],"stop_reason":"end_turn",
             "usage":{"input_tokens":50,"cache_creation_input_tokens":200,"cache_read_input_tokens":1000,"output_tokens":25}}
            """;

        Assert.Equal(new TokenUsage(1250, 25, 1000), Measure(WireFormat.AnthropicMessages, answer));
    }

    [Fact]
    public void Measure_NoUsage_CountsTheAnswersTextAsEstimated()
    {
        var o200k = Encodings.O200kBase;
        var chat = """{"choices":[{"message":{"role":"assistant","content":"hello world"}},{"message":{"content":"hello world"}}]}""";
        var anthropic = """{"content":[{"type":"text","text":"hello world"},{"type":"tool_use","name":"f","input":{"a":1}}]}""";
        var responses = """{"output":[{"type":"message","content":[{"type":"output_text","text":"hello world"}]}]}""";

        Assert.Equal(new TokenUsage(17, 4, Estimated: true), Measure(WireFormat.OpenAIChat, chat));
        Assert.Equal(new TokenUsage(17, 2 + o200k.CountTokens("f") + o200k.CountTokens("""{"a":1}"""), Estimated: true), Measure(WireFormat.AnthropicMessages, anthropic));
        Assert.Equal(new TokenUsage(17, 2, Estimated: true), Measure(WireFormat.OpenAIResponses, responses));
        Assert.Equal(new TokenUsage(17, 0, Estimated: true), Measure(WireFormat.OpenAIEmbeddings, """{"data":[]}"""));
    }

    [Fact]
    public void Measure_OpaqueBytes_CountsThemAsText()
    {
        Assert.Equal(new TokenUsage(17, 2, Estimated: true), Measure(WireFormat.None, "hello world"));
        Assert.Equal(new TokenUsage(17, 2, Estimated: true), Measure(WireFormat.Cp1, "\"hello world\""));
    }
}
