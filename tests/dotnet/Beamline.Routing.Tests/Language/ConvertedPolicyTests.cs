using System.Text;
using Beamline.Policies;
using Beamline.Policies.Language;
using Beamline.Routing.Fallbacks;
using Beamline.Testing;

namespace Beamline.Routing.Tests.Language;

/// <summary>Every CP1 fixture policy, converted to the language, decides exactly like its JSON.</summary>
public sealed class ConvertedPolicyTests
{
    public static TheoryData<string> Fixtures() => [.. Cp1Fixtures.PolicyIds().Order(StringComparer.Ordinal)];

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void ConvertedFixture_DecidesLikeTheJson_Over10000SeededRequests(string id)
    {
        var json = PolicyLoader.LoadOrThrow(Cp1Fixtures.Policy(id));
        var source = PolicyConverter.Convert(json);
        var loaded = PolicyLanguage.Load(id, source);
        Assert.True(loaded.IsValid, source + string.Join("\n", loaded.Errors));
        Assert.Equal(json.CircuitBreaker, loaded.Policy!.CircuitBreaker);
        Assert.Equal(json.Pre.Length + json.Validators.Length + json.Post.Length,
            loaded.Policy.Pre.Length + loaded.Policy.Validators.Length + loaded.Policy.Post.Length);

        var time = new ManualTimeProvider();
        var options = new RouterOptions { DefaultPolicyId = id };
        var fromJson = new Router(TestRouters.Catalog(), new PolicySet([json]), options, time, new RandomSource(7));
        var fromLanguage = new Router(TestRouters.Catalog(), new PolicySet([loaded.Policy]), options, time, new RandomSource(7));
        var requests = new Random(11);
        string[] types = ["chat", "completion", "embedding"];
        FailureKinds[] failures = [FailureKinds.Timeout, FailureKinds.ServerError, FailureKinds.RateLimited, FailureKinds.CircuitBreakerOpen];
        for (var i = 0; i < 10_000; i++)
        {
            var request = new RouteRequest
            {
                TenantId = "t" + requests.Next(2),
                UserId = requests.Next(4) == 0 ? null : "u" + requests.Next(50),
                SessionId = requests.Next(2) == 0 ? null : "s" + requests.Next(50),
                MessageType = types[requests.Next(types.Length)],
                MaxCost = requests.Next(5) == 0 ? 0.001 : null,
            };
            var a = fromJson.Decide(request);
            var b = fromLanguage.Decide(request);
            Assert.Equal((a.ProviderId, a.Reason, a.ErrorCode), (b.ProviderId, b.Reason, b.ErrorCode));
            Assert.Equal(Describe(a.Fallbacks), Describe(b.Fallbacks));
            if (a.IsSuccess && requests.Next(4) == 0)
            {
                var failure = failures[requests.Next(failures.Length)];
                FallbackCursor ca = default, cb = default;
                var fa = fromJson.DecideFallback(request, ref ca, a.ProviderId!, failure);
                var fb = fromLanguage.DecideFallback(request, ref cb, b.ProviderId!, failure);
                Assert.Equal((fa.ProviderId, fa.Reason, fa.ErrorCode), (fb.ProviderId, fb.Reason, fb.ErrorCode));
            }
            if (a.IsSuccess && requests.Next(8) == 0)
            {
                // Failures open breakers (circuit_breaker_basic) the same way on both sides.
                var outcome = new RouteOutcome { TenantId = request.TenantId, ProviderId = a.ProviderId!, Failure = FailureKinds.ServerError, LatencyMs = 5 };
                fromJson.RecordOutcome(outcome);
                fromLanguage.RecordOutcome(outcome);
            }
            time.Advance(TimeSpan.FromSeconds(requests.Next(30)));
        }
    }

    private static string Describe(FallbackPlan? plan)
    {
        if (plan is null)
        {
            return "none";
        }
        var text = new StringBuilder();
        foreach (var rule in plan.Rules)
        {
            text.Append($"{rule.When}|{string.Join(',', rule.MessageTypes)}|{rule.Retry}|{rule.To}|{rule.IsLegacy};");
        }
        return text.ToString();
    }
}
