using System.Net;
using System.Net.Sockets;

namespace Beamline.Testing;

/// <summary>Free loopback TCP ports for servers the tests start.</summary>
public static class FreePort
{
    /// <summary>A port that was free a moment ago (the OS picks it).</summary>
    public static int Next()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Waits until something accepts connections on the port.</summary>
    public static async Task WaitUntilListeningAsync(int port, TimeSpan timeout, Func<bool>? stillAlive = null)
    {
        var until = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port).ConfigureAwait(false);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < until && (stillAlive?.Invoke() ?? true))
            {
                await Task.Delay(20).ConfigureAwait(false);
            }
        }
    }
}
