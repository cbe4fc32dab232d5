using System.Buffers;
using System.Text.Json;
using Beamline.Cp1;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Beamline.Host.Workers;

/// <summary>
/// <c>GET /admin/v1/workers</c> (admin key): the workers on the bus from their heartbeats —
/// <c>{"ok":true,"mode":"nats"|"in_process","workers":[{"worker_id","version","alive","draining",
/// "seen_ms_ago","executors":[…],"pools":[{"name","capacity","in_flight","queued"}]}]}</c>. With the
/// embedded default (no NATS) blocks run in-process and the list is empty.
/// </summary>
internal static class WorkerEndpoints
{
    public static IEndpointRouteBuilder MapWorkerEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/admin/v1/workers", WorkersAsync);
        return endpoints;
    }

    private static Task WorkersAsync(HttpContext context)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            if (!TenancyAdminEndpoints.IsAdminAuthorized(context.Request))
            {
                context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                context.Response.Headers.WWWAuthenticate = "Bearer";
                Http.Cp1Error.Write(writer, Cp1ErrorCodes.Unauthorized, "a valid admin key is required: Authorization: Bearer <admin key>");
            }
            else
            {
                var directory = context.RequestServices.GetService<WorkerDirectory>();
                Write(writer, directory);
            }
        }
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = buffer.WrittenCount;
        return context.Response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted).AsTask();
    }

    private static void Write(Utf8JsonWriter writer, WorkerDirectory? directory)
    {
        writer.WriteStartObject();
        writer.WriteBoolean("ok", true);
        writer.WriteString("mode", directory is null ? "in_process" : "nats");
        writer.WriteStartArray("workers");
        if (directory is not null)
        {
            var now = DateTimeOffset.UtcNow;
            foreach (var worker in directory.Snapshot())
            {
                writer.WriteStartObject();
                writer.WriteString("worker_id", worker.WorkerId);
                writer.WriteString("version", worker.Version);
                writer.WriteBoolean("alive", directory.IsAlive(worker));
                writer.WriteBoolean("draining", worker.Draining);
                writer.WriteNumber("seen_ms_ago", Math.Max(0, (long)(now - worker.SeenAt).TotalMilliseconds));
                writer.WriteStartArray("executors");
                foreach (var executor in worker.Executors)
                {
                    writer.WriteStringValue(executor);
                }
                writer.WriteEndArray();
                writer.WriteStartArray("pools");
                foreach (var pool in worker.Pools)
                {
                    writer.WriteStartObject();
                    writer.WriteString("name", pool.Name);
                    writer.WriteNumber("capacity", pool.Capacity);
                    writer.WriteNumber("in_flight", pool.InFlight);
                    writer.WriteNumber("queued", pool.Queued);
                    writer.WriteNumber("stuck", pool.Stuck);
                    writer.WriteNumber("replaced", pool.Replaced);
                    writer.WriteEndObject();
                }
                writer.WriteEndArray();
                writer.WriteEndObject();
            }
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
    }
}
