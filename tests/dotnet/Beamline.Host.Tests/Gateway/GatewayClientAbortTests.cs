using System.Net.Sockets;
using System.Text;

namespace Beamline.Host.Tests.Gateway;

/// <summary>A client that goes away mid-request is not the control plane's error: nothing is logged as an unhandled failure.</summary>
public sealed class GatewayClientAbortTests(OpenAIGatewayFixture gateway) : IClassFixture<OpenAIGatewayFixture>
{
    // Found by the gateway benchmark: autocannon closing its connections at the end of a run
    // logged "fail: … An unhandled exception has occurred" with a stack trace per connection.
    [Fact]
    public async Task ClientClosesMidBody_NoUnhandledExceptionIsLogged()
    {
        for (var i = 0; i < 3; i++)
        {
            using var client = new TcpClient();
            await client.ConnectAsync(gateway.Process.BaseAddress.Host, gateway.Process.BaseAddress.Port);
            var stream = client.GetStream();
            var head = $"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {OpenAIGatewayFixture.Key}\r\n"
                + "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"model\":\"m";
            await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
            await stream.FlushAsync();
            await Task.Delay(100);
            client.Client.LingerState = new LingerOption(true, 0); // a reset, as a killed client sends
            client.Close();
        }

        // A request after them shows the server handled (and logged) those connections' ends.
        using var http = new HttpClient();
        using var models = new HttpRequestMessage(HttpMethod.Get, new Uri(gateway.Process.BaseAddress, "v1/models"));
        models.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", OpenAIGatewayFixture.Key);
        using var answer = await http.SendAsync(models);
        Assert.True(answer.IsSuccessStatusCode);
        await Task.Delay(500);
        Assert.DoesNotContain("An unhandled exception has occurred", gateway.Process.Process.Output, StringComparison.Ordinal);
    }
}
