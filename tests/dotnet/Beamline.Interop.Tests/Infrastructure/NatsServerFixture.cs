using Beamline.Testing;

namespace Beamline.Interop.Tests.Infrastructure;

/// <summary>A real nats-server on a free loopback port, shared by the tests of <see cref="NatsCollection"/>.</summary>
public sealed class NatsServerFixture : IAsyncLifetime
{
    private NatsServer? _server;

    public string Url => (_server ?? throw new InvalidOperationException("not started")).Url;

    public async Task InitializeAsync() => _server = await NatsServer.StartAsync();

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}

/// <summary>Tests that share one nats-server; they run one after the other.</summary>
[CollectionDefinition(Name)]
public sealed class NatsCollection : ICollectionFixture<NatsServerFixture>
{
    public const string Name = "nats-server";
}
