using Beamline.Policies;
using Beamline.Routing.Catalog;
using Beamline.Testing;

namespace Beamline.Routing.Tests;

/// <summary>Routers over the shared fixtures with a fake clock and a seeded random source.</summary>
internal static class TestRouters
{
    public static ProviderCatalog Catalog() => new(
    [
        new ProviderDescriptor { Id = "openai", Kind = ProviderKind.OpenAI, Model = "gpt-4o-mini", InputPricePer1K = 0.00015, OutputPricePer1K = 0.0006, QualityScore = 0.8, BaselineLatencyMs = 850 },
        new ProviderDescriptor { Id = "anthropic", Kind = ProviderKind.Anthropic, Model = "claude-haiku", InputPricePer1K = 0.0008, OutputPricePer1K = 0.004, QualityScore = 0.85, BaselineLatencyMs = 600 },
        new ProviderDescriptor { Id = "local_llm", Kind = ProviderKind.NatsProvider, QualityScore = 0.4, BaselineLatencyMs = 2000 },
    ]);

    public static Router FromFixtures(ManualTimeProvider time, long seed = 42, RouterOptions? options = null) =>
        new(Catalog(), PolicySet.LoadDirectory(Cp1Fixtures.Policies), options, time, new RandomSource(seed));

    public static Router FromJson(string json, ManualTimeProvider time, long seed = 42, string id = "p")
    {
        var result = PolicyLoader.Load(id, System.Text.Encoding.UTF8.GetBytes(json));
        Assert.True(result.IsValid, string.Join(Environment.NewLine, result.Errors));
        return new Router(Catalog(), new PolicySet([result.Policy!]), new RouterOptions { DefaultPolicyId = id }, time, new RandomSource(seed));
    }

    public static RouteRequest Request(string policy, string? user = null, string tenant = "t1") =>
        new() { TenantId = tenant, PolicyId = policy, UserId = user, MessageType = "chat" };

    public static void Fail(Router router, string policy, string provider, int times, FailureKinds failure = FailureKinds.ServerError, string tenant = "t1")
    {
        for (var i = 0; i < times; i++)
        {
            router.RecordOutcome(new RouteOutcome { TenantId = tenant, PolicyId = policy, ProviderId = provider, Failure = failure, LatencyMs = 10 });
        }
    }

    public static void Succeed(Router router, string policy, string provider, int times, double latencyMs = 100, string tenant = "t1")
    {
        for (var i = 0; i < times; i++)
        {
            router.RecordOutcome(new RouteOutcome { TenantId = tenant, PolicyId = policy, ProviderId = provider, LatencyMs = latencyMs });
        }
    }
}
