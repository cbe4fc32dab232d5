using Microsoft.AspNetCore.Http;

namespace Beamline.Host.Http;

/// <summary>Where a client's API key travels: <c>Authorization: Bearer &lt;key&gt;</c> or <c>X-API-Key: &lt;key&gt;</c>.</summary>
internal static class ApiKeys
{
    private const string BearerScheme = "Bearer ";

    /// <summary>The key the request carries, or null.</summary>
    public static string? From(HttpRequest request)
    {
        var authorization = request.Headers.Authorization;
        if (authorization.Count == 1 && authorization[0] is { } value && value.StartsWith(BearerScheme, StringComparison.OrdinalIgnoreCase))
        {
            return value[BearerScheme.Length..].Trim();
        }
        var header = request.Headers["X-API-Key"];
        return header.Count == 1 && !string.IsNullOrWhiteSpace(header[0]) ? header[0]!.Trim() : null;
    }
}
