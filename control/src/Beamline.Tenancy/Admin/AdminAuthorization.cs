using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Net.Http.Headers;

namespace Beamline.Tenancy.Admin;

/// <summary>
/// Checks <c>Authorization: Bearer &lt;admin key&gt;</c> in constant time; for GET and HEAD, a live
/// <see cref="IAdminSessions"/> session (the dashboard's cookie) is accepted as well.
/// </summary>
internal sealed class AdminAuthorization
{
    private const string Scheme = "Bearer ";

    // Both sides are hashed first, so that the comparison takes the same time whatever the length.
    private readonly byte[]? _expectedHash;

    public AdminAuthorization(string? adminKey)
    {
        _expectedHash = string.IsNullOrEmpty(adminKey) ? null : SHA256.HashData(Encoding.UTF8.GetBytes(adminKey));
    }

    public bool IsEnabled => _expectedHash is not null;

    public bool IsAuthorized(HttpRequest request)
    {
        if (_expectedHash is null)
        {
            return false;
        }
        var header = request.Headers[HeaderNames.Authorization];
        if (header.Count == 0)
        {
            // Reads only: a session can never change anything, whatever a page tricks a browser into sending.
            return (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method))
                && request.HttpContext.RequestServices?.GetService<IAdminSessions>() is { } sessions
                && sessions.IsValid(request);
        }
        if (header.Count != 1 || header[0] is not { } value || !value.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }
        return Matches(value.AsSpan(Scheme.Length).Trim());
    }

    /// <summary>True when <paramref name="presented"/> is the admin key (compared in constant time).</summary>
    public bool Matches(ReadOnlySpan<char> presented)
    {
        if (_expectedHash is null)
        {
            return false;
        }
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        var bytes = Encoding.UTF8.GetBytes(presented.ToString());
        SHA256.HashData(bytes, hash);
        return CryptographicOperations.FixedTimeEquals(hash, _expectedHash);
    }
}
