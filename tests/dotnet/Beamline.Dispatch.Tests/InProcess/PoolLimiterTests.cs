using Beamline.Dispatch.InProcess;

namespace Beamline.Dispatch.Tests.InProcess;

public sealed class PoolLimiterTests
{
    [Fact]
    public async Task Enter_FreeSlot_CompletesSynchronously()
    {
        using var limiter = new PoolLimiter(new Dictionary<string, int> { ["cpu"] = 1 }, queueLimit: 0);
        var admission = limiter.EnterAsync("cpu", CancellationToken.None);
        Assert.True(admission.IsCompletedSuccessfully);
        using var entered = await admission;
        Assert.Equal(PoolLimiter.AdmissionState.Entered, entered.State);
    }

    [Fact]
    public async Task Enter_UnknownOrZeroCapacityPool_IsNotOffered()
    {
        using var limiter = new PoolLimiter(new Dictionary<string, int> { ["cpu"] = 1, ["gpu"] = 0 }, queueLimit: 4);
        Assert.Equal(PoolLimiter.AdmissionState.NotOffered, (await limiter.EnterAsync("io", CancellationToken.None)).State);
        Assert.Equal(PoolLimiter.AdmissionState.NotOffered, (await limiter.EnterAsync("gpu", CancellationToken.None)).State);
    }

    [Fact]
    public async Task Enter_PastQueueLimit_IsRefusedAtOnce()
    {
        using var limiter = new PoolLimiter(new Dictionary<string, int> { ["cpu"] = 1 }, queueLimit: 1);
        var first = await limiter.EnterAsync("cpu", CancellationToken.None);
        var queued = limiter.EnterAsync("cpu", CancellationToken.None);
        Assert.False(queued.IsCompleted);

        var refused = limiter.EnterAsync("cpu", CancellationToken.None);
        Assert.True(refused.IsCompleted);
        Assert.Equal(PoolLimiter.AdmissionState.Full, (await refused).State);

        first.Dispose();
        using var second = await queued;
        Assert.Equal(PoolLimiter.AdmissionState.Entered, second.State);
    }

    [Fact]
    public async Task Enter_CancelledWhileQueued_FreesItsQueuePlace()
    {
        using var limiter = new PoolLimiter(new Dictionary<string, int> { ["cpu"] = 1 }, queueLimit: 1);
        var first = await limiter.EnterAsync("cpu", CancellationToken.None);
        using var cts = new CancellationTokenSource();
        var queued = limiter.EnterAsync("cpu", cts.Token).AsTask();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => queued);

        var next = limiter.EnterAsync("cpu", CancellationToken.None);
        Assert.False(next.IsCompleted);
        first.Dispose();
        Assert.Equal(PoolLimiter.AdmissionState.Entered, (await next).State);
    }
}
