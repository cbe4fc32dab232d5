namespace Beamline.Pipeline;

/// <summary>
/// The shape of a request's payload, or of a provider's answer: which API it speaks. Provider
/// clients build the upstream body from the request's format (passing it through when the
/// provider speaks the same one) and say which format their answer is in; the faces translate
/// answers into their client's format.
/// </summary>
public enum WireFormat
{
    /// <summary>Unknown or opaque bytes (a block's output).</summary>
    None,

    /// <summary>A CP1 payload (<c>{"text"}</c>, <c>{"messages"}</c>, a string, …).</summary>
    Cp1,

    /// <summary>OpenAI Chat Completions (<c>/v1/chat/completions</c>).</summary>
    OpenAIChat,

    /// <summary>OpenAI Responses (<c>/v1/responses</c>).</summary>
    OpenAIResponses,

    /// <summary>OpenAI Embeddings (<c>/v1/embeddings</c>).</summary>
    OpenAIEmbeddings,

    /// <summary>Anthropic Messages (<c>/v1/messages</c>).</summary>
    AnthropicMessages,
}
