using System.Text;

namespace Beamline.Gateway.Translation.Answers;

/// <summary>
/// An answer between two APIs: its text and tool calls in order, why it stopped, its usage. The
/// whole-answer readers fill it; the writers and the stream emitters write it in a client's format.
/// </summary>
internal sealed class NeutralAnswer
{
    public string? Id { get; set; }

    public string? Model { get; set; }

    public long Created { get; set; }

    public List<AnswerPart> Parts { get; } = [];

    public StopReason Stop { get; set; }

    public TokenUsage Usage;

    /// <summary>The text of every text part, joined.</summary>
    public string? JoinedText()
    {
        StringBuilder? text = null;
        foreach (var part in Parts)
        {
            if (!part.IsToolCall)
            {
                (text ??= new StringBuilder()).Append(part.Content);
            }
        }
        return text?.ToString();
    }

    public bool HasToolCalls()
    {
        foreach (var part in Parts)
        {
            if (part.IsToolCall)
            {
                return true;
            }
        }
        return false;
    }
}

/// <summary>A text (its <see cref="Content"/>) or a tool call (<see cref="Id"/>, <see cref="Name"/>, its arguments as JSON text in <see cref="Content"/>).</summary>
internal sealed class AnswerPart
{
    public bool IsToolCall { get; init; }

    public string? Id { get; init; }

    public string? Name { get; init; }

    public StringBuilder Content { get; } = new();
}
