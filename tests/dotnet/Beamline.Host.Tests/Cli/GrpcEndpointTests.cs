using Beamline.Testing;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Grpc.Reflection.V1Alpha;

namespace Beamline.Host.Tests.Cli;

/// <summary>
/// The gRPC endpoint of a real <c>beamline serve</c>: HTTP/2 without TLS (h2c), the standard
/// health service (which follows NATS, as <c>/healthz</c> does) and server reflection.
/// </summary>
public sealed class GrpcEndpointTests : IAsyncLifetime
{
    private ControlPlaneProcess _controlPlane = null!;

    public async Task InitializeAsync() => _controlPlane = await ControlPlaneProcess.StartAsync();

    public async Task DisposeAsync() => await _controlPlane.DisposeAsync();

    [Fact]
    public async Task Health_OverH2c_IsServing()
    {
        using var channel = GrpcChannel.ForAddress(_controlPlane.GrpcAddress);
        var reply = await new global::Grpc.Health.V1.Health.HealthClient(channel).CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(10));
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, reply.Status);
    }

    [Fact]
    public async Task Reflection_ListsTheHealthService()
    {
        using var channel = GrpcChannel.ForAddress(_controlPlane.GrpcAddress);
        using var call = new ServerReflection.ServerReflectionClient(channel).ServerReflectionInfo(deadline: DateTime.UtcNow.AddSeconds(10));
        await call.RequestStream.WriteAsync(new ServerReflectionRequest { ListServices = "" });
        await call.RequestStream.CompleteAsync();
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        var services = call.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name).ToList();
        Assert.Contains("grpc.health.v1.Health", services);
    }

    [Fact]
    public async Task Health_WhileNatsIsDown_IsNotServing()
    {
        await using var nats = await NatsServer.StartAsync();
        await nats.KillAsync();
        await using var controlPlane = await ControlPlaneProcess.StartAsync("--nats", nats.Url);
        using var channel = GrpcChannel.ForAddress(controlPlane.GrpcAddress);
        var reply = await new global::Grpc.Health.V1.Health.HealthClient(channel).CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(10));
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.NotServing, reply.Status);
    }
}
