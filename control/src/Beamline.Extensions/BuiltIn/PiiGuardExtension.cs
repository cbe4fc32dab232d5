using System.Text.Json;
using Beamline.Extensions.BuiltIn.Internal;
using Beamline.Extensions.BuiltIn.Pii;
using Beamline.Pipeline.Extensions;

namespace Beamline.Extensions.BuiltIn;

/// <summary>
/// <c>pii_guard</c> (validator): rejects a request whose message text holds PII, with reason
/// <c>pii_detected</c> and details <c>{"types":[…],"count":N}</c> — never the PII itself. Config:
/// <c>types</c> (names of <see cref="PiiTypes"/>, default all).
/// </summary>
public sealed class PiiGuardExtension : IBuiltInExtension
{
    /// <inheritdoc />
    public string Id => "pii_guard";

    /// <inheritdoc />
    public ExtensionType Type => ExtensionType.Validator;

    /// <inheritdoc />
    public ExtensionReply Invoke(ExtensionInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        try
        {
            var options = input.Config is null ? PiiOptions.Default : PiiOptions.Read(new BuiltInConfig(Id, input.Config), masking: false);
            var counter = new PiiCounter(options.Types);
            PayloadText.Visit(input.Payload, input.PayloadKind, ref counter);
            if (counter.Count == 0)
            {
                return ExtensionReply.Unchanged;
            }

            return new ExtensionReply
            {
                Rejected = true,
                Reason = "pii_detected",
                Details = BuiltInFailures.Details(counter, static (writer, found) =>
                {
                    writer.WriteStartObject();
                    writer.WriteStartArray("types");
                    foreach (var type in PiiTypeNames.Ordered)
                    {
                        if ((found.Found & type) != 0)
                        {
                            writer.WriteStringValue(PiiTypeNames.NameOf(type));
                        }
                    }

                    writer.WriteEndArray();
                    writer.WriteNumber("count", found.Count);
                    writer.WriteEndObject();
                }),
            };
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

    /// <summary>Counts the entities of every text piece.</summary>
    private struct PiiCounter(PiiTypes types) : ITextVisitor, IPiiSink
    {
        public int Count;
        public PiiTypes Found;

        public void Visit(ReadOnlySpan<char> text) => PiiScanner.Scan(text, 0, text.Length, types, ref this);

        public void OnMatch(in PiiMatch match)
        {
            Count++;
            Found |= match.Type;
        }
    }
}
