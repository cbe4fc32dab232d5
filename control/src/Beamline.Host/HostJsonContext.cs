using System.Text.Json.Serialization;

namespace Beamline.Host;

/// <summary>The body of <c>GET /healthz</c>.</summary>
/// <param name="Status">"ok" while the host serves.</param>
/// <param name="Mode">Where blocks run: "in-process" or "nats".</param>
public sealed record HealthResponse(string Status, string Mode);

/// <summary>Source-generated JSON for the host's small fixed responses.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(HealthResponse))]
internal sealed partial class HostJsonContext : JsonSerializerContext;
