using System.Buffers;
using System.Text.Json;
using Beamline.Extensions.BuiltIn.Internal;
using Beamline.Pipeline.Extensions;

namespace Beamline.Extensions.BuiltIn;

/// <summary>
/// <c>normalize_text</c> (pre): normalizes the message text. Config: <c>unicode_nfc</c> (Unicode
/// normalization form C; default true), <c>trim</c> (leading and trailing white space; default
/// true), <c>collapse_whitespace</c> (each run of white space becomes one space, or one line break
/// when it holds one, so paragraphs and lists keep their lines; default true), <c>lowercase</c>
/// (invariant culture; default false). Applied in that order.
/// </summary>
public sealed class NormalizeTextExtension : IBuiltInExtension
{
    /// <inheritdoc />
    public string Id => "normalize_text";

    /// <inheritdoc />
    public ExtensionType Type => ExtensionType.Pre;

    /// <inheritdoc />
    public ExtensionReply Invoke(ExtensionInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        try
        {
            var config = new BuiltInConfig(Id, input.Config);
            var normalizer = new Normalizer(
                config.GetBoolean("unicode_nfc", true),
                config.GetBoolean("trim", config.GetBoolean("trim_whitespace", true)), // trim_whitespace: the upstream name
                config.GetBoolean("collapse_whitespace", true),
                config.GetBoolean("lowercase", false));
            return PayloadText.Rewrite(input, ref normalizer);
        }
        catch (BuiltInConfigException exception)
        {
            return BuiltInFailures.Config(exception);
        }
        catch (JsonException exception)
        {
            return BuiltInFailures.MalformedPayload(Id, exception);
        }
    }

    private readonly struct Normalizer(bool nfc, bool trim, bool collapse, bool lowercase) : ITextRewriter
    {
        public string? Rewrite(ReadOnlySpan<char> text)
        {
            ReadOnlySpan<char> source = text;
            if (nfc && UnicodeNfc.Normalize(text) is { } composed)
            {
                source = composed;
            }

            if (trim)
            {
                source = source.Trim();
            }

            char[] buffer = ArrayPool<char>.Shared.Rent(Math.Max(source.Length * 2, 1));
            try
            {
                var result = buffer.AsSpan(0, source.Length);
                int length = collapse ? Collapse(source, result) : Copy(source, result);
                result = result[..length];
                if (lowercase)
                {
                    var lowered = buffer.AsSpan(source.Length, length);
                    result.ToLowerInvariant(lowered);
                    result = lowered;
                }

                return result.SequenceEqual(text) ? null : new string(result);
            }
            finally
            {
                ArrayPool<char>.Shared.Return(buffer);
            }
        }

        private static int Copy(ReadOnlySpan<char> source, Span<char> destination)
        {
            source.CopyTo(destination);
            return source.Length;
        }

        private static int Collapse(ReadOnlySpan<char> source, Span<char> destination)
        {
            int length = 0;
            int i = 0;
            while (i < source.Length)
            {
                char c = source[i];
                if (!char.IsWhiteSpace(c))
                {
                    destination[length++] = c;
                    i++;
                    continue;
                }

                bool lineBreak = false;
                while (i < source.Length && char.IsWhiteSpace(source[i]))
                {
                    lineBreak |= source[i] is '\n' or '\r';
                    i++;
                }

                destination[length++] = lineBreak ? '\n' : ' ';
            }

            return length;
        }
    }
}
