using System.Collections.Frozen;
using System.Security.Cryptography;

namespace Beamline.Host.Dashboard;

/// <summary>One file of the dashboard, read once from the assembly.</summary>
/// <param name="Name">The file name (<c>dashboard.js</c>).</param>
/// <param name="ContentType">Its media type, with the charset for text.</param>
/// <param name="Content">Its bytes.</param>
/// <param name="ETag">A strong validator: the content's SHA-256, quoted.</param>
internal sealed record DashboardAsset(string Name, string ContentType, byte[] Content, string ETag);

/// <summary>
/// The dashboard's HTML, script and style, embedded in this assembly (<c>Dashboard/Assets/*</c>),
/// so that the page needs nothing from anywhere but the control plane itself.
/// </summary>
internal sealed class DashboardAssets
{
    private const string Prefix = "Beamline.Host.Dashboard.Assets.";

    private readonly FrozenDictionary<string, DashboardAsset> _assets;

    public DashboardAssets()
    {
        var assembly = typeof(DashboardAssets).Assembly;
        var assets = new Dictionary<string, DashboardAsset>(StringComparer.Ordinal);
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            if (!resource.StartsWith(Prefix, StringComparison.Ordinal))
            {
                continue;
            }
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            var content = copy.ToArray();
            var name = resource[Prefix.Length..];
            var etag = "\"" + Convert.ToHexStringLower(SHA256.HashData(content).AsSpan(0, 16)) + "\"";
            assets[name] = new DashboardAsset(name, ContentType(name), content, etag);
        }
        _assets = assets.ToFrozenDictionary(StringComparer.Ordinal);
    }

    /// <summary>The asset called <paramref name="name"/>, or null.</summary>
    public DashboardAsset? Find(string name) => _assets.GetValueOrDefault(name);

    /// <summary>The asset called <paramref name="name"/>, which the build embeds.</summary>
    public DashboardAsset Get(string name) => Find(name) ?? throw new InvalidOperationException($"the dashboard asset '{name}' is not embedded");

    private static string ContentType(string name) => Path.GetExtension(name) switch
    {
        ".html" => "text/html; charset=utf-8",
        ".js" => "text/javascript; charset=utf-8",
        ".css" => "text/css; charset=utf-8",
        ".svg" => "image/svg+xml",
        ".png" => "image/png",
        _ => "application/octet-stream",
    };
}
