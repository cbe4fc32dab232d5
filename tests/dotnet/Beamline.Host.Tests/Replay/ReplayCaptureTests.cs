using System.Text;
using Beamline.Cp1;
using Beamline.Host.Replay;
using Beamline.Pipeline;
using Beamline.Pipeline.Costs;
using Beamline.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Beamline.Host.Tests.Replay;

/// <summary><see cref="ReplayCapture"/>: what it keeps, masked, and what it purges, on a real SQLite file.</summary>
public sealed class ReplayCaptureTests : IAsyncLifetime
{
    private const string Email = "jane.doe@example.com";

    private readonly string _directory = Directory.CreateTempSubdirectory("beamline-replay-capture-").FullName;
    private readonly ManualTimeProvider _time = new();
    private ReplayStore _store = null!;

    public Task InitializeAsync()
    {
        _store = new ReplayStore(Path.Combine(_directory, ReplayStore.FileName));
        return Task.CompletedTask;
    }

    public Task DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
        return Task.CompletedTask;
    }

    private ReplayCapture Capture(int queueCapacity = 64, int maxBodyBytes = 256 * 1024) => new(_store,
        Options.Create(new ReplayOptions { Tenants = ["acme"], QueueCapacity = queueCapacity, MaxBodyBytes = maxBodyBytes }),
        _time, NullLogger<ReplayCapture>.Instance);

    private static PipelineRequest Request(string tenant, string id, string content, bool stream = false)
    {
        var request = new PipelineRequest
        {
            Caller = new Caller { TenantId = tenant },
            RequestId = id,
            MessageType = "chat",
            Payload = Encoding.UTF8.GetBytes($$$"""{"model":"chat","user":"{{{Email}}}","messages":[{"role":"user","content":"{{{content}}}"}]}"""),
            PayloadKind = PayloadKind.Json,
            Format = WireFormat.OpenAIChat,
            Stream = stream,
            Face = "openai",
        };
        request.Metadata["note"] = "from " + Email;
        return request;
    }

    private static ExecuteResult Answer(string text) => new()
    {
        ProviderId = "mock_echo",
        PolicyId = "chat",
        Model = "mock-1",
        Output = Encoding.UTF8.GetBytes($$$"""{"choices":[{"message":{"content":"{{{text}}}"}}]}"""),
        Usage = new TokenUsage(12, 5),
        CostNanos = 777,
    };

    // Every value of every kept row, as text: what a reader of replay.db could see.
    private async Task<string> EverythingKeptAsync()
    {
        await using var connection = new SqliteConnection($"Data Source={_store.DatabasePath};Mode=ReadOnly");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT * FROM replay_requests;";
        var all = new StringBuilder();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            for (var i = 0; i < reader.FieldCount; i++)
            {
                all.Append(reader.GetValue(i) is byte[] bytes ? Encoding.UTF8.GetString(bytes) : Convert.ToString(reader.GetValue(i), System.Globalization.CultureInfo.InvariantCulture)).Append('|');
            }
            all.Append('\n');
        }
        return all.ToString();
    }

    [Fact]
    public async Task Executed_OptedInTenant_IsKeptMasked_OtherTenantIsNot()
    {
        var capture = Capture();
        await capture.StartAsync(CancellationToken.None);
        capture.Executed(Request("acme", "a1", $"write to {Email}"), Answer($"Echo: write to {Email}"));
        capture.Executed(Request("beta", "b1", "hello"), Answer("Echo: hello"));
        await capture.StopAsync(CancellationToken.None);
        await capture.DisposeAsync(); // after the host drained: writes what is queued

        var kept = Assert.Single(await _store.FindAsync("a1", null, DateTimeOffset.MinValue, CancellationToken.None));
        Assert.Equal("""{"model":"chat","user":"[EMAIL]","messages":[{"role":"user","content":"write to [EMAIL]"}]}""", Encoding.UTF8.GetString(kept.RequestBody!));
        Assert.Equal("""{"choices":[{"message":{"content":"Echo: write to [EMAIL]"}}]}""", Encoding.UTF8.GetString(kept.ResponseBody!));
        Assert.Equal("from [EMAIL]", kept.Metadata["note"]);
        Assert.Equal(("mock_echo", "mock-1", "ok", 777L), (kept.ProviderId, kept.Model, kept.Status, kept.CostNanos));
        Assert.Equal(new TokenUsage(12, 5), kept.Usage);
        Assert.Equal(_time.GetUtcNow(), kept.At);
        Assert.Empty(await _store.FindAsync("b1", null, DateTimeOffset.MinValue, CancellationToken.None));
        Assert.DoesNotContain(Email, await EverythingKeptAsync(), StringComparison.Ordinal);
        Assert.Equal((1L, 0L), (capture.Written, capture.Dropped));
        capture.Dispose();
    }

    [Fact]
    public async Task Executed_Error_KeepsTheCodeAndTheMaskedMessageButNoAnswer()
    {
        var capture = Capture();
        await capture.StartAsync(CancellationToken.None);
        capture.Executed(Request("acme", "e1", "hi"), new ExecuteResult { Error = new Cp1Error(Cp1ErrorCodes.DecisionFailed, $"no provider for {Email}") });
        await capture.StopAsync(CancellationToken.None);
        await capture.DisposeAsync();

        var kept = Assert.Single(await _store.FindAsync("e1", null, DateTimeOffset.MinValue, CancellationToken.None));
        Assert.Equal(("decision_failed", "no provider for [EMAIL]"), (kept.Status, kept.ErrorMessage));
        Assert.Null(kept.ResponseBody);
        Assert.Null(kept.Usage);
        capture.Dispose();
    }

    [Fact]
    public void Capture_Stream_KeepsTheRequestButNoAnswer()
    {
        var record = ReplayCapture.Capture(Request("acme", "s1", "hi", stream: true), Answer("ignored status document"), 1024, _time.GetUtcNow());

        Assert.True(record.Stream);
        Assert.NotNull(record.RequestBody);
        Assert.Null(record.ResponseBody);
        Assert.Equal(new TokenUsage(12, 5), record.Usage);
    }

    [Fact]
    public void Capture_BinaryPayload_KeepsNoBody()
    {
        var request = new PipelineRequest
        {
            Caller = new Caller { TenantId = "acme" },
            RequestId = "bin",
            MessageType = "chat",
            Payload = new byte[] { 0xff, 0x00, 0x01 },
            PayloadKind = PayloadKind.Binary,
        };
        var record = ReplayCapture.Mask(ReplayCapture.Capture(request, Answer("x"), 1024, _time.GetUtcNow()), 1024);

        Assert.Null(record.RequestBody);
        Assert.NotNull(ReplayRunner.CannotReplay(record));
    }

    [Fact]
    public void Capture_LargerThanMaxBodyBytes_IsCutFlaggedAndMaskedAsText()
    {
        var content = Email + " " + new string('x', 2000);
        var record = ReplayCapture.Mask(ReplayCapture.Capture(Request("acme", "big", content), Answer(content), 1024, _time.GetUtcNow()), 1024);

        Assert.True(record.RequestTruncated);
        Assert.True(record.ResponseTruncated);
        Assert.True(record.RequestBody!.Length <= 1024);
        Assert.True(record.ResponseBody!.Length <= 1024);
        Assert.Equal(PayloadKind.Text, record.RequestKind);
        Assert.DoesNotContain(Email, Encoding.UTF8.GetString(record.RequestBody), StringComparison.Ordinal);
        Assert.DoesNotContain(Email, Encoding.UTF8.GetString(record.ResponseBody), StringComparison.Ordinal);
        Assert.Contains("[EMAIL]", Encoding.UTF8.GetString(record.RequestBody), StringComparison.Ordinal);
        Assert.NotNull(ReplayRunner.CannotReplay(record));
    }

    [Fact]
    public async Task Executed_QueueFull_DropsWithoutWaitingAndCounts()
    {
        var capture = Capture(queueCapacity: 1);
        // Not started: nothing reads the queue, so the second request finds it full.
        capture.Executed(Request("acme", "q1", "one"), Answer("one"));
        capture.Executed(Request("acme", "q2", "two"), Answer("two"));
        Assert.Equal(1L, capture.Dropped);

        await capture.StartAsync(CancellationToken.None);
        await capture.StopAsync(CancellationToken.None);
        await capture.DisposeAsync();
        Assert.Single(await _store.FindAsync("q1", null, DateTimeOffset.MinValue, CancellationToken.None));
        Assert.Empty(await _store.FindAsync("q2", null, DateTimeOffset.MinValue, CancellationToken.None));
    }

    [Fact]
    public async Task Stop_RequestsFinishingWhileTheHostDrains_AreStillKept()
    {
        var capture = Capture();
        await capture.StartAsync(CancellationToken.None);
        await capture.StopAsync(CancellationToken.None);

        // Kestrel drains side by side with the hosted services' stop: this request ends after it.
        capture.Executed(Request("acme", "late", "late"), Answer("late"));
        await capture.DisposeAsync();

        Assert.Single(await _store.FindAsync("late", null, DateTimeOffset.MinValue, CancellationToken.None));
        Assert.Equal(0L, capture.Dropped);
    }

    [Fact]
    public async Task Start_PurgesWhatIsOlderThanTheRetention()
    {
        await _store.InitializeAsync(CancellationToken.None);
        var now = _time.GetUtcNow();
        await _store.WriteAsync([ReplayStoreTests.Record("acme", "expired", now.AddHours(-25)), ReplayStoreTests.Record("acme", "fresh", now.AddHours(-23))],
            CancellationToken.None);

        var capture = Capture();
        await capture.StartAsync(CancellationToken.None);
        await capture.StopAsync(CancellationToken.None);

        Assert.Empty(await _store.FindAsync("expired", null, DateTimeOffset.MinValue, CancellationToken.None));
        Assert.Single(await _store.FindAsync("fresh", null, DateTimeOffset.MinValue, CancellationToken.None));
        capture.Dispose();
    }

    [Fact]
    public void Options_RetentionOverThirtyDays_AreRefused()
    {
        var validator = new ReplayOptionsValidator();
        Assert.True(validator.Validate(null, new ReplayOptions()).Succeeded);
        Assert.True(validator.Validate(null, new ReplayOptions { Retention = TimeSpan.FromDays(31) }).Failed);
        Assert.True(validator.Validate(null, new ReplayOptions { Retention = TimeSpan.Zero }).Failed);
        Assert.True(validator.Validate(null, new ReplayOptions { MaxBodyBytes = 10 }).Failed);
        Assert.False(new ReplayOptions().IsEnabled);
    }
}
