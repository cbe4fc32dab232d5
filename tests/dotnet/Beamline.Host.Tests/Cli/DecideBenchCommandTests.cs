using System.Globalization;
using Beamline.Host.Tests.Grpc;
using Beamline.Testing;

namespace Beamline.Host.Tests.Cli;

/// <summary>
/// <c>beamline bench decide</c> as <c>./build.sh bench decide</c> runs it, against a real
/// <c>beamline serve</c>: every transport answers without errors and the result line carries the
/// server's CPU per request. (Only that it works: how fast is the benchmark's to say, not a test's.)
/// </summary>
public sealed class DecideBenchCommandTests(Cp2Fixture host) : IClassFixture<Cp2Fixture>
{
    [Theory]
    [InlineData("cp2-grpc-stream")]
    [InlineData("cp2-grpc")]
    [InlineData("cp2-nats")]
    public async Task Transport_DecidesWithoutErrors_AndReportsTheServersCpuPerRequest(string transport)
    {
        string[] target = transport == "cp2-nats"
            ? ["--nats", host.Nats.Url, "--tenant", Cp2Fixture.Tenant]
            : ["--grpc", host.Process.GrpcAddress.ToString(), "--key", Cp2Fixture.Key];
        await using var bench = ChildProcess.Start(RepoPaths.Program("beamline"),
        [
            "bench", "decide", "--transport", transport, .. target, "--policy", "echo", "--inflight", "8", "--seconds", "0.3",
            "--warmup-seconds", "0", "--server-pid", host.Process.Process.Id.ToString(CultureInfo.InvariantCulture),
        ]);

        var code = await bench.WaitForExitAsync(TimeSpan.FromSeconds(60));

        Assert.True(code == 0, bench.Output);
        var line = bench.Output.Split('\n').Single(l => l.StartsWith("decide_" + transport.Replace('-', '_') + " ", StringComparison.Ordinal));
        var fields = line.Split(' ').Skip(1).Select(f => f.Split('=')).ToDictionary(kv => kv[0], kv => kv[1]);
        Assert.Equal("0", fields["errors"]);
        Assert.True(long.Parse(fields["count"], CultureInfo.InvariantCulture) > 0, line);
        Assert.True(double.Parse(fields["server_cpu_us_per_req"], CultureInfo.InvariantCulture) > 0, line);
    }
}
