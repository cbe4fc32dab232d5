using Beamline.Host.Http;
using Microsoft.AspNetCore.Http;

namespace Beamline.Host.Tests.Http;

public sealed class RequestBodyTests
{
    private static DefaultHttpContext Request(byte[] body, long? contentLength)
    {
        var context = new DefaultHttpContext();
        context.Request.Body = new MemoryStream(body);
        context.Request.ContentLength = contentLength;
        return context;
    }

    [Fact]
    public async Task ContentLengthAlone_ReservesNothingBeforeTheBytesArrive()
    {
        // A client that announces 8 MiB and sends 10 bytes must not make the server allocate 8 MiB.
        var context = Request(new byte[10], contentLength: 8 * 1024 * 1024);
        (await RequestBody.ReadAsync(context, 8 * 1024 * 1024))!.Dispose(); // warm up the pool and the JIT

        var before = GC.GetAllocatedBytesForCurrentThread();
        using var body = await RequestBody.ReadAsync(Request(new byte[10], contentLength: 8 * 1024 * 1024), 8 * 1024 * 1024);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(10, body!.Memory.Length);
        Assert.True(allocated < 256 * 1024, $"{allocated} bytes allocated for a 10-byte body");
    }

    [Fact]
    public async Task LargeBody_ArrivesWhole_ThroughEveryGrowth()
    {
        var data = new byte[300_000];
        new Random(7).NextBytes(data);

        using var body = await RequestBody.ReadAsync(Request(data, contentLength: null), 1 << 20);

        Assert.Equal(data, body!.Memory.ToArray());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task BodyOverTheLimit_IsRefused_ByContentLengthOrWhileReading(bool announced)
    {
        var data = new byte[70_000];

        var body = await RequestBody.ReadAsync(Request(data, announced ? data.Length : null), 65_536);

        Assert.Null(body);
    }

    [Fact]
    public async Task BodyExactlyAtTheLimit_IsAccepted()
    {
        var data = new byte[65_536];

        using var body = await RequestBody.ReadAsync(Request(data, contentLength: null), 65_536);

        Assert.Equal(65_536, body!.Memory.Length);
    }
}
