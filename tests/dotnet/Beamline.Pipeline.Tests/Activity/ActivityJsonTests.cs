using System.Text;
using System.Text.Json;
using Beamline.Pipeline.Activity;

namespace Beamline.Pipeline.Tests.Activity;

public sealed class ActivityJsonTests
{
    [Fact]
    public void Write_EveryField_SnakeCaseWithUtcTime()
    {
        var activity = new ActivityEvent
        {
            Sequence = 42,
            Time = new DateTimeOffset(2025, 3, 4, 7, 8, 9, 123, TimeSpan.FromHours(2)),
            Kind = ActivityKinds.ProviderAttempt,
            TenantId = "tenant_a",
            RequestId = "req-1",
            TraceId = "trace-1",
            Stage = "provider",
            Subject = "openai",
            Status = "ok",
            LatencyMs = 12.5,
            CostUsd = 0.000123,
            Detail = "line one\nline \"two\"",
        };

        var json = Encoding.UTF8.GetString(ActivityJson.ToUtf8Bytes(activity));
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;

        Assert.Equal(["seq", "time", "kind", "tenant_id", "request_id", "trace_id", "stage", "subject", "status", "latency_ms", "cost_usd", "detail"],
            root.EnumerateObject().Select(p => p.Name));
        Assert.Equal(42, root.GetProperty("seq").GetInt64());
        Assert.Equal("2025-03-04T05:08:09.123Z", root.GetProperty("time").GetString());
        Assert.Equal("provider_attempt", root.GetProperty("kind").GetString());
        Assert.Equal("tenant_a", root.GetProperty("tenant_id").GetString());
        Assert.Equal("req-1", root.GetProperty("request_id").GetString());
        Assert.Equal("trace-1", root.GetProperty("trace_id").GetString());
        Assert.Equal("provider", root.GetProperty("stage").GetString());
        Assert.Equal("openai", root.GetProperty("subject").GetString());
        Assert.Equal("ok", root.GetProperty("status").GetString());
        Assert.Equal(12.5, root.GetProperty("latency_ms").GetDouble());
        Assert.Equal(0.000123, root.GetProperty("cost_usd").GetDouble());
        Assert.Equal("line one\nline \"two\"", root.GetProperty("detail").GetString());
        Assert.DoesNotContain('\n', json); // one line: it fits an SSE data: line
    }

    [Fact]
    public void Write_MissingFields_AreOmittedNotNull()
    {
        var activity = new ActivityEvent
        {
            Sequence = 1,
            Time = new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero),
            Kind = ActivityKinds.Received,
            TenantId = "t",
            RequestId = "r",
        };

        var json = Encoding.UTF8.GetString(ActivityJson.ToUtf8Bytes(activity));

        Assert.Equal("""{"seq":1,"time":"2025-01-01T00:00:00Z","kind":"received","tenant_id":"t","request_id":"r"}""", json);
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(double.NegativeInfinity)]
    public void Write_NonFiniteNumbers_AreOmitted(double value)
    {
        var activity = new ActivityEvent { Kind = ActivityKinds.Cost, TenantId = "t", RequestId = "r", LatencyMs = value, CostUsd = value };

        using var document = JsonDocument.Parse(ActivityJson.ToUtf8Bytes(activity));

        Assert.False(document.RootElement.TryGetProperty("latency_ms", out _));
        Assert.False(document.RootElement.TryGetProperty("cost_usd", out _));
    }

    [Fact]
    public void Write_ToAReusedWriter_WritesOneObjectEachTime()
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using var writer = new Utf8JsonWriter(buffer);
        for (var i = 1; i <= 2; i++)
        {
            buffer.ResetWrittenCount();
            writer.Reset(buffer);
            ActivityJson.Write(writer, new ActivityEvent { Sequence = i, Kind = ActivityKinds.Final, TenantId = "t", RequestId = "r", Status = "ok" });
            writer.Flush();

            using var document = JsonDocument.Parse(buffer.WrittenMemory);
            Assert.Equal(i, document.RootElement.GetProperty("seq").GetInt64());
        }
    }
}
