using System.Buffers;
using System.Text.Json;
using Beamline.Pipeline;
using Beamline.Routing.Catalog;

namespace Beamline.Providers.Mock;

/// <summary>Whole mock answers, in the shapes the real APIs give.</summary>
internal static class MockAnswers
{
    /// <summary>An OpenAI <c>chat.completion</c>.</summary>
    public static byte[] ChatCompletion(ProviderDescriptor provider, string reply, MockUsage usage, DateTimeOffset now)
        => Write(writer =>
        {
            writer.WriteStartObject();
            writer.WriteString("id", "chatcmpl-mock-" + Guid.NewGuid().ToString("N"));
            writer.WriteString("object", "chat.completion");
            writer.WriteNumber("created", now.ToUnixTimeSeconds());
            writer.WriteString("model", Model(provider));
            writer.WriteStartArray("choices");
            writer.WriteStartObject();
            writer.WriteNumber("index", 0);
            writer.WriteStartObject("message");
            writer.WriteString("role", "assistant");
            writer.WriteString("content", reply);
            writer.WriteNull("refusal");
            writer.WriteEndObject();
            writer.WriteNull("logprobs");
            writer.WriteString("finish_reason", "stop");
            writer.WriteEndObject();
            writer.WriteEndArray();
            WriteOpenAIUsage(writer, usage);
            writer.WriteEndObject();
        });

    /// <summary>An Anthropic <c>message</c>.</summary>
    public static byte[] AnthropicMessage(ProviderDescriptor provider, string reply, MockUsage usage)
        => Write(writer =>
        {
            writer.WriteStartObject();
            writer.WriteString("id", "msg_mock_" + Guid.NewGuid().ToString("N"));
            writer.WriteString("type", "message");
            writer.WriteString("role", "assistant");
            writer.WriteString("model", Model(provider));
            writer.WriteStartArray("content");
            writer.WriteStartObject();
            writer.WriteString("type", "text");
            writer.WriteString("text", reply);
            writer.WriteEndObject();
            writer.WriteEndArray();
            writer.WriteString("stop_reason", "end_turn");
            writer.WriteNull("stop_sequence");
            writer.WriteStartObject("usage");
            writer.WriteNumber("input_tokens", usage.InputTokens);
            writer.WriteNumber("output_tokens", usage.OutputTokens);
            writer.WriteEndObject();
            writer.WriteEndObject();
        });

    /// <summary>
    /// An OpenAI embeddings list: one deterministic unit vector (8 dimensions, from the text's hash)
    /// per input, so equal texts embed equally.
    /// </summary>
    public static byte[] Embeddings(ProviderDescriptor provider, PipelineRequest request)
    {
        var inputs = EmbeddingInputs(request);
        var tokens = 0;
        return Write(writer =>
        {
            writer.WriteStartObject();
            writer.WriteString("object", "list");
            writer.WriteStartArray("data");
            for (var i = 0; i < inputs.Count; i++)
            {
                tokens += MockText.Tokens(inputs[i]);
                writer.WriteStartObject();
                writer.WriteString("object", "embedding");
                writer.WriteNumber("index", i);
                writer.WriteStartArray("embedding");
                foreach (var value in Vector(inputs[i]))
                {
                    writer.WriteNumberValue(value);
                }
                writer.WriteEndArray();
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
            writer.WriteString("model", Model(provider));
            writer.WriteStartObject("usage");
            writer.WriteNumber("prompt_tokens", tokens);
            writer.WriteNumber("total_tokens", tokens);
            writer.WriteEndObject();
            writer.WriteEndObject();
        });
    }

    /// <summary>The model a mock reports: its entry's, else <c>mock</c>.</summary>
    public static string Model(ProviderDescriptor provider) => provider.DefaultModel ?? "mock";

    /// <summary><c>"usage": {prompt_tokens, completion_tokens, total_tokens}</c>.</summary>
    public static void WriteOpenAIUsage(Utf8JsonWriter writer, MockUsage usage)
    {
        writer.WriteStartObject("usage");
        writer.WriteNumber("prompt_tokens", usage.InputTokens);
        writer.WriteNumber("completion_tokens", usage.OutputTokens);
        writer.WriteNumber("total_tokens", usage.InputTokens + usage.OutputTokens);
        writer.WriteEndObject();
    }

    /// <summary>Writes one JSON document to a new array.</summary>
    public static byte[] Write(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            write(writer);
        }
        return buffer.WrittenSpan.ToArray();
    }

    private static List<string> EmbeddingInputs(PipelineRequest request)
    {
        var inputs = new List<string>();
        if (request.PayloadKind == PayloadKind.Json)
        {
            try
            {
                using var document = JsonDocument.Parse(request.Payload);
                if (document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("input", out var input))
                {
                    if (input.ValueKind == JsonValueKind.String)
                    {
                        inputs.Add(input.GetString()!);
                    }
                    else if (input.ValueKind == JsonValueKind.Array)
                    {
                        foreach (var item in input.EnumerateArray())
                        {
                            inputs.Add(item.ValueKind == JsonValueKind.String ? item.GetString()! : item.GetRawText());
                        }
                    }
                }
            }
            catch (JsonException)
            {
                // No inputs: an empty list.
            }
        }
        return inputs;
    }

    private static double[] Vector(string text)
    {
        var hash = BitConverter.ToUInt64(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text)));
        var vector = new double[8];
        var norm = 0.0;
        for (var i = 0; i < vector.Length; i++)
        {
            vector[i] = ((int)((hash >> (i * 8)) & 0xff) - 127.5) / 127.5;
            norm += vector[i] * vector[i];
        }
        norm = Math.Sqrt(norm);
        for (var i = 0; i < vector.Length; i++)
        {
            vector[i] = Math.Round(vector[i] / norm, 6);
        }
        return vector;
    }
}
