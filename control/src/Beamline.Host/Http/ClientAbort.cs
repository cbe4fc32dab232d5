using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Beamline.Host.Http;

/// <summary>
/// A client that goes away mid-request (a reset connection, a body cut short) ends that request:
/// nobody is left to answer, and it is not the control plane's failure, so it is not logged as an
/// unhandled exception (a load generator closing its connections would otherwise log a stack trace
/// per connection).
/// </summary>
internal static class ClientAbort
{
    /// <summary>Swallows the I/O failures of requests whose client is gone; everything else goes on to the exception handler.</summary>
    public static IApplicationBuilder UseClientAbortHandling(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        try
        {
            await next(context).ConfigureAwait(false);
        }
        catch (Exception e) when (IsClientGone(context, e))
        {
            // Nothing to answer.
        }
    });

    private static bool IsClientGone(HttpContext context, Exception e) =>
        e is IOException or OperationCanceledException or BadHttpRequestException
        && (context.RequestAborted.IsCancellationRequested || e is BadHttpRequestException { StatusCode: StatusCodes.Status400BadRequest } && e.Message.Contains("Unexpected end of request content", StringComparison.Ordinal));
}
