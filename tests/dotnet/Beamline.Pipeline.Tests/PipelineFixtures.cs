using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Text;
using Beamline.Pipeline.Activity;
using Beamline.Pipeline.Admission;
using Beamline.Pipeline.Extensions;
using Beamline.Pipeline.Providers;
using Beamline.Pipeline.Routing;
using Beamline.Policies;
using Beamline.Routing;
using Beamline.Routing.Catalog;
using Beamline.Routing.Fallbacks;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Beamline.Pipeline.Tests;

/// <summary>A real router over one tenant's policies, as the host's routing service serves it.</summary>
internal sealed class OneTenantRouter(Router router, PolicySet policies, string defaultPolicyId) : IPolicyRouter
{
    public string InstanceId => "test-instance";

    public RouteDecision Decide(in RouteRequest request) => router.Decide(request);

    public RouteDecision DecideFallback(in RouteRequest request, ref FallbackCursor cursor, string failedProvider, FailureKinds failure)
        => router.DecideFallback(request, ref cursor, failedProvider, failure);

    public void RecordOutcome(in RouteOutcome outcome) => router.RecordOutcome(outcome);

    public void ReleaseTrial(string tenantId, string? policyId, string providerId) => router.ReleaseTrial(tenantId, policyId, providerId);

    public bool TryGetProvider(string providerId, [NotNullWhen(true)] out ProviderDescriptor? provider)
    {
        provider = router.Catalog.TryGet(providerId, out var entry) ? entry.Descriptor : null;
        return provider is not null;
    }

    public bool TryGetPolicy(string tenantId, string? policyId, [NotNullWhen(true)] out Policy? policy)
        => policies.TryGet(policyId ?? defaultPolicyId, out policy);

    public string EffectivePolicyId(string tenantId, string? policyId) => policyId ?? defaultPolicyId;

    public bool TryFindProviderByModel(string model, [NotNullWhen(true)] out ProviderDescriptor? provider)
    {
        provider = null;
        return false;
    }

    public Router Router => router;
}

/// <summary>Admission that counts what is in flight and can refuse everything.</summary>
internal sealed class CountingAdmission : IAdmission
{
    private int _inFlight;

    public int InFlight => Volatile.Read(ref _inFlight);

    public bool Refuse { get; set; }

    public AdmissionLease Enter(Caller caller)
    {
        if (Refuse)
        {
            return AdmissionLease.Refused($"tenant '{caller.TenantId}' is at its limit", 7);
        }
        Interlocked.Increment(ref _inFlight);
        return AdmissionLease.Admitted(new Slot(this));
    }

    private sealed class Slot(CountingAdmission owner) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                Interlocked.Decrement(ref owner._inFlight);
            }
        }
    }
}

/// <summary>
/// A provider client whose answers the test scripts per provider id: a whole answer, a stream of
/// chunks, a failure, or a call that waits until it is cancelled.
/// </summary>
internal sealed class ScriptedProviders : IProviderClient
{
    private readonly ConcurrentDictionary<string, Func<ProviderCall, CancellationToken, Task<ProviderAnswer>>> _whole = new();
    private readonly ConcurrentDictionary<string, string[]> _chunks = new();

    public ConcurrentQueue<string> Calls { get; } = new();

    public bool Serves(ProviderKind kind) => true;

    public string? Refuse(ProviderCall call) => call.Request.Metadata.TryGetValue("refuse", out var why) ? why : null;

    public void Answer(string providerId, string output, WireFormat format = WireFormat.None) =>
        _whole[providerId] = (_, _) => Task.FromResult(new ProviderAnswer(true, FailureKinds.None, "ok", null, null, 200, Encoding.UTF8.GetBytes(output)) { Format = format });

    /// <summary>Answers, after running <paramref name="during"/> (for example the caller going away while the answer is on its way).</summary>
    public void AnswerWhile(string providerId, string output, WireFormat format, Action during) =>
        _whole[providerId] = (_, _) =>
        {
            during();
            return Task.FromResult(new ProviderAnswer(true, FailureKinds.None, "ok", null, null, 200, Encoding.UTF8.GetBytes(output)) { Format = format });
        };

    public void Fail(string providerId, FailureKinds failure, int httpStatus = 503) =>
        _whole[providerId] = (_, _) => Task.FromResult(new ProviderAnswer(false, failure, "error", $"http_{httpStatus}", "upstream failed", httpStatus, default));

    public void Hang(string providerId) => _whole[providerId] = async (_, token) =>
    {
        try
        {
            await Task.Delay(Timeout.Infinite, token);
        }
        catch (OperationCanceledException)
        {
        }
        return new ProviderAnswer(false, FailureKinds.None, "cancelled", ProviderAnswer.Cancelled, "cancelled", 0, default);
    };

    public void Stream(string providerId, params string[] chunks) => _chunks[providerId] = chunks;

