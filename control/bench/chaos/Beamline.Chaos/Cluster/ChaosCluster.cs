using System.Globalization;
using System.Text.Json.Nodes;
using Beamline.Testing;
using NATS.Client.Core;

namespace Beamline.Chaos.Cluster;

/// <summary>
/// The real processes of one scenario on loopback: a nats-server with JetStream (its store in the
/// scenario's folder, so that a restart keeps streams and KV), control planes and workers. Every
/// worker shares one sandbox root, so that a block's side effect lands in the same tenant database
/// whichever worker ran it. Faces are killed with SIGKILL; nothing is stopped gracefully.
/// </summary>
public sealed class ChaosCluster : IAsyncDisposable
{
    /// <summary>The tenant the load runs as.</summary>
    public const string Tenant = "chaos";

    /// <summary>Its API key (configured in the control planes' file).</summary>
    public const string Key = "bl_chaos_Q2s9dF0vYHk3mWcN8pLr5tXa1bZe7uJi4oKg6hVy2wE";

    private readonly List<ControlPlaneProcess> _controlPlanes = [];
    private readonly List<WorkerProcess> _workers = [];
    private readonly Lock _gate = new();
    private readonly ChaosOptions _options;
    private int _workerSeq;

    private ChaosCluster(string root, NatsServer nats, NatsConnection client, ChaosOptions options)
    {
        Root = root;
        Nats = nats;
        Client = client;
        _options = options;
    }

    /// <summary>The scenario's folder (JetStream store, sandbox root, configuration files); deleted on dispose.</summary>
    public string Root { get; }

    /// <summary>The nats-server.</summary>
    public NatsServer Nats { get; }

    /// <summary>The harness's own NATS connection (assignments, results); it reconnects by itself.</summary>
    public NatsConnection Client { get; }

    /// <summary>The workers' shared sandbox root (<c>fs.root</c>).</summary>
    public string SandboxRoot => Path.Combine(Root, "sandbox");

    /// <summary>The load tenant's SQLite database, where each request's side effect is a row.</summary>
    public string TenantDatabase => Path.Combine(SandboxRoot, Tenant, "db.sqlite3");

    private string ControlPlaneConfig => Path.Combine(Root, "beamline.json");

    private string ExecutorConfig => Path.Combine(Root, "executors.json");

    /// <summary>The control planes still running, in start order.</summary>
    public IReadOnlyList<ControlPlaneProcess> LiveControlPlanes
    {
        get
        {
            lock (_gate)
            {
                return [.. _controlPlanes];
            }
        }
    }

    /// <summary>The workers still running, in start order.</summary>
    public IReadOnlyList<WorkerProcess> LiveWorkers
    {
        get
        {
            lock (_gate)
            {
                return [.. _workers];
            }
        }
    }

