using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace Beamline.Accounting.Alerts;

/// <summary>A webhook budget alerts are posted to, with the secret its signatures are made with.</summary>
/// <param name="Url">Where to POST.</param>
/// <param name="Secret">The HMAC-SHA256 key (never sent).</param>
public sealed record WebhookTarget(Uri Url, byte[] Secret);

/// <summary>How webhooks are delivered.</summary>
public sealed class WebhookDeliveryOptions
{
    /// <summary>Attempts per alert and webhook, the first included. Defaults to 6.</summary>
    public int MaxAttempts { get; set; } = 6;

    /// <summary>The delay before the first retry; each next one doubles it (with jitter). Defaults to 2 seconds.</summary>
    public TimeSpan BaseDelay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>The longest delay between attempts. Defaults to 5 minutes.</summary>
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How long one attempt may take. Defaults to 10 seconds.</summary>
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Alerts waiting per webhook at most; more are dropped and logged. Defaults to 1,000.</summary>
    public int QueueCapacity { get; set; } = 1000;
}

/// <summary>
/// Posts budget alerts to webhooks: <c>POST</c> of the alert's JSON with
/// <c>X-Beamline-Timestamp</c> (Unix seconds), <c>X-Beamline-Signature: sha256=&lt;hex&gt;</c> (HMAC-SHA256
/// with the webhook's secret over <c>timestamp + "." + body</c>), <c>X-Beamline-Event</c> and
/// <c>X-Beamline-Delivery</c> (the alert id, the same on every retry).
/// </summary>
/// <remarks>
/// Each webhook has its own queue and sender, off the request path, so a dead one delays no other.
/// An attempt that times out, cannot connect, or is answered 408, 429 or 5xx is retried with
/// exponential backoff and jitter (Polly), up to <see cref="WebhookDeliveryOptions.MaxAttempts"/>;
/// each attempt is signed afresh, so its timestamp is current. Any other answer ends the delivery
/// (2xx: delivered; 4xx: refused, logged).
/// </remarks>
public sealed partial class WebhookAlertChannel : IBudgetAlertChannel, IAsyncDisposable
{
    private readonly HttpClient _http;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ResiliencePipeline<HttpResponseMessage> _pipeline;
    private readonly Sender[] _senders;
    private readonly CancellationTokenSource _stop = new();
    private long _delivered;
    private long _failed;
    private int _disposed;

