using Beamline.Host.Dashboard;
using Beamline.Testing;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace Beamline.Host.Tests.Dashboard;

public sealed class DashboardSessionsTests
{
    private readonly ManualTimeProvider _time = new();

    private DashboardSessions Sessions(int max = 64) => new(Options.Create(new DashboardOptions
    {
        SessionLifetime = TimeSpan.FromHours(1),
        MaxSessions = max,
    }), _time);

    [Fact]
    public void IsValid_TheCookieItSet_UntilTheLifetimePasses()
    {
        var sessions = Sessions();
        var cookie = Open(sessions);

        Assert.True(sessions.IsValid(Request(cookie)));
        _time.Advance(TimeSpan.FromMinutes(59));
        Assert.True(sessions.IsValid(Request(cookie)));
        _time.Advance(TimeSpan.FromMinutes(2));
        Assert.False(sessions.IsValid(Request(cookie)));
        Assert.Equal(0, sessions.Count);
    }

    [Fact]
    public void IsThrottled_AfterTenFailedSignInsFromOneAddress_UntilTheMinuteEnds_OtherAddressesNot()
    {
        var sessions = Sessions();
        var guesser = new DefaultHttpContext();
        guesser.Connection.RemoteIpAddress = System.Net.IPAddress.Parse("203.0.113.7");
        var admin = new DefaultHttpContext();
        admin.Connection.RemoteIpAddress = System.Net.IPAddress.Parse("198.51.100.2");

        for (var i = 0; i < DashboardSessions.MaxFailures; i++)
        {
            Assert.False(sessions.IsThrottled(guesser));
            sessions.Failed(guesser);
        }

        Assert.True(sessions.IsThrottled(guesser));
        Assert.False(sessions.IsThrottled(admin));
        _time.Advance(DashboardSessions.FailureWindow);
        Assert.False(sessions.IsThrottled(guesser));
    }

    [Fact]
    public void IsValid_NoCookieOrAnUnknownOne_IsFalse()
    {
        var sessions = Sessions();
        Open(sessions);

        Assert.False(sessions.IsValid(new DefaultHttpContext().Request));
        Assert.False(sessions.IsValid(Request("beamline_session=" + new string('A', 43))));
    }

    [Fact]
    public void Open_PastTheCap_EndsTheSessionClosestToExpiry()
    {
        var sessions = Sessions(max: 2);
        var first = Open(sessions);
        _time.Advance(TimeSpan.FromMinutes(1));
        var second = Open(sessions);
        _time.Advance(TimeSpan.FromMinutes(1));
        var third = Open(sessions);

        Assert.False(sessions.IsValid(Request(first)));
        Assert.True(sessions.IsValid(Request(second)));
        Assert.True(sessions.IsValid(Request(third)));
    }

    [Fact]
    public void Close_EndsTheSessionAndClearsTheCookie()
    {
        var sessions = Sessions();
        var cookie = Open(sessions);
        var context = new DefaultHttpContext();
        context.Request.Headers.Cookie = cookie;

        sessions.Close(context);

        Assert.False(sessions.IsValid(Request(cookie)));
        Assert.StartsWith("beamline_session=;", context.Response.Headers.SetCookie.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Open_TokensAreRandomAndLong()
    {
        var sessions = Sessions();
        var a = Open(sessions);
        var b = Open(sessions);

        Assert.NotEqual(a, b);
        Assert.True(a.Length - "beamline_session=".Length >= 43); // 32 random bytes
    }

    // Opens a session; the "name=value" cookie the browser would send back.
    private static string Open(DashboardSessions sessions)
    {
        var context = new DefaultHttpContext();
        sessions.Open(context);
        var header = context.Response.Headers.SetCookie.ToString();
        return header[..header.IndexOf(';', StringComparison.Ordinal)];
    }

    private static HttpRequest Request(string cookie)
    {
        var context = new DefaultHttpContext();
        context.Request.Headers.Cookie = cookie;
        return context.Request;
    }
}
