using Beamline.Dispatch.InProcess;
using Beamline.Dispatch.Nats;
using Beamline.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using NATS.Client.Core;

namespace Beamline.Dispatch.Tests.Nats;

/// <summary>
/// A real nats-server and a real beamline-worker (pools cpu=2, io=2), plus both dispatchers of
/// the control plane: over NATS to that worker, and in-process.
/// </summary>
public sealed class WorkerClusterFixture : IAsyncLifetime
{
    private NatsServer? _nats;
    private WorkerProcess? _worker;
    private ServiceProvider? _natsServices;
    private NatsBlockDispatcher? _overNats;
    private InProcessBlockDispatcher? _inProcess;

    public NatsServer Nats => _nats ?? throw new InvalidOperationException("not started");

    public WorkerProcess Worker => _worker ?? throw new InvalidOperationException("not started");

    public NatsBlockDispatcher OverNats => _overNats ?? throw new InvalidOperationException("not started");

    public InProcessBlockDispatcher InProcess => _inProcess ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync()
    {
        _nats = await NatsServer.StartAsync();
        _worker = await WorkerProcess.StartAsync(_nats.Url, WorkerProcess.NewId("fixture"), ["cpu=2", "io=2"]);
        _natsServices = await CreateNatsServicesAsync(_nats.Url);
        _overNats = (NatsBlockDispatcher)_natsServices.GetRequiredService<IBlockDispatcher>();
        _inProcess = new InProcessBlockDispatcher(Options.Create(new DispatchOptions { InProcess = { ExecutorConfigFile = DiagnosticExecutors.ConfigFile } }),
            NullLogger<InProcessBlockDispatcher>.Instance);
    }

    /// <summary>Dispatch as the control plane composes it (AddBeamlineDispatch), connected to <paramref name="url"/>.</summary>
    public static async Task<ServiceProvider> CreateNatsServicesAsync(string url, IDictionary<string, string?>? settings = null)
    {
        var values = new Dictionary<string, string?>(settings ?? new Dictionary<string, string?>()) { ["Beamline:Nats:Url"] = url };
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        var services = new ServiceCollection().AddLogging().AddBeamlineDispatch(configuration, retryInitialConnect: false)
            .BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true });
        await ((NatsConnection)services.GetRequiredService<INatsConnection>()).ConnectAsync();
        return services;
    }

    public async Task DisposeAsync()
    {
        _inProcess?.Dispose();
        if (_natsServices is not null)
        {
            await _natsServices.DisposeAsync();
        }
        if (_worker is not null)
        {
            await _worker.DisposeAsync();
        }
        if (_nats is not null)
        {
            await _nats.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class WorkerClusterCollection : ICollectionFixture<WorkerClusterFixture>
{
    public const string Name = "worker cluster";
}
