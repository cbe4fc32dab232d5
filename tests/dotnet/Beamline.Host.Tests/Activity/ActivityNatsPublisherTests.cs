using System.Text.Json;
using Beamline.Host.Activity;
using Beamline.Pipeline.Activity;
using Beamline.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using NATS.Client.Core;

namespace Beamline.Host.Tests.Activity;

/// <summary>The NATS side of the activity stream against a real nats-server.</summary>
public sealed class ActivityNatsPublisherTests : IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private NatsServer _server = null!;
    private NatsConnection _connection = null!;
    private NatsTestClient _client = null!;

    public async Task InitializeAsync()
    {
        _server = await NatsServer.StartAsync();
        _connection = new NatsConnection(NatsOpts.Default with { Url = _server.Url, Name = "beamline-activity-test" });
        await _connection.ConnectAsync();
        _client = await NatsTestClient.ConnectAsync(_server.Url);
    }

    public async Task DisposeAsync()
    {
        await _client.DisposeAsync();
        await _connection.DisposeAsync();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task Publish_EveryEvent_ArrivesAsJsonOnItsTenantsSubject()
    {
        var bus = new ActivityBus();
        using var publisher = Publisher(bus, _connection);
        await using var tenantA = await _client.CollectAsync("beamline.activity.v1.tenant_a");
        await using var all = await _client.CollectAsync("beamline.activity.v1.>");
        Assert.False(bus.IsEnabled);

        await publisher.StartAsync(CancellationToken.None);
        Assert.True(bus.IsEnabled); // the publisher is a subscriber
        bus.Publish(new ActivityEvent { Kind = ActivityKinds.Received, TenantId = "tenant_a", RequestId = "a1", Stage = "openai" });
        bus.Publish(new ActivityEvent { Kind = ActivityKinds.Cost, TenantId = "tenant_b", RequestId = "b1", CostUsd = 0.25 });
        bus.Publish(new ActivityEvent { Kind = ActivityKinds.Final, TenantId = "tenant_a", RequestId = "a1", Status = "ok" });

        var final = await tenantA.WaitForAsync(m => Json(m).GetProperty("kind").GetString() == "final", Wait);
        await all.WaitForAsync(m => m.Subject == "beamline.activity.v1.tenant_b", Wait);
        var received = Assert.Single(tenantA.Messages, m => Json(m).GetProperty("kind").GetString() == "received");
        Assert.Equal(2, tenantA.Messages.Count);
        Assert.Equal("a1", Json(received).GetProperty("request_id").GetString());
        Assert.Equal("openai", Json(received).GetProperty("stage").GetString());
        Assert.Equal(1, Json(received).GetProperty("seq").GetInt64());
        Assert.Equal(3, Json(final).GetProperty("seq").GetInt64());
        var cost = Assert.Single(all.Messages, m => m.Subject == "beamline.activity.v1.tenant_b");
        Assert.Equal(0.25, Json(cost).GetProperty("cost_usd").GetDouble());

        await publisher.StopAsync(CancellationToken.None);
        Assert.False(bus.IsEnabled);
        Assert.Equal(3, publisher.Published);
        Assert.Equal(0, publisher.NotPublished);
    }

    [Theory]
    [InlineData("a.b")]
    [InlineData("a*")]
    [InlineData(">")]
    [InlineData("a b")]
    [InlineData("tab\there")]
    [InlineData("")]
    [InlineData("ünïcode")]
    public async Task Publish_TenantIdThatIsNotOneSubjectToken_IsSkippedNotRewritten(string tenant)
    {
        Assert.Null(ActivityNatsPublisher.SubjectFor(tenant));
        var bus = new ActivityBus();
        using var publisher = Publisher(bus, _connection);
        await using var all = await _client.CollectAsync("beamline.activity.>");
        await publisher.StartAsync(CancellationToken.None);

        bus.Publish(new ActivityEvent { Kind = ActivityKinds.Received, TenantId = tenant, RequestId = "bad" });
        bus.Publish(new ActivityEvent { Kind = ActivityKinds.Received, TenantId = "a_b", RequestId = "good" });

        var good = await all.WaitForAsync(m => m.Subject == "beamline.activity.v1.a_b", Wait);
        Assert.Equal("good", Json(good).GetProperty("request_id").GetString());
        await publisher.StopAsync(CancellationToken.None);
        Assert.Single(all.Messages); // the skipped event came before the good one: nothing else will arrive
        Assert.Equal(1, publisher.NotPublished);
        Assert.Equal(1, publisher.Published);
    }

    [Fact]
    public void SubjectFor_PlainTenantId_IsTheLastToken()
    {
        Assert.Equal("beamline.activity.v1.tenant_abc-123", ActivityNatsPublisher.SubjectFor("tenant_abc-123"));
    }

    [Fact]
    public async Task Publish_WhileNatsIsDown_DropsAndCountsWithoutBlocking()
    {
        var bus = new ActivityBus(new ActivityOptions { BufferCapacity = 64 });
        await using var down = new NatsConnection(NatsOpts.Default with { Url = $"nats://127.0.0.1:{FreePort.Next()}", MaxReconnectRetry = 0 });
        using var publisher = Publisher(bus, down);
        await publisher.StartAsync(CancellationToken.None);

        for (var i = 0; i < 100_000; i++)
        {
            bus.Publish(new ActivityEvent { Kind = ActivityKinds.Received, TenantId = "tenant_a", RequestId = "r" });
        }
        await publisher.StopAsync(CancellationToken.None);

        Assert.Equal(0, publisher.Published);
        Assert.Equal(100_000, publisher.NotPublished + bus.Dropped); // each one either read and dropped, or pushed out of the buffer
    }

    [Fact]
    public async Task Start_PublishToNatsFalse_DoesNotSubscribe()
    {
        var bus = new ActivityBus();
        using var publisher = new ActivityNatsPublisher(bus, _connection, Options.Create(new ActivityOptions { PublishToNats = false }),
            NullLogger<ActivityNatsPublisher>.Instance);

        await publisher.StartAsync(CancellationToken.None);

        Assert.False(bus.IsEnabled);
        await publisher.StopAsync(CancellationToken.None);
    }

    private static ActivityNatsPublisher Publisher(ActivityBus bus, INatsConnection connection) =>
        new(bus, connection, Options.Create(new ActivityOptions()), NullLogger<ActivityNatsPublisher>.Instance);

    private static JsonElement Json(NatsMsg<byte[]> msg) => JsonDocument.Parse(msg.Data).RootElement.Clone();
}
