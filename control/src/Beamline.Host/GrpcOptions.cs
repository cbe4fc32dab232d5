namespace Beamline.Host;

/// <summary>The gRPC endpoint (HTTP/2 without TLS, "h2c"). Bound from <c>Beamline:Grpc</c>.</summary>
public sealed class GrpcOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Beamline:Grpc";

    /// <summary>
    /// Where gRPC listens, ';'-separated; empty turns the endpoint off. HTTP/2 only: on cleartext,
    /// a port that also spoke HTTP/1.1 would speak nothing but HTTP/1.1. Defaults to http://127.0.0.1:8081.
    /// </summary>
    public string Urls { get; set; } = "http://127.0.0.1:8081";
}
