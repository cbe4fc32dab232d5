using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Text;
using Beamline.Pipeline;
using Beamline.Pipeline.Activity;
using Beamline.Pipeline.Extensions;
using Beamline.Policies;
using Beamline.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Beamline.Extensions.Nats.Tests;

/// <summary>
/// A real nats-server, CP1 extensions written in node on the official <c>nats</c> npm package
/// (<c>node/extensions.mjs</c>, started by <see cref="NodeExtensionServices"/>), and a
/// NATS.Net connection for <see cref="NatsExtensionTransport"/>. Every behaviour is served on
/// <c>beamline.ext.{pre|validate|post}.{behaviour}.v1</c>; <c>dead</c> is served by no one.
/// </summary>
public sealed class NodeExtensionsFixture : IAsyncLifetime
{
    /// <summary>What every stage serves.</summary>
    public static readonly string[] Behaviours = ["echo-rewrite", "upstream-rewrite", "inspect", "reject", "slow", "malformed-text", "malformed-array"];

    /// <summary>Flapping services, one subject per test so that each sees its own call count.</summary>
    public static readonly string[] Flapping = ["flapping-retry", "flapping-alternate", "flapping-validator", "flapping-stream"];

    private NatsServer? _nats;
    private ChildProcess? _node;
    private NatsTestClient? _client;

    public NatsServer Nats => _nats ?? throw new InvalidOperationException("not started");

    public NatsExtensionTransport Transport { get; private set; } = null!;

    public static string Subject(ExtensionType type, string behaviour) => type switch
    {
        ExtensionType.Pre => $"beamline.ext.pre.{behaviour}.v1",
        ExtensionType.Validator => $"beamline.ext.validate.{behaviour}.v1",
        _ => $"beamline.ext.post.{behaviour}.v1",
    };

    public async Task InitializeAsync()
    {
        _nats = await NatsServer.StartAsync();
        var specs = new List<string>();
        foreach (var type in new[] { ExtensionType.Pre, ExtensionType.Validator, ExtensionType.Post })
        {
            foreach (var behaviour in Behaviours.Concat(Flapping))
            {
                specs.Add($"{Subject(type, behaviour)}={(behaviour.StartsWith("flapping", StringComparison.Ordinal) ? "flapping" : behaviour)}");
            }
        }
        _node = await NodeExtensionServices.StartAsync(_nats.Url, specs);
        _client = await NatsTestClient.ConnectAsync(_nats.Url);
        Transport = new NatsExtensionTransport(_client.Connection);
    }

    public async Task DisposeAsync()
    {
        if (_client is not null)
        {
            await _client.DisposeAsync();
        }
        if (_node is not null)
        {
            await _node.DisposeAsync();
        }
        if (_nats is not null)
        {
            await _nats.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class NodeExtensionsCollection : ICollectionFixture<NodeExtensionsFixture>
{
    public const string Name = "node extensions";
}

/// <summary>A registry the test edits while the runner reads it.</summary>
internal sealed class TestRegistry : IExtensionRegistry
{
    private readonly ConcurrentDictionary<string, ExtensionEntry> _entries = new(StringComparer.Ordinal);

    public IReadOnlyList<ExtensionEntry> Entries => [.. _entries.Values.OrderBy(e => e.Id, StringComparer.Ordinal)];

    public TestRegistry Add(string id, ExtensionType type, string subject, int timeoutMs = 5_000, int retry = 0)
    {
        _entries[id] = new ExtensionEntry { Id = id, Type = type, Subject = subject, TimeoutMs = timeoutMs, Retry = retry };
        return this;
    }

    public bool TryGet(string id, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ExtensionEntry? entry)
    {
        if (_entries.TryGetValue(id, out entry) && entry.Enabled)
        {
            return true;
        }
        entry = null;
        return false;
    }
}

/// <summary>Collects the runner's events.</summary>
internal sealed class RecordingSink : IActivitySink
{
    public ConcurrentQueue<ActivityEvent> Events { get; } = new();

    public bool IsEnabled => true;

    public void Publish(ActivityEvent activity) => Events.Enqueue(activity);
}

/// <summary>A runner over the fixture's transport, with its own registry, clock and events.</summary>
internal sealed class Harness(NodeExtensionsFixture fixture, TimeProvider? time = null, ExtensionRunnerOptions? options = null)
{
    private ExtensionRunner? _runner;

    public TestRegistry Registry { get; } = new();

    public RecordingSink Activity { get; } = new();

    public ExtensionRunner Runner => _runner ??= new ExtensionRunner(Registry, [], fixture.Transport, Activity, time ?? TimeProvider.System,
        NullLogger<ExtensionRunner>.Instance, options);

    /// <summary>Registers extension <paramref name="id"/> of <paramref name="type"/> on the service of <paramref name="behaviour"/>.</summary>
    public Harness Serve(string id, ExtensionType type, string behaviour, int timeoutMs = 5_000, int retry = 0)
    {
        Registry.Add(id, type, NodeExtensionsFixture.Subject(type, behaviour), timeoutMs, retry);
        return this;
    }

    public static PipelineRequest Request(string payload = """{"messages":[{"role":"user","content":"hello"}]}""", PayloadKind kind = PayloadKind.Json) => new()
    {
        Caller = new Caller { TenantId = "tenant-a" },
        RequestId = "req-1",
        TraceId = "trace-1",
        MessageType = "chat",
        Payload = Encoding.UTF8.GetBytes(payload),
        PayloadKind = kind,
        Metadata = { ["channel"] = "web" },
    };

    public static ImmutableArray<ExtensionStep> Steps(ExtensionStage stage, string id, ExtensionMode mode) =>
        [new ExtensionStep { Stage = stage, Id = id, Mode = mode }];

    public static ImmutableArray<ExtensionStep> Validators(params (string Id, ValidatorFailAction OnFail)[] steps) =>
        [.. steps.Select(s => new ExtensionStep { Stage = ExtensionStage.Validate, Id = s.Id, OnFail = s.OnFail })];

    public static string Text(ReadOnlyMemory<byte> bytes) => Encoding.UTF8.GetString(bytes.Span);
}
