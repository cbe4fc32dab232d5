using System.Text.Json;
using Beamline.Extensions.BuiltIn.Internal;
using Beamline.Extensions.BuiltIn.Pii;
using Beamline.Pipeline.Extensions;

namespace Beamline.Extensions.BuiltIn;

/// <summary>
/// <c>mask_pii</c> (post, streaming): replaces each PII entity in the message text with a token —
/// <c>[EMAIL]</c>, <c>[PHONE]</c>, <c>[CARD]</c>, <c>[IBAN]</c>, <c>[SSN]</c>, <c>[IP]</c>. Config:
/// <c>types</c> (names of <see cref="PiiTypes"/>, default all) and <c>replacement</c> (an object
/// from type name to token). A stream is masked holding back at most
/// <see cref="PiiScanner.Lookahead"/> characters.
/// </summary>
public sealed class MaskPiiExtension : IStreamingPostExtension
{
    /// <inheritdoc />
    public string Id => "mask_pii";

    /// <inheritdoc />
    public ExtensionType Type => ExtensionType.Post;

    /// <inheritdoc />
    public ExtensionReply Invoke(ExtensionInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        try
        {
            var masker = new PiiMasker(ReadOptions(input));
            return PayloadText.Rewrite(input, ref masker);
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

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The config is not of the shape <c>mask_pii</c> reads.</exception>
    public IStreamRewriter BeginStream(ExtensionInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        try
        {
            return new PiiStreamMasker(ReadOptions(input));
        }
        catch (BuiltInConfigException exception)
        {
            throw new ArgumentException(exception.Message, nameof(input), exception);
        }
    }

    private PiiOptions ReadOptions(ExtensionInput input) =>
        input.Config is null ? PiiOptions.Default : PiiOptions.Read(new BuiltInConfig(Id, input.Config), masking: true);
}
