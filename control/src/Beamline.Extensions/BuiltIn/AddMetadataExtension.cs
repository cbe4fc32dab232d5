using Beamline.Extensions.BuiltIn.Internal;
using Beamline.Pipeline.Extensions;

namespace Beamline.Extensions.BuiltIn;

/// <summary>
/// <c>add_metadata</c> (pre): merges config <c>metadata</c> (an object) into the request's
/// metadata — string values as they are, other JSON values as their JSON text. The payload is kept.
/// </summary>
public sealed class AddMetadataExtension : IBuiltInExtension
{
    /// <inheritdoc />
    public string Id => "add_metadata";

    /// <inheritdoc />
    public ExtensionType Type => ExtensionType.Pre;

    /// <inheritdoc />
    public ExtensionReply Invoke(ExtensionInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        try
        {
            var metadata = new BuiltInConfig(Id, input.Config).GetMetadata("metadata");
            return metadata is null ? ExtensionReply.Unchanged : new ExtensionReply { Metadata = metadata };
        }
        catch (BuiltInConfigException exception)
        {
            return BuiltInFailures.Config(exception);
        }
    }
}
