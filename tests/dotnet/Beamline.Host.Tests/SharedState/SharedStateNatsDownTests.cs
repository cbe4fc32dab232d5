using System.Net;
using Beamline.Testing;

namespace Beamline.Host.Tests.SharedState;

/// <summary>
/// NATS down with shared state: a control plane keeps serving callers without limits, serves a
/// limited caller from the allowance it already holds and then refuses it (429, retry soon) rather
/// than spend a budget no other control plane can see; once NATS is back, the caller is served again.
/// </summary>
public sealed class SharedStateNatsDownTests : IAsyncLifetime
{
    private readonly SharedStateFixture _fixture = new();

    public Task InitializeAsync() => _fixture.InitializeAsync();

    public Task DisposeAsync() => _fixture.DisposeAsync();

    [Fact]
    public async Task NatsDown_LimitedCallersFailClosed_UnlimitedAreServed_AndServiceReturnsWithNats()
    {
        Assert.Equal(HttpStatusCode.OK, await _fixture.ChatAsync(_fixture.A, SharedStateFixture.QuotaKey));

        await _fixture.Nats.KillAsync();

        // The quota tenant is served from A's allowance at most, then refused; never more than its quota.
        var answered = 1;
        HttpStatusCode status;
        while ((status = await _fixture.ChatAsync(_fixture.A, SharedStateFixture.QuotaKey)) == HttpStatusCode.OK)
        {
            answered++;
            Assert.True(answered <= SharedStateFixture.RequestsPerMinute, "served past the quota with NATS down");
        }
        Assert.Equal(HttpStatusCode.TooManyRequests, status);
        Assert.Equal(HttpStatusCode.OK, await _fixture.ChatAsync(_fixture.A, SharedStateFixture.FreeKey));

        await _fixture.Nats.RestartAsync();

        var back = await SharedStateFixture.EventuallyAsync(
            async () => await _fixture.ChatAsync(_fixture.A, SharedStateFixture.QuotaKey) == HttpStatusCode.OK, TimeSpan.FromSeconds(10));
        Assert.True(back, "the quota tenant was not served again after NATS came back");
    }
}