    /// <summary>How many chunks the scripted streams produced (a stream ended early produces fewer).</summary>
    public int ChunksProduced { get; private set; }

    /// <summary>The format streamed chunks say they speak. Defaults to <see cref="WireFormat.None"/>.</summary>
    public WireFormat StreamFormat { get; set; }

    public async ValueTask<ProviderAnswer> CallAsync(ProviderCall call, CancellationToken cancellationToken)
    {
        Calls.Enqueue(call.Provider.Id);
        return _whole.TryGetValue(call.Provider.Id, out var script)
            ? await script(call, cancellationToken)
            : new ProviderAnswer(false, FailureKinds.ServerError, "error", "unscripted", $"no script for {call.Provider.Id}", 0, default);
    }

    public async IAsyncEnumerable<ProviderStreamItem> StreamAsync(ProviderCall call, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (!_chunks.TryGetValue(call.Provider.Id, out var chunks))
        {
            yield return new ProviderStreamItem(default, await CallAsync(call, cancellationToken));
            yield break;
        }
        Calls.Enqueue(call.Provider.Id);
        foreach (var chunk in chunks)
        {
            await Task.Yield();
            cancellationToken.ThrowIfCancellationRequested();
            ChunksProduced++;
            yield return new ProviderStreamItem(Encoding.UTF8.GetBytes(chunk), null) { Format = StreamFormat };
        }
        yield return new ProviderStreamItem(default, new ProviderAnswer(true, FailureKinds.None, "ok", null, null, 200, "{\"status\":200}"u8.ToArray()));
    }
}

/// <summary>An activity sink that keeps everything.</summary>
internal sealed class RecordingSink : IActivitySink
{
    public ConcurrentQueue<ActivityEvent> Events { get; } = new();

    public bool IsEnabled => true;

    public void Publish(ActivityEvent activity) => Events.Enqueue(activity);
}

/// <summary>A pipeline over a real router, scripted providers and a recording activity sink.</summary>
internal sealed class TestPipeline
{
    public const string Tenant = "t1";

    public TestPipeline(string policyJson, TimeSpan? defaultTimeout = null, IEnumerable<IBuiltInExtension>? builtIns = null,
        IEnumerable<IStreamTextCodec>? textCodecs = null, IEnumerable<ProviderDescriptor>? providers = null, Beamline.Pipeline.Costs.ICostMeter? costs = null,
        Beamline.Pipeline.Costs.IBudgets? budgets = null, Beamline.Pipeline.Costs.IRequestAccounting? accounting = null,
        IEnumerable<Beamline.Pipeline.Costs.IRequestAccounting>? accountings = null)
    {
        var loaded = PolicyLoader.Load("p", Encoding.UTF8.GetBytes(policyJson));
        Assert.True(loaded.IsValid, string.Join(Environment.NewLine, loaded.Errors));
        var policies = new PolicySet([loaded.Policy!]);
        var catalog = new ProviderCatalog(providers ??
        [
            new ProviderDescriptor { Id = "a", Kind = ProviderKind.Block, BlockType = "test.a" },
            new ProviderDescriptor { Id = "b", Kind = ProviderKind.Block, BlockType = "test.b" },
            new ProviderDescriptor { Id = "c", Kind = ProviderKind.Block, BlockType = "test.c" },
        ]);
        Router = new OneTenantRouter(new Router(catalog, policies, new RouterOptions { DefaultPolicyId = "p" }, TimeProvider.System, new RandomSource(7)), policies, "p");
        var options = Options.Create(new PipelineOptions { DefaultTimeout = defaultTimeout ?? TimeSpan.FromSeconds(30) });
        var extensions = new ExtensionRunner(new EmptyExtensionRegistry(), builtIns ?? [], null, Activity, TimeProvider.System, NullLogger<ExtensionRunner>.Instance);
        Pipeline = new RequestPipeline(Router, Admission, extensions, [Providers], Activity, options, TimeProvider.System, NullLogger<RequestPipeline>.Instance,
            textCodecs, costs: costs, budgets: budgets, accounting: accountings ?? (accounting is null ? null : [accounting]));
    }

    public OneTenantRouter Router { get; }

    public CountingAdmission Admission { get; } = new();

    public ScriptedProviders Providers { get; } = new();

    public RecordingSink Activity { get; } = new();

    public RequestPipeline Pipeline { get; }

    public static PipelineRequest Request(string payload = """{"text":"hi"}""", Caller? caller = null, TimeSpan? timeout = null) => new()
    {
        Caller = caller ?? new Caller { TenantId = Tenant },
        RequestId = Guid.NewGuid().ToString("N"),
        MessageType = "chat",
        Payload = Encoding.UTF8.GetBytes(payload),
        PayloadKind = PayloadKind.Json,
        Timeout = timeout,
        Face = "test",
    };
}
