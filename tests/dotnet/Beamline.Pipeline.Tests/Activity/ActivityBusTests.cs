using Beamline.Pipeline.Activity;
using Beamline.Testing;

namespace Beamline.Pipeline.Tests.Activity;

public sealed class ActivityBusTests
{
    private static ActivityEvent Event(string tenant = "tenant_a", string kind = ActivityKinds.Received, string request = "req-1") =>
        new() { Kind = kind, TenantId = tenant, RequestId = request };

    [Fact]
    public void IsEnabled_TrueOnlyWhileSomeoneSubscribes()
    {
        var bus = new ActivityBus();
        Assert.False(bus.IsEnabled);

        var first = bus.Subscribe();
        var second = bus.Subscribe("tenant_a");
        Assert.True(bus.IsEnabled);
        Assert.Equal(2, bus.SubscriberCount);

        first.Dispose();
        Assert.True(bus.IsEnabled);
        second.Dispose();
        second.Dispose(); // twice is harmless
        Assert.False(bus.IsEnabled);
        Assert.Equal(0, bus.SubscriberCount);
    }

    [Fact]
    public async Task Publish_FansOutToEverySubscriber_InOrder()
    {
        var bus = new ActivityBus();
        using var one = bus.Subscribe();
        using var two = bus.Subscribe();

        for (var i = 0; i < 10; i++)
        {
            bus.Publish(Event(request: $"req-{i}"));
        }

        foreach (var subscription in new[] { one, two })
        {
            var received = Drain(subscription);
            Assert.Equal(Enumerable.Range(0, 10).Select(i => $"req-{i}"), received.Select(e => e.RequestId));
            Assert.Equal(Enumerable.Range(1, 10).Select(i => (long)i), received.Select(e => e.Sequence));
        }
        one.Dispose();
        Assert.False(await one.Reader.WaitToReadAsync()); // a disposed subscription's reader completes
    }

    [Fact]
    public void Subscribe_WithTenant_GetsOnlyThatTenantsEvents()
    {
        var bus = new ActivityBus();
        using var a = bus.Subscribe("tenant_a");
        using var all = bus.Subscribe(tenantId: "");
        using var unknown = bus.Subscribe("no_such_tenant");

        bus.Publish(Event("tenant_a", request: "a1"));
        bus.Publish(Event("tenant_b", request: "b1"));
        bus.Publish(Event("TENANT_A", request: "upper")); // ids are compared exactly
        bus.Publish(Event("tenant_a", request: "a2"));

        Assert.Equal(["a1", "a2"], Drain(a).Select(e => e.RequestId));
        Assert.Null(all.TenantId);
        Assert.Equal(["a1", "b1", "upper", "a2"], Drain(all).Select(e => e.RequestId));
        Assert.Empty(Drain(unknown));
    }

    [Fact]
    public void Publish_StampsSequenceAndTime_KeepsTheEmittersTime()
    {
        var clock = new ManualTimeProvider();
        var bus = new ActivityBus(timeProvider: clock);
        using var subscription = bus.Subscribe();
        var emitted = new DateTimeOffset(2024, 6, 1, 12, 0, 0, TimeSpan.FromHours(2));
        var original = Event() with { Sequence = 99 };

        bus.Publish(original);
        clock.Advance(TimeSpan.FromSeconds(3));
        bus.Publish(Event() with { Time = emitted });

        var received = Drain(subscription);
        Assert.Equal(1, received[0].Sequence);
        Assert.Equal(clock.GetUtcNow() - TimeSpan.FromSeconds(3), received[0].Time);
        Assert.Equal(2, received[1].Sequence);
        Assert.Equal(emitted, received[1].Time);
        Assert.Equal(99, original.Sequence); // the emitter's instance is not changed
        Assert.Equal(2, bus.LastSequence);
    }

    [Fact]
    public async Task Sequence_ConcurrentPublishers_StrictlyIncreasingForEverySubscriber()
    {
        var bus = new ActivityBus(new ActivityOptions { BufferCapacity = 100_000 });
        using var one = bus.Subscribe();
        using var two = bus.Subscribe();

        await Task.WhenAll(Enumerable.Range(0, 4).Select(t => Task.Run(() =>
        {
            for (var i = 0; i < 5_000; i++)
            {
                bus.Publish(Event(request: $"{t}-{i}"));
            }
        })));

        foreach (var subscription in new[] { one, two })
        {
            var sequences = Drain(subscription).Select(e => e.Sequence).ToArray();
            Assert.Equal(20_000, sequences.Length);
            Assert.Equal(Enumerable.Range(1, 20_000).Select(i => (long)i), sequences);
        }
    }

