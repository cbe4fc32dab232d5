using Beamline.SharedState.Meters;
using Beamline.Tenancy.Quotas;

namespace Beamline.SharedState.Quotas;

/// <summary>
/// Quota counters shared by every control plane on one NATS: per level, a requests-per-minute
/// meter (<c>quota.&lt;level&gt;.&lt;tenant&gt;.&lt;id&gt;.rpm</c>) and an in-flight meter
/// (<c>....inflight</c>) in the counters bucket, with the same allowance and bound as budgets
/// (<see cref="SharedMeter"/>): two control planes never each grant a tenant its whole quota.
/// NATS down: granted from the allowance held, refused beyond it (CP1 <c>quota_exceeded</c>, retry after 1 s).
/// </summary>
internal sealed class KvQuotaCounters(MeterSet meters, TimeProvider time) : IQuotaCounters
{
    /// <inheritdoc />
    public QuotaMeter Create(QuotaLevel level, string tenantId, string id)
    {
        var prefix = $"quota.{level.ToString().ToLowerInvariant()}.{KvKeys.Token(tenantId)}.{KvKeys.Token(id)}";
        return new Meter(meters.Get(prefix + ".rpm", MeterKind.Window), meters.Get(prefix + ".inflight", MeterKind.Gauge), time);
    }

    private sealed class Meter(SharedMeter rate, SharedMeter inFlight, TimeProvider time) : QuotaMeter
    {
        public override bool TryTake(long second, int limit, out long charged, out int retryAfterSeconds)
        {
            var now = MeterClock.From(time.GetUtcNow());
            if (!rate.TryTake(new MeterLimits(limit, MeterLimits.Unlimited), 1, now, out var refusal))
            {
                charged = 0;
                retryAfterSeconds = refusal.Unavailable ? 1 : (int)Math.Max(1, 60 - now.Second % 60);
                return false;
            }
            // A request is counted once admitted: settled at once, the allowance covers it.
            rate.Settle(1, 1);
            charged = 1;
            retryAfterSeconds = 0;
            return true;
        }

        public override void Untake(long charged) => rate.Unsettle(charged);

        public override bool TryEnter(int limit)
            => inFlight.TryTake(new MeterLimits(limit, MeterLimits.Unlimited), 1, MeterClock.From(time.GetUtcNow()), out _);

        public override void Exit() => inFlight.Give(1);
    }
}
