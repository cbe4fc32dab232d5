using System.Collections.Immutable;
using Beamline.Experiments.Bandits;
using Beamline.Experiments.Routing;
using Beamline.Pipeline;
using Beamline.Policies;
using Beamline.Routing;
using Beamline.Routing.Fallbacks;

namespace Beamline.Experiments.Tests.Routing;

public sealed class ExperimentRouterTests
{
    private const string OnlyA = """{"providers":[{"name":"a","weight":1}],"fallbacks":[{"when":{"status":["5xx"]},"retry":0,"to":"c"}]}""";
    private const string OnlyB = """{"providers":[{"name":"b","weight":1}]}""";

    private readonly ExperimentRegistry _registry = new(TimeProvider.System);
    private readonly ExperimentTracker _tracker = new();
    private readonly ExperimentRouter _router;

    public ExperimentRouterTests() => _router = new ExperimentRouter(new TenantRouter(("default", OnlyA), ("other", OnlyB)), _registry, _tracker);

    [Fact]
    public void WithoutAnExperiment_DecidesAsThePolicy()
    {
        Assert.Equal("a", _router.Decide(Request("u1")).ProviderId);
        Assert.False(_tracker.IsAssigned("t1", "r-u1"));
    }

    [Fact]
    public void ProviderArms_SendEachUserToItsStickyArm()
    {
        var experiment = _registry.Create(Definition(new ExperimentArm { Name = "control", ProviderId = "a", WeightBasisPoints = 5_000 },
            new ExperimentArm { Name = "challenger", ProviderId = "b", WeightBasisPoints = 5_000 }));
        var seen = new HashSet<string>();
        for (var i = 0; i < 200; i++)
        {
            var decision = _router.Decide(Request($"user{i}"));
            var arm = experiment.ArmFor($"user{i}");
            Assert.Equal(arm == 0 ? "a" : "b", decision.ProviderId);
            Assert.Equal(decision.ProviderId, _router.Decide(Request($"user{i}", requestId: $"again{i}")).ProviderId);
            seen.Add(decision.ProviderId!);
        }
        Assert.Equal(2, seen.Count);
        Assert.True(_tracker.IsAssigned("t1", "r-user0"));
    }

    [Fact]
    public void PolicyArms_DecideWithTheArmsPolicy_AndFallbacksStayWithTheArm()
    {
        _registry.Create(Definition(new ExperimentArm { Name = "control", PolicyId = "default", WeightBasisPoints = 0 },
            new ExperimentArm { Name = "other", PolicyId = "other", WeightBasisPoints = 10_000 }));
        var request = Request("u1");

        var decision = _router.Decide(request);
        var cursor = default(FallbackCursor);
        var fallback = _router.DecideFallback(request, ref cursor, "b", FailureKinds.ServerError);

        Assert.Equal("b", decision.ProviderId);
        Assert.Equal("other", decision.PolicyId);
        Assert.False(fallback.IsSuccess); // policy "other" has no fallback: the arm's plan, not default's (which falls back to c)
    }

    [Fact]
    public void APinnedRequest_AndADryRun_AreLeftAlone()
    {
        _registry.Create(Definition(new ExperimentArm { Name = "control", ProviderId = "a", WeightBasisPoints = 0 },
            new ExperimentArm { Name = "b", ProviderId = "b", WeightBasisPoints = 10_000 }));

        Assert.Equal("c", _router.Decide(Request("u1") with { PinnedProvider = "c" }).ProviderId);
        Assert.Equal("b", _router.Decide(Request("u2") with { DryRun = true }).ProviderId);
        Assert.False(_tracker.IsAssigned("t1", "r-u1"));
        Assert.False(_tracker.IsAssigned("t1", "r-u2"));
    }

    [Fact]
    public void AnArmTheCallerMayNotUse_FallsBackToThePolicy_Uncounted()
    {
        _registry.Create(Definition(new ExperimentArm { Name = "control", ProviderId = "a", WeightBasisPoints = 0 },
            new ExperimentArm { Name = "b", ProviderId = "b", WeightBasisPoints = 10_000 }));

        var decision = _router.Decide(Request("u1") with { AllowedProviders = ImmutableArray.Create("a") });

        Assert.Equal("a", decision.ProviderId);
        Assert.False(_tracker.IsAssigned("t1", "r-u1"));
    }

    [Fact]
    public void Accounting_FeedsTheArm_AndFeedbackIsOnlyForTheTenantsOwnRequests()
    {
        var experiment = _registry.Create(Definition(new ExperimentArm { Name = "control", ProviderId = "a", WeightBasisPoints = 0 },
            new ExperimentArm { Name = "b", ProviderId = "b", WeightBasisPoints = 10_000 }));
        var accounting = new ExperimentAccounting(_registry, _tracker, new BanditSelector());
        _router.Decide(Request("u1"));
        var request = new PipelineRequest { Caller = new Caller { TenantId = "t1" }, RequestId = "r-u1", MessageType = "chat", UserId = "u1" };

        accounting.Executed(request, new ExecuteResult { ProviderId = "b", PolicyId = "default" });
        accounting.Executed(new PipelineRequest { Caller = new Caller { TenantId = "t2" }, RequestId = "r-other", MessageType = "chat" },
            new ExecuteResult { ProviderId = "a" });

        Assert.True(accounting.Feedback("t1", "r-u1", 0.75));
        Assert.False(accounting.Feedback("t2", "r-u1", 0.1)); // another tenant's request
        Assert.False(accounting.Feedback("t1", "r-other", 0.1));
        Assert.False(accounting.Feedback("t1", "unknown", 0.1));
        Assert.True(accounting.Feedback("t1", "r-u1", 0.1)); // accepted, but only the first score counts
        var arm = experiment.Results().Arms[1];
        Assert.Equal(1, arm.Requests);
        Assert.Equal(1, arm.Executions);
        Assert.Equal(0, arm.Errors);
        Assert.Equal(1, arm.Quality.Count);
        Assert.Equal(0.75, arm.Quality.Mean);
    }

    [Fact]
    public void AnotherTenantsRequestWithTheSameId_NeitherStealsTheAssignmentNorItsFeedback()
    {
        var experiment = _registry.Create(Definition(new ExperimentArm { Name = "control", ProviderId = "a", WeightBasisPoints = 0 },
            new ExperimentArm { Name = "b", ProviderId = "b", WeightBasisPoints = 10_000 }));
        var accounting = new ExperimentAccounting(_registry, _tracker);
        _router.Decide(Request("u1", requestId: "same"));

        accounting.Executed(new PipelineRequest { Caller = new Caller { TenantId = "t2" }, RequestId = "same", MessageType = "chat" }, new ExecuteResult { ProviderId = "a" });
        accounting.Executed(new PipelineRequest { Caller = new Caller { TenantId = "t1" }, RequestId = "same", MessageType = "chat" }, new ExecuteResult { ProviderId = "b" });

        Assert.Equal(1, experiment.Results().Arms[1].Executions);
        Assert.True(accounting.Feedback("t1", "same", 0.9));
        Assert.True(accounting.Feedback("t2", "same", 0.1)); // its own request of that id
        Assert.Equal(0.9, experiment.Results().Arms[1].Quality.Mean);
    }

    private static RouteRequest Request(string user, string? requestId = null) =>
        new() { TenantId = "t1", UserId = user, RequestId = requestId ?? $"r-{user}", MessageType = "chat" };

    private static ExperimentDefinition Definition(params ExperimentArm[] arms) => new()
    {
        Id = "e1",
        TenantId = "t1",
        PolicyId = "default",
        Arms = [.. arms],
    };
}
