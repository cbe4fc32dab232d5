using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using System.Text.Json;
using Beamline.Cp1;
using Beamline.Host.Routing;
using Beamline.Pipeline.Activity;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Beamline.Host.Activity;

/// <summary>
/// The live activity stream over Server-Sent Events (docs/admin.md):
/// <c>GET /admin/v1/activity/stream?tenant_id=&amp;history=</c>, with the tenancy admin key
/// (<c>Authorization: Bearer &lt;AdminKey&gt;</c>; without it 401 <c>unauthorized</c>, as every admin
/// view). <c>tenant_id</c> keeps one tenant's events (an unknown tenant simply sees none);
/// <c>history</c> first replays up to that many recent events (at most
/// <see cref="ActivityOptions.HistorySize"/>). The stream opens with a <c>: connected</c> comment,
/// sends <c>: ping</c> every <see cref="ActivityOptions.HeartbeatInterval"/>, and ends when the
/// client leaves or the host begins to stop, so that an open stream never delays shutdown.
/// </summary>
public static class ActivityEndpoints
{
    /// <summary>The stream's path.</summary>
    public const string StreamPath = "/admin/v1/activity/stream";

    // Events written between two flushes at most: a busy stream still reaches the client in steps.
    private const int MaxBatch = 256;

    /// <summary>Maps the activity stream.</summary>
    public static IEndpointRouteBuilder MapActivityEndpoints(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapGet(StreamPath, StreamAsync);
        return endpoints;
    }

    private static Task StreamAsync(HttpContext context)
    {
        if (!TenancyAdminEndpoints.IsAdminAuthorized(context.Request))
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
            return ErrorAsync(context, new Cp1Error(Cp1ErrorCodes.Unauthorized,
                "a valid admin key is required: Authorization: Bearer <admin key>"));
        }
        var bus = context.RequestServices.GetRequiredService<ActivityBus>();
        var history = 0;
        if (context.Request.Query["history"].ToString() is { Length: > 0 } text
            && (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out history)))
        {
            return ErrorAsync(context, new Cp1Error(Cp1ErrorCodes.InvalidRequest,
                "history must be a non-negative integer", "history", Cp1ErrorTypes.InvalidValue));
        }
        var tenant = context.Request.Query["tenant_id"].ToString();
        return StreamEventsAsync(context, bus, tenant.Length == 0 ? null : tenant, Math.Min(history, bus.HistorySize));
    }

    private static async Task StreamEventsAsync(HttpContext context, ActivityBus bus, string? tenant, int history)
    {
        var services = context.RequestServices;
        var heartbeat = services.GetRequiredService<IOptions<ActivityOptions>>().Value.HeartbeatInterval;
        var time = services.GetService<TimeProvider>() ?? TimeProvider.System;
        var stopping = services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;

        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no"; // nginx and friends: pass events through at once
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, stopping);
        var token = stop.Token;
        using var subscription = bus.Subscribe(tenant, capacity: null, history);
        var output = response.BodyWriter;
        using var json = new Utf8JsonWriter(output);
        using var timer = new PeriodicTimer(heartbeat, time);
        try
        {
            ActivitySse.WriteComment(output, "connected"u8);
            if (!await FlushAsync(output, token).ConfigureAwait(false))
            {
                return;
            }
            var reader = subscription.Reader;
            var tick = timer.WaitForNextTickAsync(token).AsTask();
            Task<bool>? read = null;
            long reportedDropped = 0;
            while (true)
            {
                var written = 0;
                var dropped = subscription.Dropped;
                if (dropped > reportedDropped)
                {
                    ActivitySse.WriteDropped(output, dropped - reportedDropped);
                    reportedDropped = dropped;
                    written++;
                }
                while (written < MaxBatch && reader.TryRead(out var activity))
                {
                    ActivitySse.WriteEvent(output, json, activity);
                    written++;
                }
                if (written > 0)
                {
                    if (!await FlushAsync(output, token).ConfigureAwait(false))
                    {
                        return;
                    }
                    continue; // more may be buffered
                }
                // Nothing buffered: wait for an event or the heartbeat, whichever comes first.
                read ??= reader.WaitToReadAsync(token).AsTask();
                if (await Task.WhenAny(read, tick).ConfigureAwait(false) == tick)
                {
                    if (!await tick.ConfigureAwait(false))
                    {
                        return;
                    }
                    ActivitySse.WriteComment(output, "ping"u8);
                    if (!await FlushAsync(output, token).ConfigureAwait(false))
                    {
                        return;
                    }
                    tick = timer.WaitForNextTickAsync(token).AsTask();
                }
                else
                {
                    if (!await read.ConfigureAwait(false))
                    {
                        return; // the subscription ended
                    }
                    read = null;
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // The client left or the host is stopping: the stream simply ends.
        }
        catch (IOException)
        {
            // The connection broke while writing.
        }
    }

    // False when the client is gone (the stream ends).
    private static async ValueTask<bool> FlushAsync(PipeWriter output, CancellationToken token)
    {
        var result = await output.FlushAsync(token).ConfigureAwait(false);
        return !result.IsCompleted && !result.IsCanceled;
    }

    // The admin views' error shape (RouterAdminJson), so that a client handles one.
    private static Task ErrorAsync(HttpContext context, Cp1Error error)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        int status;
        using (var writer = new Utf8JsonWriter(buffer))
        {
            status = RouterAdminJson.WriteError(writer, context.RequestServices.GetRequiredService<RoutingService>().InstanceId, error);
        }
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = buffer.WrittenCount;
        return context.Response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted).AsTask();
    }
}
