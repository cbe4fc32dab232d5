using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Beamline.Extensions.BuiltIn.Internal;
using Beamline.Pipeline;
using Beamline.Pipeline.Extensions;

namespace Beamline.Extensions.BuiltIn;

/// <summary>Rewrites one piece of message text.</summary>
public interface ITextRewriter
{
    /// <summary>The rewritten text, or null when <paramref name="text"/> stays as it is.</summary>
    string? Rewrite(ReadOnlySpan<char> text);
}

/// <summary>Reads one piece of message text.</summary>
public interface ITextVisitor
{
    /// <summary>One piece of text, in payload order.</summary>
    void Visit(ReadOnlySpan<char> text);
}

/// <summary>
/// The message text inside a payload, for the built-ins that read or rewrite it.
/// <see cref="PayloadKind.Text"/>: the whole text. <see cref="PayloadKind.Json"/>: only the known
/// text fields, everything else kept byte for byte — requests: <c>messages[].content</c> (a string,
/// or parts' <c>text</c>), <c>prompt</c> and <c>input</c> (a string or strings; Responses items'
/// <c>content</c> string or parts' <c>text</c>), <c>text</c>, <c>system</c> (a string, or blocks'
/// <c>text</c>); answers: <c>choices[].message.content</c> (or its parts' <c>text</c>),
/// <c>choices[].delta.content</c>, <c>choices[].text</c>, <c>content[].text</c>,
/// <c>delta.text</c>, <c>output_text</c>, <c>output[].content[].text</c>; and a payload that is a
/// JSON string. <see cref="PayloadKind.Binary"/> and <see cref="PayloadKind.None"/>: nothing.
/// </summary>
public static class PayloadText
{
    /// <summary>
    /// Rewrites the payload's text; false (and nothing allocated for a new payload) when no text
    /// changed. Throws <see cref="JsonException"/> for a <see cref="PayloadKind.Json"/> payload that
    /// is not JSON.
    /// </summary>
    public static bool TryRewrite<TRewriter>(ReadOnlyMemory<byte> payload, PayloadKind kind, ref TRewriter rewriter,
        [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out byte[]? rewritten)
        where TRewriter : ITextRewriter, allows ref struct
    {
        rewritten = kind switch
        {
            PayloadKind.Text => RewriteText(payload.Span, ref rewriter),
            PayloadKind.Json => RewriteJson(payload.Span, ref rewriter, everyString: false),
            _ => null,
        };
        return rewritten is not null;
    }

    /// <summary>
    /// As <see cref="TryRewrite"/>, but a <see cref="PayloadKind.Json"/> payload has every string
    /// value rewritten, not only its message text (property names and other tokens are kept byte for byte).
    /// </summary>
    internal static bool TryRewriteEveryString<TRewriter>(ReadOnlyMemory<byte> payload, PayloadKind kind, ref TRewriter rewriter,
        [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out byte[]? rewritten)
        where TRewriter : ITextRewriter, allows ref struct
    {
        rewritten = kind switch
        {
            PayloadKind.Text => RewriteText(payload.Span, ref rewriter),
            PayloadKind.Json => RewriteJson(payload.Span, ref rewriter, everyString: true),
            _ => null,
        };
        return rewritten is not null;
    }

    /// <summary>
    /// Rewrites the text of <paramref name="input"/>'s payload into a reply: the new payload, or
    /// <see cref="ExtensionReply.Unchanged"/> when nothing changed.
    /// </summary>
    public static ExtensionReply Rewrite<TRewriter>(ExtensionInput input, ref TRewriter rewriter)
        where TRewriter : ITextRewriter, allows ref struct
    {
        ArgumentNullException.ThrowIfNull(input);
        return TryRewrite(input.Payload, input.PayloadKind, ref rewriter, out var rewritten)
            ? new ExtensionReply { Payload = rewritten, PayloadKind = input.PayloadKind }
            : ExtensionReply.Unchanged;
    }

    /// <summary>Reads every piece of the payload's text in order. Throws <see cref="JsonException"/> for malformed JSON.</summary>
    public static void Visit<TVisitor>(ReadOnlyMemory<byte> payload, PayloadKind kind, ref TVisitor visitor)
        where TVisitor : ITextVisitor, allows ref struct
    {
        var bytes = payload.Span;
        if (kind == PayloadKind.Text)
        {
            char[] buffer = ArrayPool<char>.Shared.Rent(Encoding.UTF8.GetMaxCharCount(bytes.Length));
            try
            {
                int length = Encoding.UTF8.GetChars(bytes, buffer);
                visitor.Visit(buffer.AsSpan(0, length));
            }
            finally
            {
                ArrayPool<char>.Shared.Return(buffer);
            }
        }
        else if (kind == PayloadKind.Json)
        {
            char[]? buffer = null;
            try
            {
                var cursor = new JsonTextCursor(bytes);
                while (cursor.MoveNext())
                {
                    Grow(ref buffer, cursor.MaxCharCount);
                    int length = cursor.CopyString(buffer);
                    visitor.Visit(buffer.AsSpan(0, length));
                }
            }
            finally
            {
                if (buffer is not null)
                {
                    ArrayPool<char>.Shared.Return(buffer);
                }
            }
        }
    }

    private static byte[]? RewriteText<TRewriter>(ReadOnlySpan<byte> bytes, ref TRewriter rewriter)
        where TRewriter : ITextRewriter, allows ref struct
    {
        char[] buffer = ArrayPool<char>.Shared.Rent(Encoding.UTF8.GetMaxCharCount(bytes.Length));
        try
        {
            int length = Encoding.UTF8.GetChars(bytes, buffer);
            string? rewritten = rewriter.Rewrite(buffer.AsSpan(0, length));
            return rewritten is null ? null : Encoding.UTF8.GetBytes(rewritten);
        }
        finally
        {
            ArrayPool<char>.Shared.Return(buffer);
        }
    }

    private static byte[]? RewriteJson<TRewriter>(ReadOnlySpan<byte> json, ref TRewriter rewriter, bool everyString)
        where TRewriter : ITextRewriter, allows ref struct
    {
        char[]? buffer = null;
        List<Edit>? edits = null;
        try
        {
            var cursor = new JsonTextCursor(json, everyString);
            while (cursor.MoveNext())
            {
                Grow(ref buffer, cursor.MaxCharCount);
                int length = cursor.CopyString(buffer);
                string? rewritten = rewriter.Rewrite(buffer.AsSpan(0, length));
                if (rewritten is not null)
                {
                    (edits ??= []).Add(new Edit(cursor.TokenStart, cursor.TokenLength,
                        JsonEncodedText.Encode(rewritten, JavaScriptEncoder.UnsafeRelaxedJsonEscaping)));
                }
            }
        }
        finally
        {
            if (buffer is not null)
            {
                ArrayPool<char>.Shared.Return(buffer);
            }
        }

        return edits is null ? null : Splice(json, edits);
    }

    /// <summary>The payload with each edited string token replaced, everything between copied as is.</summary>
    private static byte[] Splice(ReadOnlySpan<byte> json, List<Edit> edits)
    {
        int size = json.Length;
        foreach (var edit in edits)
        {
            size += edit.Value.EncodedUtf8Bytes.Length + 2 - edit.Length;
        }

        var result = new byte[size];
        int from = 0;
        int to = 0;
        foreach (var edit in edits)
        {
            json[from..edit.Start].CopyTo(result.AsSpan(to));
            to += edit.Start - from;
            result[to++] = (byte)'"';
            edit.Value.EncodedUtf8Bytes.CopyTo(result.AsSpan(to));
            to += edit.Value.EncodedUtf8Bytes.Length;
            result[to++] = (byte)'"';
            from = edit.Start + edit.Length;
        }

        json[from..].CopyTo(result.AsSpan(to));
        return result;
    }

    private static void Grow([System.Diagnostics.CodeAnalysis.NotNull] ref char[]? buffer, int length)
    {
        if (buffer is null || buffer.Length < length)
        {
            if (buffer is not null)
            {
                ArrayPool<char>.Shared.Return(buffer);
            }

            buffer = ArrayPool<char>.Shared.Rent(Math.Max(length, 256));
        }
    }

    private readonly record struct Edit(int Start, int Length, JsonEncodedText Value);
}
