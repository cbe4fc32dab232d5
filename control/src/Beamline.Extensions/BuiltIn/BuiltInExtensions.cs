using Beamline.Pipeline.Extensions;

namespace Beamline.Extensions.BuiltIn;

/// <summary>The built-in extensions, one instance each: they are stateless and serve every request.</summary>
public static class BuiltInExtensions
{
    /// <summary>
    /// <c>normalize_text</c>, <c>pii_guard</c>, <c>mask_pii</c>, <c>content_filter</c>,
    /// <c>add_context</c> and <c>add_metadata</c>, for registration as
    /// <see cref="IBuiltInExtension"/> services.
    /// </summary>
    public static IReadOnlyList<IBuiltInExtension> All { get; } =
    [
        new NormalizeTextExtension(),
        new PiiGuardExtension(),
        new MaskPiiExtension(),
        new ContentFilterExtension(),
        new AddContextExtension(),
        new AddMetadataExtension(),
    ];
}
