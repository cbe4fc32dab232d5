using System.Text.Json.Serialization;

namespace Beamline.Host;

/// <summary>The body of <c>GET /healthz</c>.</summary>
/// <param name="Status">"ok" while the host serves everything it is configured for; "degraded" while NATS is down.</param>
/// <param name="Mode">Where blocks run: "in-process" or "nats".</param>
/// <param name="Nats">With NATS configured: "connected", "reconnecting" or "closed"; absent otherwise.</param>
/// <param name="ServerId">The id of the NATS server the control plane is connected to.</param>
public sealed record HealthResponse(string Status, string Mode, string? Nats = null, string? ServerId = null);

/// <summary>Source-generated JSON for the host's small fixed responses.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(HealthResponse))]
internal sealed partial class HostJsonContext : JsonSerializerContext;
