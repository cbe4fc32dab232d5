using System.Net;

namespace Beamline.Testing;

/// <summary>
/// A real HTTP server on a free loopback port (an upstream for provider tests): each request goes
/// to <c>answer</c>, one at a time or, with <c>concurrent</c>, each on its own task.
/// </summary>
public sealed class LoopbackHttpServer : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Func<HttpListenerContext, Task> _answer;
    private readonly bool _concurrent;
    private readonly Task _loop;

    /// <summary>Starts listening.</summary>
    public LoopbackHttpServer(Func<HttpListenerContext, Task> answer, bool concurrent = false)
    {
        _answer = answer;
        _concurrent = concurrent;
        var port = FreePort.Next();
        BaseUrl = $"http://127.0.0.1:{port}";
        _listener.Prefixes.Add($"{BaseUrl}/");
        _listener.Start();
        _loop = Task.Run(ServeAsync);
    }

    /// <summary><c>http://127.0.0.1:port</c>, without a trailing slash.</summary>
    public string BaseUrl { get; }

    /// <inheritdoc />
    public void Dispose()
    {
        _listener.Close();
        try
        {
            _loop.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
            // The listener was closed under the loop.
        }
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }
            if (_concurrent)
            {
                _ = Task.Run(() => _answer(context));
            }
            else
            {
                await _answer(context).ConfigureAwait(false);
            }
        }
    }
}