    /// <summary>Starts nats-server (<c>-js -sd</c>), then the workers and control planes of <paramref name="shape"/>.</summary>
    public static async Task<ChaosCluster> StartAsync(ClusterShape shape, ChaosOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(options);
        var root = Directory.CreateTempSubdirectory("beamline-chaos-").FullName;
        var store = Path.Combine(root, "jetstream");
        Directory.CreateDirectory(store);
        var nats = await NatsServer.StartAsync("-js", "-sd", store).ConfigureAwait(false);
        var client = new NatsConnection(NatsOpts.Default with
        {
            Url = nats.Url,
            Name = "beamline-chaos",
            // Reconnect at once and keep trying: the restart scenario measures how fast service returns.
            ReconnectWaitMin = TimeSpan.FromMilliseconds(50),
            ReconnectWaitMax = TimeSpan.FromMilliseconds(250),
            MaxReconnectRetry = -1,
        });
        var cluster = new ChaosCluster(root, nats, client, options);
        try
        {
            await client.ConnectAsync().ConfigureAwait(false);
            await File.WriteAllTextAsync(cluster.ExecutorConfig, ExecutorConfigJson(cluster.SandboxRoot), cancellationToken).ConfigureAwait(false);
            await File.WriteAllTextAsync(cluster.ControlPlaneConfig, ControlPlaneConfigJson(), cancellationToken).ConfigureAwait(false);
            for (var i = 0; i < shape.Workers; i++)
            {
                await cluster.StartWorkerAsync(shape.Pools).ConfigureAwait(false);
            }
            for (var i = 0; i < shape.ControlPlanes; i++)
            {
                await cluster.StartControlPlaneAsync().ConfigureAwait(false);
            }
        }
        catch
        {
            await cluster.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return cluster;
    }

    /// <summary>Starts one more worker (ids chaos-w1, chaos-w2, ...).</summary>
    public async Task<WorkerProcess> StartWorkerAsync(IReadOnlyList<string> pools)
    {
        var id = string.Create(CultureInfo.InvariantCulture, $"chaos-w{Interlocked.Increment(ref _workerSeq)}");
        var worker = await WorkerProcess.StartAsync(_options.WorkerEnvironment, Nats.Url, id, pools,
            ["--executor-config", ExecutorConfig, "--cp1", "on", .. _options.WorkerArguments()]).ConfigureAwait(false);
        lock (_gate)
        {
            _workers.Add(worker);
        }
        return worker;
    }

    /// <summary>Starts one more control plane on its own data directory.</summary>
    public async Task<ControlPlaneProcess> StartControlPlaneAsync()
    {
        string[] args = ["--config", ControlPlaneConfig, "--nats", Nats.Url, .. _options.ControlPlaneArgs];
        var controlPlane = await ControlPlaneProcess.StartAsync(_options.ControlPlaneVariables(), args).ConfigureAwait(false);
        lock (_gate)
        {
            _controlPlanes.Add(controlPlane);
        }
        return controlPlane;
    }

    /// <summary>SIGKILL of the worker <paramref name="index"/> of <see cref="LiveWorkers"/>.</summary>
    public async Task<string> KillWorkerAsync(int index)
    {
        WorkerProcess worker;
        lock (_gate)
        {
            worker = _workers[index];
            _workers.RemoveAt(index);
        }
        await worker.DisposeAsync().ConfigureAwait(false);
        return worker.WorkerId;
    }

    /// <summary>SIGKILL of the control plane <paramref name="index"/> of <see cref="LiveControlPlanes"/>.</summary>
    public async Task<Uri> KillControlPlaneAsync(int index)
    {
        ControlPlaneProcess controlPlane;
        lock (_gate)
        {
            controlPlane = _controlPlanes[index];
            _controlPlanes.RemoveAt(index);
        }
        await controlPlane.DisposeAsync().ConfigureAwait(false);
        return controlPlane.BaseAddress;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        foreach (var controlPlane in LiveControlPlanes)
        {
            await controlPlane.DisposeAsync().ConfigureAwait(false);
        }
        foreach (var worker in LiveWorkers)
        {
            await worker.DisposeAsync().ConfigureAwait(false);
        }
        await Client.DisposeAsync().ConfigureAwait(false);
        await Nats.DisposeAsync().ConfigureAwait(false);
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a temp folder left behind harms nothing.
        }
    }

    private static string ExecutorConfigJson(string sandboxRoot) => new JsonObject
    {
        ["fs"] = new JsonObject { ["root"] = sandboxRoot },
        ["debug"] = new JsonObject { ["enabled"] = true },
    }.ToJsonString();

    // One tenant with limits that never refuse, and a policy for CP1 decides (push_assignment).
    private static string ControlPlaneConfigJson() => new JsonObject
    {
        ["Beamline"] = new JsonObject
        {
            ["Shutdown"] = new JsonObject { ["TimeoutSeconds"] = 5 },
            ["Tenancy"] = new JsonObject
            {
                ["AdminKey"] = "chaos-admin-key-0123456789",
                ["Pepper"] = "chaos-pepper-0123456789abcdef",
                ["tenants"] = new JsonArray(new JsonObject
                {
                    ["id"] = Tenant,
                    ["default_policy"] = "echo",
                    ["limits"] = new JsonObject { ["requests_per_minute"] = 10_000_000, ["max_concurrent_requests"] = 100_000 },
                    ["keys"] = new JsonArray(new JsonObject { ["name"] = "chaos", ["key"] = Key }),
                    ["policies"] = new JsonArray(new JsonObject
                    {
                        ["id"] = "echo",
                        ["json"] = JsonNode.Parse("""{"version":"1.0","providers":[{"name":"echo_cpu","weight":100}]}"""),
                    }),
                }),
                ["providers"] = new JsonArray(JsonNode.Parse("""{"id":"echo_cpu","kind":"block","block_type":"echo","pool":"cpu"}""")),
            },
        },
    }.ToJsonString();
}
