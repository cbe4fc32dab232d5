using System.Text.Json;
using Beamline.Dispatch;
using Beamline.Host.Http;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Beamline.Host.Blocks;

/// <summary><c>POST /v1/blocks</c>: run one block where the control plane is configured to.</summary>
public static class BlockEndpoints
{
    /// <summary>Maps the block API.</summary>
    public static IEndpointRouteBuilder MapBlockEndpoints(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapPost("/v1/blocks", RunBlockAsync);
        return endpoints;
    }

    private static async Task RunBlockAsync(HttpContext context)
    {
        var dispatcher = context.RequestServices.GetRequiredService<IBlockDispatcher>();
        var limit = context.RequestServices.GetRequiredService<IOptions<HostOptions>>().Value.MaxRequestBytes;
        var body = await JsonResponses.ReadBodyAsync(context, limit).ConfigureAwait(false);
        if (body is null)
        {
            await JsonResponses.WriteAsync(context, StatusCodes.Status413PayloadTooLarge, output =>
            {
                using var writer = new Utf8JsonWriter(output);
                Cp1Error.Write(writer, Cp1Error.InvalidRequest, $"the body exceeds the limit of {limit} bytes",
                    w => w.WriteNumber("limit_bytes", limit));
            }).ConfigureAwait(false);
            return;
        }

        Worker.V2.ExecRequest request;
        try
        {
            request = BlockJson.ParseRequest(body);
        }
        catch (BlockRequestException e)
        {
            await JsonResponses.WriteAsync(context, StatusCodes.Status400BadRequest,
                output => BlockJson.WriteRequestError(output, e)).ConfigureAwait(false);
            return;
        }

        var result = await dispatcher.DispatchAsync(request, context.RequestAborted).ConfigureAwait(false);
        await JsonResponses.WriteAsync(context, BlockJson.HttpStatusFor(result),
            output => BlockJson.WriteResult(output, result, dispatcher.Mode)).ConfigureAwait(false);
    }
}
