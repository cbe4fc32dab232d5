using System.Buffers;
using Microsoft.AspNetCore.Http;

namespace Beamline.Host.Http;

/// <summary>Writes JSON bodies that were built with a <see cref="System.Text.Json.Utf8JsonWriter"/>.</summary>
internal static class JsonResponses
{
    public static Task WriteAsync(HttpContext context, int status, Action<IBufferWriter<byte>> write)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        write(buffer);
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = buffer.WrittenCount;
        return context.Response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted).AsTask();
    }

}
