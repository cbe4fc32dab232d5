using System.Buffers;
using Microsoft.AspNetCore.Http;

namespace Beamline.Host.Http;

/// <summary>
/// A request body read into one pooled buffer as its bytes arrive. The buffer grows with what
/// arrived — a <c>Content-Length</c> alone reserves nothing — and goes back to the pool on dispose.
/// </summary>
internal sealed class RequestBody : IDisposable
{
    private const int FirstBuffer = 16 * 1024;
    private byte[] _array;
    private int _length;

    private RequestBody(byte[] array) => _array = array;

    /// <summary>The body's bytes (valid until dispose).</summary>
    public ReadOnlyMemory<byte> Memory => _array.AsMemory(0, _length);

    /// <summary>
    /// Reads the body; null when it exceeds <paramref name="limit"/> (by its Content-Length, before
    /// reading, or while reading: nothing past the limit is kept).
    /// </summary>
    public static async Task<RequestBody?> ReadAsync(HttpContext context, int limit)
    {
        if (context.Request.ContentLength > limit)
        {
            return null;
        }
        var body = new RequestBody(ArrayPool<byte>.Shared.Rent(FirstBuffer));
        try
        {
            var stream = context.Request.Body;
            while (true)
            {
                if (body._length == body._array.Length)
                {
                    if (body._length > limit)
                    {
                        body.Dispose();
                        return null;
                    }
                    body.Grow(limit);
                }
                var read = await stream.ReadAsync(body._array.AsMemory(body._length), context.RequestAborted).ConfigureAwait(false);
                if (read == 0)
                {
                    return body;
                }
                body._length += read;
                if (body._length > limit)
                {
                    body.Dispose();
                    return null;
                }
            }
        }
        catch
        {
            body.Dispose();
            throw;
        }
    }

    // Doubles, up to one byte past the limit (which is how an oversized body is seen).
    private void Grow(int limit)
    {
        var bigger = ArrayPool<byte>.Shared.Rent((int)Math.Min((long)_array.Length * 2, (long)limit + 1));
        _array.AsSpan(0, _length).CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(_array);
        _array = bigger;
    }

    /// <summary>Returns the buffer to the pool.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _array, []) is { Length: > 0 } array)
        {
            ArrayPool<byte>.Shared.Return(array);
        }
        _length = 0;
    }
}
