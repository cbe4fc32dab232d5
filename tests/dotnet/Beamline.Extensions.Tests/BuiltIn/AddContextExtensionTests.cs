using Beamline.Extensions.BuiltIn;
using Beamline.Pipeline.Extensions;

namespace Beamline.Extensions.Tests.BuiltIn;

public sealed class AddContextExtensionTests
{
    private const string Config = """{"system":"Be kind."}""";

    private readonly AddContextExtension _add = new();

    private string Run(string json, string config = Config) => Inputs.PayloadOf(_add.Invoke(Inputs.Json(json, config)));

    [Fact]
    public void OpenAi_NoSystemMessage_InsertsOneFirst()
    {
        Inputs.JsonEqual(
            """{"model":"gpt-4o","messages":[{"role":"system","content":"Be kind."},{"role":"user","content":"hi"}],"temperature":0.5}""",
            Run("""{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"temperature":0.5}"""));
    }

    [Fact]
    public void OpenAi_FirstSystemMessage_GetsTheTextPrepended()
    {
        Inputs.JsonEqual(
            """{"messages":[{"role":"system","content":"Be kind.\n\nYou are terse."},{"role":"user","content":"hi"}],"max_tokens":10}""",
            Run("""{"messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"hi"}],"max_tokens":10}"""));
    }

    [Fact]
    public void OpenAi_EmptyMessages_GetsTheSystemMessage()
    {
        Inputs.JsonEqual("""{"messages":[{"role":"system","content":"Be kind."}]}""", Run("""{"messages":[]}"""));
    }

    [Fact]
    public void Anthropic_MaxTokensWithoutSystem_SetsSystem()
    {
        Inputs.JsonEqual(
            """{"model":"claude","max_tokens":100,"messages":[{"role":"user","content":"hi"}],"system":"Be kind."}""",
            Run("""{"model":"claude","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}"""));
    }

    [Fact]
    public void Anthropic_SystemString_GetsTheTextPrepended()
    {
        Inputs.JsonEqual(
            """{"system":"Be kind.\n\nAnswer in French.","messages":[{"role":"user","content":"hi"}]}""",
            Run("""{"system":"Answer in French.","messages":[{"role":"user","content":"hi"}]}"""));
    }

    [Fact]
    public void Anthropic_SystemBlocks_GetATextBlockFirst()
    {
        Inputs.JsonEqual(
            """{"system":[{"type":"text","text":"Be kind."},{"type":"text","text":"Cached","cache_control":{"type":"ephemeral"}}],"messages":[]}""",
            Run("""{"system":[{"type":"text","text":"Cached","cache_control":{"type":"ephemeral"}}],"messages":[]}"""));
    }

    [Fact]
    public void Metadata_IsMergedIntoTheReply()
    {
        var reply = _add.Invoke(Inputs.Json("""{"prompt":"no messages"}""", """{"system":"x","metadata":{"team":"a","tier":2}}"""));
        Assert.Null(reply.Payload);
        Assert.Equal(new Dictionary<string, string> { ["team"] = "a", ["tier"] = "2" }, reply.Metadata);
    }

    [Fact]
    public void NoSystemOrNotAChatRequest_IsUnchanged()
    {
        Assert.Same(ExtensionReply.Unchanged, _add.Invoke(Inputs.Json("""{"messages":[]}""", "{}")));
        Assert.Same(ExtensionReply.Unchanged, _add.Invoke(Inputs.Json("""{"prompt":"p"}""", Config)));
        Assert.Same(ExtensionReply.Unchanged, _add.Invoke(Inputs.Text("plain", Config)));
    }

    [Fact]
    public void BadConfig_Fails()
    {
        var reply = _add.Invoke(Inputs.Json("""{"messages":[]}""", """{"system":["x"]}"""));
        Assert.Equal(ExtensionFailure.Error, reply.Failure);
        Assert.Equal("add_context: config 'system' must be a string, not an array", reply.Message);
    }

    // An OpenAI request may carry max_tokens: that alone does not make it the Anthropic form.
    [Fact]
    public void OpenAi_MaxTokensWithoutSystem_InsertsASystemMessage()
    {
        Inputs.JsonEqual(
            """{"model":"gpt-4o","max_tokens":10,"messages":[{"role":"system","content":"Be kind."},{"role":"user","content":"hi"}]}""",
            Run("""{"model":"gpt-4o","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}"""));
    }

    // The upstream fixture policy's option.
    [Fact]
    public void IncludeTimestamp_AddsWhenTheContextWasAdded()
    {
        var reply = _add.Invoke(Inputs.Json("""{"messages":[]}""", """{"include_timestamp":true}"""));
        Assert.True(DateTimeOffset.TryParse(reply.Metadata!["context_timestamp"], System.Globalization.CultureInfo.InvariantCulture, out _));
    }
}
