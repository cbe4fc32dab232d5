using System.Globalization;

namespace Beamline.Tenancy.Quotas;

/// <summary>A level whose usage the <see cref="QuotaGate"/> counts.</summary>
public enum QuotaLevel
{
    /// <summary>An API key.</summary>
    Key,

    /// <summary>A team: all its keys together.</summary>
    Team,

    /// <summary>A tenant: all its keys together.</summary>
    Tenant,
}

/// <summary>A limit the <see cref="QuotaGate"/> enforces.</summary>
public enum QuotaLimit
{
    /// <summary><see cref="TenancyLimits.RequestsPerMinute"/>.</summary>
    RequestsPerMinute,

    /// <summary><see cref="TenancyLimits.MaxConcurrentRequests"/>.</summary>
    MaxConcurrentRequests,
}

/// <summary>Why the <see cref="QuotaGate"/> refused a request: which level, which limit.</summary>
public readonly struct QuotaRefusal
{
    internal QuotaRefusal(QuotaLevel level, string tenantId, string id, QuotaLimit limit, int limitValue, int retryAfterSeconds)
    {
        Level = level;
        TenantId = tenantId;
        Id = id;
        Limit = limit;
        LimitValue = limitValue;
        RetryAfterSeconds = retryAfterSeconds;
    }

    /// <summary>The level that is over its limit.</summary>
    public QuotaLevel Level { get; }

    /// <summary>The tenant of that level.</summary>
    public string TenantId { get; }

    /// <summary>The id of that level: the key id, the team id or the tenant id.</summary>
    public string Id { get; }

    /// <summary>The limit that was reached.</summary>
    public QuotaLimit Limit { get; }

    /// <summary>Its configured value at that level.</summary>
    public int LimitValue { get; }

    /// <summary>
    /// Seconds until a request would be admitted: when enough of the sliding minute has passed for
    /// <see cref="QuotaLimit.RequestsPerMinute"/>; 1 for <see cref="QuotaLimit.MaxConcurrentRequests"/>,
    /// whose slots free up when requests end, which no clock predicts.
    /// </summary>
    public int RetryAfterSeconds { get; }

    /// <summary>For the client: <c>tenant 'tenant_abc123' is over its limit of 60 requests per minute</c>.</summary>
    public string Message => Limit == QuotaLimit.RequestsPerMinute
        ? string.Create(CultureInfo.InvariantCulture, $"{Who()} is over its limit of {LimitValue} requests per minute")
        : string.Create(CultureInfo.InvariantCulture, $"{Who()} is at its limit of {LimitValue} concurrent requests");

    /// <inheritdoc />
    public override string ToString() => Message;

    private string Who() => Level switch
    {
        QuotaLevel.Key => $"API key '{Id}'",
        QuotaLevel.Team => $"team '{Id}' of tenant '{TenantId}'",
        _ => $"tenant '{Id}'",
    };
}
