using Beamline.Dispatch.InProcess;

namespace Beamline.Dispatch.Tests.InProcess;

public sealed class PoolThreadsTests
{
    private sealed class Probe(Action run) : PoolThreads.PoolWork
    {
        public override void Run() => run();
    }

    [Fact]
    public void TryEnqueue_PoolNotOfferedOrZeroCapacity_IsNotOffered()
    {
        using var pools = new PoolThreads(new Dictionary<string, int> { ["cpu"] = 1, ["gpu"] = 0 }, queueLimit: 4);
        Assert.Equal(PoolThreads.Admission.NotOffered, pools.TryEnqueue("io", new Probe(() => { })));
        Assert.Equal(PoolThreads.Admission.NotOffered, pools.TryEnqueue("gpu", new Probe(() => { })));
    }

    [Fact]
    public async Task Work_RunsOnThePoolsOwnThreads_NeverOnTheThreadPool()
    {
        using var pools = new PoolThreads(new Dictionary<string, int> { ["io"] = 2 }, queueLimit: 4);
        var ran = new TaskCompletionSource<(bool ThreadPool, string? Name)>(TaskCreationOptions.RunContinuationsAsynchronously);
        Assert.Equal(PoolThreads.Admission.Queued,
            pools.TryEnqueue("io", new Probe(() => ran.SetResult((Thread.CurrentThread.IsThreadPoolThread, Thread.CurrentThread.Name)))));

        var (threadPool, name) = await ran.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(threadPool);
        Assert.StartsWith("beamline-io-", name, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TryEnqueue_AllThreadsBusyAndQueueFull_IsRefusedAtOnce()
    {
        using var release = new ManualResetEventSlim();
        using var pools = new PoolThreads(new Dictionary<string, int> { ["cpu"] = 1 }, queueLimit: 1);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Assert.Equal(PoolThreads.Admission.Queued, pools.TryEnqueue("cpu", new Probe(() => { started.SetResult(); release.Wait(); })));
        await started.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var second = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Assert.Equal(PoolThreads.Admission.Queued, pools.TryEnqueue("cpu", new Probe(second.SetResult)));

        Assert.Equal(PoolThreads.Admission.Full, pools.TryEnqueue("cpu", new Probe(() => { })));

        release.Set();
        await second.Task.WaitAsync(TimeSpan.FromSeconds(10)); // the queued one runs once a thread is free
    }
}
