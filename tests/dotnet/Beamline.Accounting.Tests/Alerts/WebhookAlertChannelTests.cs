using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Beamline.Accounting.Alerts;
using Beamline.Testing;

namespace Beamline.Accounting.Tests.Alerts;

/// <summary>Webhooks against a real HTTP listener on loopback: signatures, retries, refusals.</summary>
public sealed class WebhookAlertChannelTests
{
    private static readonly byte[] Secret = Encoding.UTF8.GetBytes("whsec-test-0123456789");
    private static readonly WebhookDeliveryOptions Fast = new() { MaxAttempts = 4, BaseDelay = TimeSpan.FromMilliseconds(5), MaxDelay = TimeSpan.FromMilliseconds(50) };

    [Theory]
    [InlineData("https://hooks.slack.com/services/T000/B000/XXXXSECRET", "https://hooks.slack.com")]
    [InlineData("https://user:pass@alerts.example.com:8443/hook?token=abc", "https://alerts.example.com:8443")]
    public void Where_NamesTheWebhookWithoutAnythingThatMayBeASecret(string url, string logged)
        => Assert.Equal(logged, WebhookAlertChannel.Where(new Uri(url)));

    [Fact]
    public async Task Deliver_FailingTwiceThenAccepting_RetriesEachAttemptSigned()
    {
        var received = new ConcurrentQueue<Received>();
        var accepted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var server = new LoopbackHttpServer(async context =>
        {
            var request = await Received.ReadAsync(context.Request);
            received.Enqueue(request);
            context.Response.StatusCode = received.Count <= 2 ? 503 : 204;
            context.Response.Close();
            if (received.Count == 3)
            {
                accepted.TrySetResult();
            }
        });
        using var http = new HttpClient();
        var alert = BudgetAlertsTests.Alert(80, 8m);
        var json = BudgetAlertJson.ToUtf8Bytes(alert);

        await using (var channel = new WebhookAlertChannel(http, [new WebhookTarget(new Uri(server.BaseUrl + "/hooks/budget"), Secret)], Fast))
        {
            await channel.DeliverAsync(alert, json, CancellationToken.None);
            await accepted.Task.WaitAsync(TimeSpan.FromSeconds(30));
            await channel.DisposeAsync(); // waits for the sender: the counters are final
            Assert.Equal(1, channel.Delivered);
            Assert.Equal(0, channel.Failed);
        }

        Assert.Equal(3, received.Count);
        foreach (var request in received)
        {
            Assert.Equal("POST", request.Method);
            Assert.Equal("/hooks/budget", request.Path);
            Assert.Equal("application/json", request.ContentType);
            Assert.Equal(json, request.Body);
            Assert.Equal(alert.AlertId, request.Headers["X-Beamline-Delivery"]);
            Assert.Equal("budget.threshold_crossed", request.Headers["X-Beamline-Event"]);
            // The receiver's check, computed here independently: HMAC-SHA256(secret, timestamp + "." + body).
            var timestamp = request.Headers["X-Beamline-Timestamp"]!;
            Assert.True(long.TryParse(timestamp, out _));
            var expected = "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Secret, (byte[])[.. Encoding.UTF8.GetBytes(timestamp + "."), .. request.Body]));
            Assert.Equal(expected, request.Headers["X-Beamline-Signature"]);
            Assert.DoesNotContain("whsec", Encoding.UTF8.GetString(request.Body), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Deliver_RefusedWith4xx_IsNotRetried()
    {
        var attempts = 0;
        using var server = new LoopbackHttpServer(context =>
        {
            Interlocked.Increment(ref attempts);
            context.Response.StatusCode = 400;
            context.Response.Close();
            return Task.CompletedTask;
        });
        using var http = new HttpClient();
        var channel = new WebhookAlertChannel(http, [new WebhookTarget(new Uri(server.BaseUrl + "/"), Secret)], Fast);
        var alert = BudgetAlertsTests.Alert(50, 5m);

        await channel.DeliverAsync(alert, BudgetAlertJson.ToUtf8Bytes(alert), CancellationToken.None);
        await channel.DisposeAsync();

        Assert.Equal(1, attempts);
        Assert.Equal(1, channel.Failed);
    }

    [Fact]
    public async Task Deliver_NothingListening_RetriesThenGivesUp()
    {
        using var http = new HttpClient();
        var channel = new WebhookAlertChannel(http, [new WebhookTarget(new Uri($"http://127.0.0.1:{FreePort.Next()}/"), Secret)], Fast);
        var alert = BudgetAlertsTests.Alert(100, 10m);

        await channel.DeliverAsync(alert, BudgetAlertJson.ToUtf8Bytes(alert), CancellationToken.None);
        await channel.DisposeAsync();

        Assert.Equal(0, channel.Delivered);
        Assert.Equal(1, channel.Failed);
    }

    private sealed record Received(string Method, string Path, string? ContentType, Dictionary<string, string?> Headers, byte[] Body)
    {
        public static async Task<Received> ReadAsync(HttpListenerRequest request)
        {
            using var body = new MemoryStream();
            await request.InputStream.CopyToAsync(body);
            var headers = request.Headers.AllKeys.ToDictionary(k => k!, k => request.Headers[k], StringComparer.OrdinalIgnoreCase);
            return new Received(request.HttpMethod, request.Url!.AbsolutePath, request.ContentType, headers, body.ToArray());
        }
    }
}