    /// <summary>Starts a sender per target.</summary>
    public WebhookAlertChannel(HttpClient http, IEnumerable<WebhookTarget> targets, WebhookDeliveryOptions? options = null,
        ILogger<WebhookAlertChannel>? logger = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(targets);
        options ??= new WebhookDeliveryOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxAttempts, 1, nameof(options));
        _http = http;
        _time = time ?? TimeProvider.System;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        var retry = new RetryStrategyOptions<HttpResponseMessage>
        {
            MaxRetryAttempts = options.MaxAttempts - 1,
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            Delay = options.BaseDelay,
            MaxDelay = options.MaxDelay,
            ShouldHandle = new PredicateBuilder<HttpResponseMessage>()
                .Handle<HttpRequestException>()
                .Handle<TimeoutRejectedException>()
                .HandleResult(static response => IsTransient(response.StatusCode)),
            OnRetry = args =>
            {
                LogRetry(args.Outcome.Result?.StatusCode.ToString() ?? args.Outcome.Exception?.GetType().Name ?? "?", args.AttemptNumber + 1, args.RetryDelay);
                return ValueTask.CompletedTask;
            },
        };
        var builder = new ResiliencePipelineBuilder<HttpResponseMessage>().AddRetry(retry);
        if (options.AttemptTimeout > TimeSpan.Zero)
        {
            builder.AddTimeout(options.AttemptTimeout);
        }
        builder.TimeProvider = _time;
        _pipeline = builder.Build();
        _senders = [.. targets.Select(target => new Sender(this, target, options.QueueCapacity))];
    }

    /// <inheritdoc />
    public string Name => "webhooks";

    /// <summary>Deliveries a webhook answered with 2xx.</summary>
    public long Delivered => Interlocked.Read(ref _delivered);

    /// <summary>Deliveries given up (refused, out of attempts, or dropped from a full queue).</summary>
    public long Failed => Interlocked.Read(ref _failed);

    /// <inheritdoc />
    public ValueTask DeliverAsync(BudgetAlert alert, ReadOnlyMemory<byte> json, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(alert);
        var body = json.ToArray();
        foreach (var sender in _senders)
        {
            if (!sender.Queue.Writer.TryWrite((alert, body)))
            {
                Interlocked.Increment(ref _failed);
                LogQueueFull(Where(sender.Target.Url), alert.TenantId, alert.ThresholdPercent);
            }
        }
        return ValueTask.CompletedTask;
    }

    /// <summary>Stops taking alerts; what is queued is still tried for up to 10 seconds.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        foreach (var sender in _senders)
        {
            sender.Queue.Writer.TryComplete();
        }
        _stop.CancelAfter(TimeSpan.FromSeconds(10));
        await Task.WhenAll(_senders.Select(s => s.Loop)).ConfigureAwait(false);
        _stop.Dispose();
    }

    /// <summary>The signature header's value: <c>sha256=</c> and the hex HMAC-SHA256 of <c>timestamp + "." + body</c>.</summary>
    public static string Sign(byte[] secret, string timestamp, ReadOnlySpan<byte> body)
    {
        ArgumentNullException.ThrowIfNull(secret);
        ArgumentNullException.ThrowIfNull(timestamp);
        var prefix = Encoding.UTF8.GetBytes(timestamp + ".");
        var message = new byte[prefix.Length + body.Length];
        prefix.CopyTo(message, 0);
        body.CopyTo(message.AsSpan(prefix.Length));
        return "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(secret, message));
    }

    private static bool IsTransient(HttpStatusCode status)
        => (int)status >= 500 || status is HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests;

    private async Task SendAsync(WebhookTarget target, BudgetAlert alert, byte[] body, CancellationToken token)
    {
        var where = Where(target.Url);
        try
        {
            using var response = await _pipeline.ExecuteAsync(async attemptToken =>
            {
                var timestamp = _time.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
                using var request = new HttpRequestMessage(HttpMethod.Post, target.Url) { Content = new ByteArrayContent(body) };
                request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                request.Headers.Add("X-Beamline-Timestamp", timestamp);
                request.Headers.Add("X-Beamline-Signature", Sign(target.Secret, timestamp, body));
                request.Headers.Add("X-Beamline-Event", BudgetAlertJson.EventType);
                request.Headers.Add("X-Beamline-Delivery", alert.AlertId);
                return await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, attemptToken).ConfigureAwait(false);
            }, token).ConfigureAwait(false);
            if (response.IsSuccessStatusCode)
            {
                Interlocked.Increment(ref _delivered);
                return;
            }
            Interlocked.Increment(ref _failed);
            LogRefused(where, (int)response.StatusCode, alert.TenantId, alert.ThresholdPercent);
        }
        catch (Exception e) when (e is HttpRequestException or TimeoutRejectedException or OperationCanceledException)
        {
            Interlocked.Increment(ref _failed);
            LogGaveUp(where, e.GetType().Name, alert.TenantId, alert.ThresholdPercent);
        }
    }

    private sealed class Sender
    {
        public Sender(WebhookAlertChannel owner, WebhookTarget target, int capacity)
        {
            Target = target;
            Queue = Channel.CreateBounded<(BudgetAlert, byte[])>(new BoundedChannelOptions(capacity) { SingleReader = true });
            Loop = Task.Run(() => RunAsync(owner));
        }

        public WebhookTarget Target { get; }

        public Channel<(BudgetAlert Alert, byte[] Body)> Queue { get; }

        public Task Loop { get; }

        private async Task RunAsync(WebhookAlertChannel owner)
        {
            var token = owner._stop.Token;
            while (await Queue.Reader.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false))
            {
                while (Queue.Reader.TryRead(out var item))
                {
                    await owner.SendAsync(Target, item.Alert, item.Body, token).ConfigureAwait(false);
                }
            }
        }
    }

    [LoggerMessage(1, LogLevel.Warning, "Budget alert webhook answered {Outcome}; attempt {Attempt} in {Delay}.")]
    private partial void LogRetry(string outcome, int attempt, TimeSpan delay);

    [LoggerMessage(2, LogLevel.Error, "Budget alert webhook {Url} refused an alert of tenant '{TenantId}' ({Threshold}%) with HTTP {Status}.")]
    private partial void LogRefused(string url, int status, string tenantId, int threshold);

    [LoggerMessage(3, LogLevel.Error, "Budget alert webhook {Url} was not reached for an alert of tenant '{TenantId}' ({Threshold}%): {Error}, attempts exhausted.")]
    private partial void LogGaveUp(string url, string error, string tenantId, int threshold);

    [LoggerMessage(4, LogLevel.Error, "Budget alert webhook {Url}: an alert of tenant '{TenantId}' ({Threshold}%) was dropped, its queue is full.")]
    private partial void LogQueueFull(string url, string tenantId, int threshold);

    /// <summary>
    /// A webhook as logs name it: scheme, host and port only. Its user-info, path (Slack's and
    /// Discord's carry their secret token there) and query may hold credentials.
    /// </summary>
    public static string Where(Uri url)
    {
        ArgumentNullException.ThrowIfNull(url);
        return url.Scheme + "://" + url.Authority; // Authority is host[:port], without user-info
    }
}
