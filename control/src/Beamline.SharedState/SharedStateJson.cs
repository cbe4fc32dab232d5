using System.Text.Json.Serialization;
using Beamline.SharedState.Routing;

namespace Beamline.SharedState;

/// <summary>The JSON of the shared state's values (source-generated).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(SharedEntry))]
internal sealed partial class SharedStateJson : JsonSerializerContext;
