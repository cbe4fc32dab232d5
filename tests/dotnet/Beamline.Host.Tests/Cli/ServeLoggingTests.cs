using Beamline.Testing;

namespace Beamline.Host.Tests.Cli;

/// <summary>
/// What <c>beamline serve</c> writes per request. ASP.NET Core logs four lines at Information for
/// every HTTP request and gRPC call (request starting, endpoint executing and executed, request
/// finished); on the console that doubled the server's CPU per unary gRPC decide. The control
/// plane quiets <c>Microsoft.AspNetCore</c> to Warning by default, as ASP.NET's own templates do;
/// the configuration can turn it back on.
/// </summary>
public sealed class ServeLoggingTests
{
    private const string RequestLine = "Request starting HTTP/1.1 GET";

    [Fact]
    public async Task ByDefault_RequestsAreNotLoggedOneByOne()
    {
        await using var host = await ControlPlaneProcess.StartAsync();
        await GetHealthzAsync(host, times: 20);

        // A graceful stop flushes the console logger: whatever the requests logged is in the output now.
        host.Process.Terminate();
        Assert.Equal(0, await host.Process.WaitForExitAsync(TimeSpan.FromSeconds(30)));

        Assert.DoesNotContain(RequestLine, host.Process.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Microsoft.AspNetCore.Hosting.Diagnostics", host.Process.Output, StringComparison.Ordinal);
        Assert.Contains("Application is shutting down", host.Process.Output, StringComparison.Ordinal); // the host still logs
    }

    [Fact]
    public async Task ConfiguredAtInformation_EachRequestIsLogged()
    {
        await using var host = await ControlPlaneProcess.StartAsync(
            new Dictionary<string, string> { ["Logging__LogLevel__Microsoft.AspNetCore"] = "Information" });
        await GetHealthzAsync(host, times: 1);

        await host.Process.WaitForLineAsync(RequestLine, TimeSpan.FromSeconds(30));
    }

    private static async Task GetHealthzAsync(ControlPlaneProcess host, int times)
    {
        using var http = new HttpClient();
        for (var i = 0; i < times; i++)
        {
            using var response = await http.GetAsync(new Uri(host.BaseAddress, "healthz"));
            response.EnsureSuccessStatusCode();
        }
    }
}
