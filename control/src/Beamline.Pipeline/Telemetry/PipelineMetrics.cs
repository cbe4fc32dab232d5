using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Options;

namespace Beamline.Pipeline.Telemetry;

/// <summary>
/// The pipeline's instruments on the <c>Beamline</c> meter (BCL <see cref="Meter"/>; whoever
/// listens exports them: the host serves them to Prometheus on <c>/metrics</c>). Tenant, policy,
/// provider and extension labels are capped (<see cref="MetricsOptions"/>) so that a scrape stays
/// bounded whatever the traffic.
/// </summary>
public sealed class PipelineMetrics : IDisposable
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "Beamline";

    /// <summary>The label value of everything past a cap.</summary>
    public const string Other = "other";

    /// <summary>The label value where there is none (no provider was called, no policy was found).</summary>
    public const string None = "none";

    private readonly Meter _meter;
    private readonly Counter<long> _requests;
    private readonly Histogram<double> _requestDuration;
    private readonly Counter<long> _providerAttempts;
    private readonly Counter<long> _quotaRefusals;
    private readonly Counter<long> _tokens;
    private readonly Counter<double> _cost;
    private readonly LabelFold _models;
    private readonly Counter<long> _extensionCalls;
    private readonly Histogram<double> _extensionDuration;
    private readonly Counter<long> _blocks;
    private readonly Histogram<double> _blockDuration;
    private readonly LabelFold _tenants;
    private readonly LabelFold _policies;
    private readonly LabelFold _providers;
    private readonly LabelFold _extensions;
    private readonly LabelFold _pools;

    /// <summary>Creates the instruments on a meter from <paramref name="meterFactory"/>.</summary>
    public PipelineMetrics(IMeterFactory meterFactory, IOptions<MetricsOptions> options)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        ArgumentNullException.ThrowIfNull(options);
        _meter = meterFactory.Create(MeterName);
        var settings = options.Value;
        _tenants = new LabelFold(settings.MaxTenants);
        _policies = new LabelFold(settings.MaxPolicies);
        _providers = new LabelFold(settings.MaxProviders);
        _extensions = new LabelFold(settings.MaxExtensions);
        _pools = new LabelFold(settings.MaxPools);
        _models = new LabelFold(settings.MaxModels);
        _requests = _meter.CreateCounter<long>("beamline.requests", "{request}",
            "Requests the pipeline finished, by face, tenant, policy, provider and status (ok or the CP1 error code).");
        _requestDuration = _meter.CreateHistogram<double>("beamline.request.duration", "s",
            "Time from taking a request to its final result (for a stream: to its last chunk).");
        _providerAttempts = _meter.CreateCounter<long>("beamline.provider.attempts", "{attempt}",
            "Provider calls, by provider and outcome (ok or the provider error code).");
        _quotaRefusals = _meter.CreateCounter<long>("beamline.quota.refusals", "{request}",
            "Requests refused by admission, by tenant and reason (quota: requests per minute or concurrency; budget: spend or tokens per minute).");
        _tokens = _meter.CreateCounter<long>("beamline.tokens", "{token}",
            "Tokens used by provider calls that answered, by tenant, provider, model and direction (input, output); estimated ones included.");
        _cost = _meter.CreateCounter<double>("beamline.cost", "USD",
            "Spend of provider calls that answered, at the catalog's prices, by tenant, provider and model.");
        _extensionCalls = _meter.CreateCounter<long>("beamline.extension.calls", "{call}",
            "Extension calls, by extension, stage and status (ok, reject, timeout, unavailable, malformed, error).");
        _extensionDuration = _meter.CreateHistogram<double>("beamline.extension.duration", "s",
            "Extension call latency, by extension, stage and status.");
        _blocks = _meter.CreateCounter<long>("beamline.blocks", "{block}",
            "Blocks dispatched (in-process or over NATS), by pool and status (ok, error, timeout, cancelled).");
        _blockDuration = _meter.CreateHistogram<double>("beamline.block.duration", "s",
            "Time from dispatching a block to its result, by pool and status.");
    }

    /// <summary>A request ended: <paramref name="status"/> is <c>ok</c> or its CP1 error code.</summary>
    public void RequestFinished(string face, string tenantId, string? policyId, string? providerId, string status, TimeSpan duration)
    {
        if (!_requests.Enabled && !_requestDuration.Enabled)
        {
            return;
        }
        var tags = new TagList
        {
            { "face", face },
            { "tenant", _tenants.Fold(tenantId) },
            { "policy", _policies.Fold(policyId) },
            { "provider", _providers.Fold(providerId) },
            { "status", status },
        };
        _requests.Add(1, tags);
        _requestDuration.Record(duration.TotalSeconds, tags);
    }

    /// <summary>One provider call ended with <paramref name="outcome"/> (<c>ok</c> or an error code).</summary>
    public void ProviderAttempted(string providerId, string outcome)
    {
        if (_providerAttempts.Enabled)
        {
            _providerAttempts.Add(1, new KeyValuePair<string, object?>("provider", _providers.Fold(providerId)),
                new KeyValuePair<string, object?>("outcome", outcome));
        }
    }

    /// <summary>Admission (<paramref name="reason"/> <c>quota</c>) or a budget (<c>budget</c>) refused a request of <paramref name="tenantId"/>.</summary>
    public void QuotaRefused(string tenantId, string reason = "quota")
    {
        if (_quotaRefusals.Enabled)
        {
            _quotaRefusals.Add(1, new KeyValuePair<string, object?>("tenant", _tenants.Fold(tenantId)),
                new KeyValuePair<string, object?>("reason", reason));
        }
    }

    /// <summary>A provider call answered having used <paramref name="usage"/>, costing <paramref name="costNanos"/>.</summary>
    public void Spent(string tenantId, string providerId, string? model, in Costs.TokenUsage usage, long costNanos)
    {
        if (!_tokens.Enabled && !_cost.Enabled)
        {
            return;
        }
        var tenant = _tenants.Fold(tenantId);
        var provider = _providers.Fold(providerId);
        var modelLabel = _models.Fold(model);
        _tokens.Add(usage.InputTokens, new TagList { { "tenant", tenant }, { "provider", provider }, { "model", modelLabel }, { "direction", "input" } });
        _tokens.Add(usage.OutputTokens, new TagList { { "tenant", tenant }, { "provider", provider }, { "model", modelLabel }, { "direction", "output" } });
        if (costNanos > 0)
        {
            _cost.Add(costNanos / (double)Costs.Nanos.PerUsd, new TagList { { "tenant", tenant }, { "provider", provider }, { "model", modelLabel } });
        }
    }

    /// <summary>One extension call ended.</summary>
    public void ExtensionCalled(string extensionId, string stage, string status, double latencyMs)
    {
        if (!_extensionCalls.Enabled && !_extensionDuration.Enabled)
        {
            return;
        }
        var tags = new TagList
        {
            { "extension", _extensions.Fold(extensionId) },
            { "stage", stage },
            { "status", status },
        };
        _extensionCalls.Add(1, tags);
        _extensionDuration.Record(latencyMs / 1000.0, tags);
    }

    /// <summary>A block ended with <paramref name="status"/> (<c>ok</c>, <c>error</c>, <c>timeout</c>, <c>cancelled</c>).</summary>
    public void BlockDispatched(string pool, string status, TimeSpan duration)
    {
        if (!_blocks.Enabled && !_blockDuration.Enabled)
        {
            return;
        }
        var tags = new TagList
        {
            { "pool", _pools.Fold(pool) },
            { "status", status },
        };
        _blocks.Add(1, tags);
        _blockDuration.Record(duration.TotalSeconds, tags);
    }

    /// <inheritdoc />
    public void Dispose() => _meter.Dispose();
}
