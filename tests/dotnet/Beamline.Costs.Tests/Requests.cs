using System.Collections.Immutable;
using System.Text;
using Beamline.Pipeline;
using Beamline.Routing.Catalog;

namespace Beamline.Costs.Tests;

/// <summary>Requests and providers as the faces and the catalog build them.</summary>
internal static class Requests
{
    public static PipelineRequest Of(WireFormat format, string payload, PayloadKind kind = PayloadKind.Json, string? gatewayModel = null)
    {
        var request = new PipelineRequest
        {
            Caller = new Caller { TenantId = "tenant_a" },
            RequestId = "req-1",
            MessageType = format == WireFormat.OpenAIEmbeddings ? "embedding" : "chat",
            Payload = Encoding.UTF8.GetBytes(payload),
            PayloadKind = kind,
            Format = format,
        };
        if (gatewayModel is not null)
        {
            request.Metadata[Gateway.ModelRoutes.GatewayModelKey] = gatewayModel;
        }
        return request;
    }

    public static ProviderDescriptor Provider(ProviderPricing pricing, string? model = null, params string[] models) => new()
    {
        Id = "p1",
        Kind = ProviderKind.OpenAI,
        Model = model,
        Models = [.. models],
        Pricing = pricing,
    };

    public static ProviderPricing Pricing(decimal input, decimal output, decimal? cached = null, decimal perRequest = 0, int defaultMaxTokens = ProviderPricing.FallbackMaxTokens,
        params (string Model, ModelPrice Price)[] models) => new()
    {
        Default = new ModelPrice(input, output, cached, perRequest),
        DefaultMaxTokens = defaultMaxTokens,
        Models = ImmutableDictionary.CreateRange(StringComparer.Ordinal, models.Select(m => KeyValuePair.Create(m.Model, m.Price))),
    };
}
