using System.Net.Http.Headers;
using System.Text.Json;
using Beamline.Host.Activity;
using Beamline.Pipeline.Activity;
using Beamline.Tenancy;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Beamline.Host.Tests.Activity;

/// <summary>
/// The SSE endpoint over loopback HTTP in this process, fed by publishing on the bus directly
/// (the pipeline's own events are covered once it emits them): what a reader receives, in order.
/// </summary>
public sealed class ActivityEndpointsTests : IAsyncLifetime
{
    private const string AdminKey = "test-admin-key-0123456789";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);

    private readonly HttpClient _http = new() { Timeout = Timeout.InfiniteTimeSpan };
    private WebApplication _app = null!;
    private Uri _base = null!;
    private ActivityBus _bus = null!;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Beamline:Activity:BufferCapacity"] = "4",
            ["Beamline:Activity:HistorySize"] = "8",
        });
        builder.Services.Configure<TenancyOptions>(o => o.AdminKey = AdminKey);
        builder.Services.AddBeamlineActivity(builder.Configuration);
        _app = builder.Build();
        _app.MapActivityEndpoints();
        await _app.StartAsync();
        _base = new Uri(_app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        _bus = _app.Services.GetRequiredService<ActivityBus>();
        Assert.Same(_bus, _app.Services.GetRequiredService<IActivitySink>());
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    [Fact]
    public async Task Stream_History_ThenLiveEventsOfItsTenant()
    {
        for (var i = 0; i < 6; i++)
        {
            _bus.Publish(Event(i % 2 == 0 ? "tenant_a" : "tenant_b", $"old-{i}"));
        }
        using var cancel = new CancellationTokenSource(Wait);
        await using var stream = await SseStream.OpenAsync(_http, new Uri(_base, "admin/v1/activity/stream?tenant_id=tenant_a&history=2"), AdminKey, cancel.Token);
        Assert.Equal(": connected", await stream.ReadCommentAsync(cancel.Token));

        _bus.Publish(Event("tenant_b", "other"));
        _bus.Publish(Event("tenant_a", "live"));

        var events = new List<SseStream.Frame>();
        for (var i = 0; i < 3; i++)
        {
            events.Add(await stream.ReadEventAsync(cancel.Token));
        }
        Assert.Equal(["old-2", "old-4", "live"], events.Select(e => e.Data.GetProperty("request_id").GetString()));
        Assert.All(events, e => Assert.Equal("received", e.Event));
        Assert.All(events, e => Assert.Equal(e.Data.GetProperty("seq").GetInt64().ToString(System.Globalization.CultureInfo.InvariantCulture), e.Id));
        Assert.Equal([3L, 5L, 8L], events.Select(e => e.Data.GetProperty("seq").GetInt64()));
    }

    [Fact]
    public async Task Stream_BurstBeyondTheBuffer_EveryEventIsReceivedOrCountedAsDropped()
    {
        using var cancel = new CancellationTokenSource(Wait);
        await using var stream = await SseStream.OpenAsync(_http, new Uri(_base, "admin/v1/activity/stream"), AdminKey, cancel.Token);
        Assert.Equal(": connected", await stream.ReadCommentAsync(cancel.Token));
        const int Total = 20_000;
        for (var i = 0; i < Total; i++)
        {
            _bus.Publish(Event("tenant_a", i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }

        // A drop is reported in the notice after it happens, which may come after the last event
        // (the channel counts a drop once the newer event is already readable): read on until
        // every event is accounted for, within the test's time limit.
        long received = 0, dropped = 0, lastSeq = 0;
        var sawLast = false;
        while (received + dropped < Total)
        {
            var frame = await stream.ReadEventAsync(cancel.Token);
            if (frame.Event == "dropped")
            {
                Assert.Null(frame.Id);
                dropped += frame.Data.GetProperty("dropped").GetInt64();
                continue;
            }
            var seq = frame.Data.GetProperty("seq").GetInt64();
            Assert.True(seq > lastSeq, $"seq {seq} after {lastSeq}");
            lastSeq = seq;
            received++;
            sawLast |= frame.Data.GetProperty("request_id").GetString() == (Total - 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        Assert.Equal(Total, received + dropped);
        Assert.True(sawLast, "the newest event is never the one dropped (the buffer drops its oldest)");
    }

    private static ActivityEvent Event(string tenant, string request) => new() { Kind = ActivityKinds.Received, TenantId = tenant, RequestId = request };
}

/// <summary>A minimal Server-Sent Events reader over a streamed HTTP response.</summary>
internal sealed class SseStream : IAsyncDisposable
{
    private readonly HttpResponseMessage _response;
    private readonly StreamReader _reader;

    private SseStream(HttpResponseMessage response, StreamReader reader)
    {
        _response = response;
        _reader = reader;
    }

    public sealed record Frame(string? Id, string? Event, JsonElement Data);

    public static async Task<SseStream> OpenAsync(HttpClient http, Uri uri, string adminKey, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", adminKey);
        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        response.EnsureSuccessStatusCode();
        return new SseStream(response, new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken)));
    }

    /// <summary>The next comment's text (with its leading colon).</summary>
    public async Task<string> ReadCommentAsync(CancellationToken cancellationToken)
    {
        var line = await _reader.ReadLineAsync(cancellationToken) ?? throw new EndOfStreamException();
        Assert.StartsWith(":", line, StringComparison.Ordinal);
        Assert.Equal("", await _reader.ReadLineAsync(cancellationToken));
        return line;
    }

    /// <summary>The next event (comments skipped).</summary>
    public async Task<Frame> ReadEventAsync(CancellationToken cancellationToken)
    {
        string? id = null, name = null, data = null;
        while (true)
        {
            var line = await _reader.ReadLineAsync(cancellationToken) ?? throw new EndOfStreamException();
            if (line.Length == 0)
            {
                if (data is not null)
                {
                    return new Frame(id, name, JsonDocument.Parse(data).RootElement.Clone());
                }
                continue;
            }
            if (line.StartsWith(':'))
            {
                continue;
            }
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var field = line[..colon];
            var value = line[(colon + 1)..].TrimStart(' ');
            switch (field)
            {
                case "id":
                    id = value;
                    break;
                case "event":
                    name = value;
                    break;
                case "data":
                    data = data is null ? value : data + "\n" + value;
                    break;
                default:
                    throw new InvalidDataException($"unexpected SSE field '{field}'");
            }
        }
    }

    public ValueTask DisposeAsync()
    {
        _reader.Dispose();
        _response.Dispose();
        return ValueTask.CompletedTask;
    }
}
