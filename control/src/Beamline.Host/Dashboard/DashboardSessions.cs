using System.Security.Cryptography;
using Beamline.Tenancy.Admin;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace Beamline.Host.Dashboard;

/// <summary>
/// The dashboard's browser sessions. Logging in with the admin key opens one: the browser gets an
/// opaque random token in an HttpOnly, SameSite=Strict cookie (Secure over HTTPS), never the key.
/// The server keeps only the token's SHA-256 and its expiry, so a memory dump shows no usable
/// token. As <see cref="IAdminSessions"/> the session authorizes admin reads (GET, HEAD) only:
/// SameSite=Strict keeps other sites' pages from sending it, and no change can be made with it.
/// Sessions live in this process: a restart logs everyone out.
/// </summary>
internal sealed class DashboardSessions(IOptions<DashboardOptions> options, TimeProvider time) : IAdminSessions
{
    /// <summary>The cookie's name.</summary>
    public const string CookieName = "beamline_session";

    private const int TokenBytes = 32;

    private readonly Dictionary<string, DateTimeOffset> _expiries = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    /// <summary>Failed sign-ins one address may make in <see cref="FailureWindow"/> before it is refused until the window ends.</summary>
    public const int MaxFailures = 10;

    /// <summary>The window failed sign-ins are counted in.</summary>
    public static readonly TimeSpan FailureWindow = TimeSpan.FromMinutes(1);

    // Failed sign-ins per client address: (count, window start). Bounded: past 10,000 addresses it starts over.
    private readonly Dictionary<System.Net.IPAddress, (int Count, DateTimeOffset Since)> _failures = [];

    /// <summary>Whether <paramref name="context"/>'s address has failed to sign in too often lately (guessing the key).</summary>
    public bool IsThrottled(HttpContext context)
    {
        if (context.Connection.RemoteIpAddress is not { } address)
        {
            return false;
        }
        lock (_lock)
        {
            return _failures.TryGetValue(address, out var seen) && seen.Count >= MaxFailures && time.GetUtcNow() - seen.Since < FailureWindow;
        }
    }

    /// <summary>Counts a failed sign-in of <paramref name="context"/>'s address.</summary>
    public void Failed(HttpContext context)
    {
        if (context.Connection.RemoteIpAddress is not { } address)
        {
            return;
        }
        var now = time.GetUtcNow();
        lock (_lock)
        {
            if (_failures.Count >= 10_000)
            {
                _failures.Clear();
            }
            _failures[address] = _failures.TryGetValue(address, out var seen) && now - seen.Since < FailureWindow
                ? (seen.Count + 1, seen.Since)
                : (1, now);
        }
    }

    /// <summary>Sessions that have not expired (for tests).</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                RemoveExpired(time.GetUtcNow());
                return _expiries.Count;
            }
        }
    }

    /// <summary>Opens a session and sets its cookie on <paramref name="context"/>'s response.</summary>
    public void Open(HttpContext context)
    {
        var settings = options.Value;
        var token = Base64Url(RandomNumberGenerator.GetBytes(TokenBytes));
        var now = time.GetUtcNow();
        lock (_lock)
        {
            RemoveExpired(now);
            while (_expiries.Count >= settings.MaxSessions)
            {
                _expiries.Remove(_expiries.MinBy(pair => pair.Value).Key);
            }
            _expiries[Hash(token)] = now + settings.SessionLifetime;
        }
        context.Response.Cookies.Append(CookieName, token, Cookie(context, settings.SessionLifetime));
    }

    /// <summary>Ends the session of <paramref name="context"/>'s request, if any, and clears its cookie.</summary>
    public void Close(HttpContext context)
    {
        if (context.Request.Cookies[CookieName] is { Length: > 0 } token)
        {
            lock (_lock)
            {
                _expiries.Remove(Hash(token));
            }
        }
        context.Response.Cookies.Delete(CookieName, Cookie(context, null));
    }

    /// <inheritdoc />
    public bool IsValid(HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Cookies[CookieName] is not { Length: > 0 and < 128 } token)
        {
            return false;
        }
        var hash = Hash(token);
        lock (_lock)
        {
            if (!_expiries.TryGetValue(hash, out var expiry))
            {
                return false;
            }
            if (expiry > time.GetUtcNow())
            {
                return true;
            }
            _expiries.Remove(hash);
            return false;
        }
    }

    private static CookieOptions Cookie(HttpContext context, TimeSpan? lifetime) => new()
    {
        HttpOnly = true,
        SameSite = SameSiteMode.Strict,
        Secure = context.Request.IsHttps,
        Path = "/", // the dashboard reads /admin/v1/* as well as /ui/*
        MaxAge = lifetime,
        IsEssential = true,
    };

    private void RemoveExpired(DateTimeOffset now)
    {
        List<string>? expired = null;
        foreach (var (hash, expiry) in _expiries)
        {
            if (expiry <= now)
            {
                (expired ??= []).Add(hash);
            }
        }
        foreach (var hash in expired ?? [])
        {
            _expiries.Remove(hash);
        }
    }

    // The lookup key: the token's hash, so that what the server holds cannot be replayed as a cookie.
    private static string Hash(string token) => Convert.ToHexString(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(token)));

    private static string Base64Url(byte[] bytes) => System.Buffers.Text.Base64Url.EncodeToString(bytes);
}
