using System.Text;
using System.Text.Json;
using Beamline.Extensions.BuiltIn.Pii;
using Beamline.Pipeline;

namespace Beamline.Extensions.BuiltIn;

/// <summary>
/// <c>mask_pii</c>'s masking with its default settings (every type, the default tokens such as
/// <c>[EMAIL]</c>), for what the control plane keeps outside a request's life (request replay):
/// a kept copy masks every string value of a JSON payload, not only the message text the extension rewrites.
/// </summary>
public static class PiiMasking
{
    /// <summary>
    /// The masked copy of <paramref name="payload"/>: <see cref="PayloadKind.Text"/> whole,
    /// <see cref="PayloadKind.Json"/> every string value (a payload that is not JSON, for example one
    /// cut short, is masked as text); the payload itself when it holds no PII. Null for
    /// <see cref="PayloadKind.Binary"/>, whose PII cannot be found, and for <see cref="PayloadKind.None"/>.
    /// </summary>
    public static ReadOnlyMemory<byte>? Mask(ReadOnlyMemory<byte> payload, PayloadKind kind)
    {
        if (kind is PayloadKind.Binary or PayloadKind.None)
        {
            return null;
        }
        var masker = new PiiMasker(PiiOptions.Default);
        try
        {
            return PayloadText.TryRewriteEveryString(payload, kind, ref masker, out var masked) ? masked : payload;
        }
        catch (JsonException)
        {
            return PayloadText.TryRewriteEveryString(payload, PayloadKind.Text, ref masker, out var masked) ? masked : payload;
        }
    }

    /// <summary>The masked copy of <paramref name="text"/> (the same string when it holds no PII).</summary>
    public static string MaskText(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return new PiiMasker(PiiOptions.Default).Rewrite(text) ?? text;
    }

    /// <summary>As <see cref="MaskText(string)"/> for UTF-8 text.</summary>
    public static string MaskText(ReadOnlySpan<byte> utf8) => MaskText(Encoding.UTF8.GetString(utf8));
}
