using System.Buffers;
using System.Text.Json;
using Beamline.Experiments.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;

namespace Beamline.Host.Experiments;

/// <summary>
/// <c>POST /v1/feedback</c> on a request another control plane served: each control plane
/// remembers only its own recent requests, so one that does not know the request asks the others
/// on <see cref="Subject"/> (no queue group: every control plane hears it); the one that served it
/// takes the score and answers, the others stay silent. No answer within <see cref="AnswerWithin"/>
/// means nobody knows it (404). The tenant comes from the caller's key, as for local feedback, and
/// a control plane takes only the feedback of that tenant's own requests; nothing secret travels.
/// </summary>
internal sealed partial class NatsFeedbackRelay(IServiceProvider services, ExperimentAccounting accounting, ILogger<NatsFeedbackRelay> logger)
    : BackgroundService
{
    /// <summary>The subject: <c>{"tenant_id","request_id","score"}</c>; the answer <c>{"ok":true}</c> comes only from the control plane that served the request.</summary>
    public const string Subject = "beamline.experiments.v1.feedback";

    /// <summary>How long a control plane waits for the one that served the request.</summary>
    internal static readonly TimeSpan AnswerWithin = TimeSpan.FromMilliseconds(500);

    private const string OriginHeader = "Beamline-Origin";
    private static readonly byte[] Taken = """{"ok":true}"""u8.ToArray();

    private readonly string _self = Guid.NewGuid().ToString("N");
    private INatsConnection? _connection;

    /// <summary>True when another control plane served the tenant's request and took the score.</summary>
    public async Task<bool> ForwardAsync(string tenantId, string requestId, double score, CancellationToken cancellationToken)
    {
        if (_connection is not { ConnectionState: NatsConnectionState.Open } connection)
        {
            return false;
        }
        var body = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(body))
        {
            writer.WriteStartObject();
            writer.WriteString("tenant_id", tenantId);
            writer.WriteString("request_id", requestId);
            writer.WriteNumber("score", score);
            writer.WriteEndObject();
        }
        try
        {
            var reply = await connection.RequestAsync<byte[], byte[]>(Subject, body.WrittenSpan.ToArray(), new NatsHeaders { [OriginHeader] = _self },
                replyOpts: new NatsSubOpts { Timeout = AnswerWithin }, cancellationToken: cancellationToken).ConfigureAwait(false);
            return reply.Data is { Length: > 0 };
        }
        catch (NatsNoReplyException)
        {
            return false; // nobody knows the request
        }
        catch (NatsNoRespondersException)
        {
            return false; // no other control plane listens
        }
        catch (NatsException)
        {
            return false; // NATS went away meanwhile: as unknown here
        }
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _connection = services.GetService<INatsConnection>();
        if (_connection is null)
        {
            return;
        }
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await foreach (var msg in _connection.SubscribeAsync<byte[]>(Subject, cancellationToken: stoppingToken).ConfigureAwait(false))
                {
                    if (msg.ReplyTo is null || (msg.Headers is { } headers && headers.TryGetValue(OriginHeader, out var origin) && origin == _self))
                    {
                        continue;
                    }
                    if (TryRead(msg.Data, out var tenantId, out var requestId, out var score) && accounting.Feedback(tenantId, requestId, score))
                    {
                        await msg.ReplyAsync(Taken, cancellationToken: stoppingToken).ConfigureAwait(false);
                    }
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // Subscribed again: NATS may come back.
            catch (Exception error)
#pragma warning restore CA1031
            {
                LogRelayFailed(error.Message);
                await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken).ConfigureAwait(false);
            }
        }
    }

    private static bool TryRead(byte[]? data, out string tenantId, out string requestId, out double score)
    {
        tenantId = requestId = "";
        score = 0;
        try
        {
            using var document = JsonDocument.Parse(data ?? []);
            var root = document.RootElement;
            tenantId = root.GetProperty("tenant_id").GetString() ?? "";
            requestId = root.GetProperty("request_id").GetString() ?? "";
            score = root.GetProperty("score").GetDouble();
            return tenantId.Length > 0 && requestId.Length > 0 && score is >= 0 and <= 1;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            return false;
        }
    }

    [LoggerMessage(1, LogLevel.Warning, "Feedback relay: the subscription failed ({Message}); subscribing again.")]
    private partial void LogRelayFailed(string message);
}
