using System.Collections.Concurrent;
using System.Globalization;
using Beamline.Host.Tests.Observability.Otlp;
using Beamline.Testing;

namespace Beamline.Host.Tests.Observability;

/// <summary>One span as the control plane exported it (ids in lowercase hex; no parent: empty).</summary>
internal sealed record ReceivedSpan(string TraceId, string SpanId, string ParentSpanId, string Name, int Kind, string Scope,
    IReadOnlyDictionary<string, string> Attributes);

/// <summary>
/// An OTLP/HTTP trace endpoint on loopback (<c>POST /v1/traces</c>, protobuf), as a collector
/// serves it: <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> of a control plane points here.
/// </summary>
internal sealed class OtlpReceiver : IDisposable
{
    private readonly ConcurrentQueue<ReceivedSpan> _spans = new();
    private readonly LoopbackHttpServer _server;

    public OtlpReceiver() => _server = new LoopbackHttpServer(ReceiveAsync, concurrent: true);

    /// <summary>The endpoint, for <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>.</summary>
    public string Endpoint => _server.BaseUrl;

    /// <summary>The spans of <paramref name="traceId"/> received so far.</summary>
    public IReadOnlyList<ReceivedSpan> Trace(string traceId) => [.. _spans.Where(s => s.TraceId == traceId)];

    /// <summary>Waits until the spans of <paramref name="traceId"/> include every name in <paramref name="names"/>.</summary>
    public Task<IReadOnlyList<ReceivedSpan>> WaitForTraceAsync(string traceId, params string[] names) => WaitForTraceAsync(traceId, null, names);

    /// <summary>
    /// As <see cref="WaitForTraceAsync(string, string[])"/>, and until a span whose parent is
    /// <paramref name="childOf"/> came too: spans end (and are exported) in any order, and the
    /// HTTP server span ends after the response, often in a later export than the pipeline's.
    /// </summary>
    public async Task<IReadOnlyList<ReceivedSpan>> WaitForTraceAsync(string traceId, string? childOf, string[] names)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var spans = Trace(traceId);
            if (names.All(name => spans.Any(s => s.Name == name)) && (childOf is null || spans.Any(s => s.ParentSpanId == childOf)))
            {
                return spans;
            }
            if (DateTime.UtcNow > until)
            {
                throw new TimeoutException($"trace {traceId}: spans {string.Join(", ", spans.Select(s => s.Name))}; waited for {string.Join(", ", names)}");
            }
            await Task.Delay(50);
        }
    }

    public void Dispose() => _server.Dispose();

    private async Task ReceiveAsync(System.Net.HttpListenerContext context)
    {
        using var body = new MemoryStream();
        await context.Request.InputStream.CopyToAsync(body);
        if (context.Request.Url?.AbsolutePath == "/v1/traces")
        {
            var request = ExportTraceServiceRequest.Parser.ParseFrom(body.ToArray());
            foreach (var resource in request.ResourceSpans)
            {
                foreach (var scope in resource.ScopeSpans)
                {
                    foreach (var span in scope.Spans)
                    {
                        _spans.Enqueue(new ReceivedSpan(Convert.ToHexStringLower(span.TraceId.Span), Convert.ToHexStringLower(span.SpanId.Span),
                            Convert.ToHexStringLower(span.ParentSpanId.Span), span.Name, span.Kind, scope.Scope?.Name ?? "",
                            span.Attributes.ToDictionary(a => a.Key, a => Text(a.Value))));
                    }
                }
            }
        }
        // An empty ExportTraceServiceResponse: everything was accepted.
        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/x-protobuf";
        context.Response.Close();
    }

    private static string Text(AnyValue value) => value.ValueCase switch
    {
        AnyValue.ValueOneofCase.StringValue => value.StringValue,
        AnyValue.ValueOneofCase.IntValue => value.IntValue.ToString(CultureInfo.InvariantCulture),
        AnyValue.ValueOneofCase.BoolValue => value.BoolValue ? "true" : "false",
        AnyValue.ValueOneofCase.DoubleValue => value.DoubleValue.ToString(CultureInfo.InvariantCulture),
        _ => "",
    };
}