    [Fact]
    public void Publish_ReaderThatNeverReads_DropsOldestAndCounts_WithoutBlocking()
    {
        var bus = new ActivityBus(new ActivityOptions { BufferCapacity = 16 });
        using var stalled = bus.Subscribe();
        using var small = bus.Subscribe(capacity: 4);
        using var otherTenant = bus.Subscribe("tenant_b");

        for (var i = 0; i < 100_000; i++)
        {
            bus.Publish(Event(request: $"req-{i}"));
        }

        Assert.Equal(100_000 - 16, stalled.Dropped);
        Assert.Equal(100_000 - 4, small.Dropped);
        Assert.Equal(0, otherTenant.Dropped); // filtered events are not drops
        Assert.Equal(stalled.Dropped + small.Dropped, bus.Dropped);
        // The newest survive: a reader that comes back sees the present.
        var kept = Drain(stalled);
        Assert.Equal(Enumerable.Range(100_000 - 16, 16).Select(i => $"req-{i}"), kept.Select(e => e.RequestId));
        Assert.Equal(100_000, kept[^1].Sequence);
        Assert.Equal(["req-99996", "req-99997", "req-99998", "req-99999"], Drain(small).Select(e => e.RequestId));
    }

    [Fact]
    public void Dropped_CountsSurviveTheSubscription()
    {
        var bus = new ActivityBus(new ActivityOptions { BufferCapacity = 1 });
        var subscription = bus.Subscribe();
        bus.Publish(Event());
        bus.Publish(Event());
        subscription.Dispose();
        bus.Publish(Event());

        Assert.Equal(1, subscription.Dropped);
        Assert.Equal(1, bus.Dropped);
    }

    [Fact]
    public void Publish_NullOrWithoutListeners_DoesNothingAndNeverThrows()
    {
        var bus = new ActivityBus(new ActivityOptions { HistorySize = 0 });
        bus.Publish(null!);
        bus.Publish(Event());

        Assert.Equal(0, bus.LastSequence); // nobody listens and nothing is kept
        using var subscription = bus.Subscribe();
        bus.Publish(null!);
        Assert.Empty(Drain(subscription));
    }

    [Fact]
    public void Subscribe_WithHistory_ReplaysTheLatestOfItsTenantThenLiveEvents()
    {
        var bus = new ActivityBus(new ActivityOptions { HistorySize = 8 });
        for (var i = 0; i < 12; i++)
        {
            bus.Publish(Event(i % 2 == 0 ? "tenant_a" : "tenant_b", request: $"req-{i}"));
        }

        using var a = bus.Subscribe("tenant_a", history: 3);
        using var everything = bus.Subscribe(history: 100); // at most what is kept
        using var none = bus.Subscribe(history: 0);
        using var capped = bus.Subscribe(capacity: 2, history: 5); // at most the capacity
        bus.Publish(Event("tenant_a", request: "live"));

        Assert.Equal(["req-6", "req-8", "req-10", "live"], Drain(a).Select(e => e.RequestId));
        var all = Drain(everything);
        Assert.Equal(Enumerable.Range(4, 8).Select(i => $"req-{i}").Append("live"), all.Select(e => e.RequestId));
        Assert.Equal(Enumerable.Range(5, 9).Select(i => (long)i), all.Select(e => e.Sequence));
        Assert.Equal(["live"], Drain(none).Select(e => e.RequestId));
        Assert.Equal(["req-11", "live"], Drain(capped).Select(e => e.RequestId));
        Assert.Equal(1, capped.Dropped); // the live event pushed out the oldest of its history
        Assert.Equal(["req-10", "live"], bus.Recent(2, "tenant_a").Select(e => e.RequestId));
        Assert.Empty(bus.Recent(5, "no_such_tenant"));
    }

    [Fact]
    public void Recent_WithoutHistory_IsEmpty()
    {
        var bus = new ActivityBus(new ActivityOptions { HistorySize = 0 });
        using var subscription = bus.Subscribe(history: 10);
        bus.Publish(Event());

        Assert.Empty(bus.Recent(10));
        Assert.Single(Drain(subscription));
    }

    [Fact]
    public void Constructor_And_Subscribe_RefuseNonsense()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new ActivityBus(new ActivityOptions { BufferCapacity = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ActivityBus(new ActivityOptions { HistorySize = -1 }));
        var bus = new ActivityBus();
        Assert.Throws<ArgumentOutOfRangeException>(() => bus.Subscribe(capacity: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => bus.Subscribe(history: -1));
        Assert.False(bus.IsEnabled);
    }

    [Fact]
    public void OptionsValidator_RefusesOutOfRangeValues()
    {
        var validator = new ActivityOptionsValidator();

        Assert.True(validator.Validate(null, new ActivityOptions()).Succeeded);
        var result = validator.Validate(null, new ActivityOptions { BufferCapacity = 0, HistorySize = -1, HeartbeatInterval = TimeSpan.Zero });
        Assert.True(result.Failed);
        Assert.Equal(3, result.Failures!.Count());
    }

    private static List<ActivityEvent> Drain(ActivitySubscription subscription)
    {
        var events = new List<ActivityEvent>();
        while (subscription.Reader.TryRead(out var activity))
        {
            events.Add(activity);
        }
        return events;
    }
}
