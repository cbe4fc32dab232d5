using Beamline.Dispatch.InProcess;
using Beamline.Dispatch.Nats;
using Beamline.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Beamline.Dispatch.Tests.Nats;

/// <summary>
/// A real nats-server and a real beamline-worker (pools cpu=2, io=2), plus both dispatchers of
/// the control plane: over NATS to that worker, and in-process.
/// </summary>
public sealed class WorkerClusterFixture : IAsyncLifetime
{
    private NatsServer? _nats;
    private WorkerProcess? _worker;
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
        _overNats = CreateNatsDispatcher(_nats.Url);
        _inProcess = new InProcessBlockDispatcher(Options.Create(new DispatchOptions()), NullLogger<InProcessBlockDispatcher>.Instance);
    }

    public static NatsBlockDispatcher CreateNatsDispatcher(string url) =>
        new(Options.Create(new DispatchOptions { Nats = { Url = url } }), NullLogger<NatsBlockDispatcher>.Instance);

    public async Task DisposeAsync()
    {
        _inProcess?.Dispose();
        if (_overNats is not null)
        {
            await _overNats.DisposeAsync();
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
