using System.Collections.Concurrent;
using System.Diagnostics;
using Beamline.Pipeline.Telemetry;
using Beamline.Policies;

namespace Beamline.Pipeline.Tests.Telemetry;

/// <summary>
/// The pipeline's spans as an ActivityListener on <c>Beamline</c> sees them. Each test starts its
/// own parent span and looks only at spans of its trace (the listener is process-wide).
/// </summary>
public sealed class PipelineTracingTests
{
    private const string AThenB = """
        {"providers":[{"name":"a","weight":1}],
         "fallbacks":[{"when":{"status":["5xx","timeout"]},"retry":0,"to":"b"}]}
        """;

    [Fact]
    public void StartStage_NobodyListens_ReturnsNull()
    {
        // No listener in this test: starting a span is a branch, nothing is allocated or recorded.
        using var span = PipelineTracing.StartStage("beamline.admit", TestPipeline.Request());
        Assert.Null(span);
    }

    [Fact]
    public async Task Execute_WithFallback_AStageTreeUnderTheRequestSpanAndOneSpanPerAttempt()
    {
        using var spans = new SpanCollector();
        var test = new TestPipeline(AThenB);
        test.Providers.Fail("a", FailureKinds.ServerError);
        test.Providers.Answer("b", """{"answer":"from b"}""");
        using var parent = spans.StartParent();

        var result = await test.Pipeline.ExecuteAsync(TestPipeline.Request(), CancellationToken.None);

        Assert.True(result.IsSuccess, result.Error?.Message);
        var trace = spans.Of(parent);
        var execute = Assert.Single(trace, s => s.OperationName == "beamline.execute");
        Assert.Equal(parent.SpanId, execute.ParentSpanId);
        Assert.Equal(TestPipeline.Tenant, execute.GetTagItem("tenant_id"));
        Assert.Equal(execute.SpanId, Assert.Single(trace, s => s.OperationName == "beamline.admit").ParentSpanId);
        var routes = trace.Where(s => s.OperationName == "beamline.route").ToList();
        Assert.Equal(execute.SpanId, Assert.Single(routes).ParentSpanId);
        Assert.Equal("a", routes[0].GetTagItem("provider_id"));
        var attempts = trace.Where(s => s.OperationName == "beamline.provider").OrderBy(s => s.StartTimeUtc).ToList();
        Assert.Equal(["a", "b"], attempts.Select(a => (string?)a.GetTagItem("provider_id")));
        Assert.All(attempts, a => Assert.Equal(execute.SpanId, a.ParentSpanId));
        Assert.Equal(ActivityStatusCode.Error, attempts[0].Status);
        Assert.Equal("http_503", attempts[0].GetTagItem("status"));
        Assert.Equal("ok", attempts[1].GetTagItem("status"));
    }

    [Fact]
    public void RecordWorker_AChildOfTheBlockThatEndsNowAndLastsTheWorkersTime()
    {
        using var spans = new SpanCollector();
        using var parent = spans.StartParent();
        using var block = PipelineTracing.StartBlock("blk", "echo", "cpu", "t1", "nats");
        Assert.NotNull(block);
        Thread.Sleep(5); // the block span must be longer than what the worker reports

        PipelineTracing.RecordWorker(block, "w-1", "cpu", queueMicros: 1_000, execMicros: 2_000);

        Assert.Same(block, System.Diagnostics.Activity.Current);
        var worker = Assert.Single(spans.Of(parent), s => s.OperationName == "beamline.worker");
        Assert.Equal(block.SpanId, worker.ParentSpanId);
        Assert.Equal(TimeSpan.FromMilliseconds(3), worker.Duration);
        Assert.Equal("w-1", worker.GetTagItem("worker_id"));
        Assert.Equal(1_000L, worker.GetTagItem("queue_us"));
        Assert.Equal(2_000L, worker.GetTagItem("exec_us"));
        Assert.Equal($"00-{parent.TraceId}-{block.SpanId}-01", PipelineTracing.Traceparent(block));
    }

    /// <summary>Records every Beamline span while it lives.</summary>
    private sealed class SpanCollector : IDisposable
    {
        private static readonly ActivitySource TestSource = new("Beamline.Tests.Tracing");
        private readonly ConcurrentQueue<System.Diagnostics.Activity> _stopped = new();
        private readonly ActivityListener _listener;

        public SpanCollector()
        {
            _listener = new ActivityListener
            {
                ShouldListenTo = source => source.Name is PipelineTracing.SourceName or "Beamline.Tests.Tracing",
                Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
                ActivityStopped = _stopped.Enqueue,
            };
            ActivitySource.AddActivityListener(_listener);
        }

        public System.Diagnostics.Activity StartParent() => TestSource.StartActivity("test")!;

        public List<System.Diagnostics.Activity> Of(System.Diagnostics.Activity parent) =>
            [.. _stopped.Where(s => s.TraceId == parent.TraceId && s != parent)];

        public void Dispose() => _listener.Dispose();
    }
}
