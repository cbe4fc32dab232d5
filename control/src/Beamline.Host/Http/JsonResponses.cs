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

    /// <summary>
    /// Reads the body up to <paramref name="limit"/> bytes; null when it is longer, so that an
    /// oversized request is refused before any parsing.
    /// </summary>
    public static async Task<byte[]?> ReadBodyAsync(HttpContext context, int limit)
    {
        if (context.Request.ContentLength > limit)
        {
            return null;
        }
        var buffer = new ArrayBufferWriter<byte>((int)Math.Min(context.Request.ContentLength ?? 4096, limit) + 1);
        var body = context.Request.Body;
        while (true)
        {
            var memory = buffer.GetMemory(4096);
            var read = await body.ReadAsync(memory, context.RequestAborted).ConfigureAwait(false);
            if (read == 0)
            {
                return buffer.WrittenSpan.ToArray();
            }
            buffer.Advance(read);
            if (buffer.WrittenCount > limit)
            {
                return null;
            }
        }
    }
}
