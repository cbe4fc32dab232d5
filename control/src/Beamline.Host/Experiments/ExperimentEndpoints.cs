using System.Text.Json;
using Beamline.Cp1;
using Beamline.Experiments;
using Beamline.Experiments.Bandits;
using Beamline.Experiments.Routing;
using Beamline.Host.Http;
using Beamline.Pipeline.Routing;
using Beamline.Tenancy;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Beamline.Host.Experiments;

/// <summary>
/// Experiments over HTTP (docs/experiments.md). With the admin key, per tenant:
/// <c>GET|POST /admin/v1/tenants/{tenant_id}/experiments</c>, <c>GET|DELETE …/experiments/{id}</c>,
/// <c>POST …/experiments/{id}/stop</c>; across tenants <c>GET /admin/v1/experiments[?tenant_id=]</c> and
/// <c>GET /admin/v1/bandits[?tenant_id=]</c>. With a tenant's API key, its own only:
/// <c>GET /v1/experiments</c>, <c>GET /v1/experiments/{id}</c> and <c>POST /v1/feedback</c>. Errors in the CP1 shape.
/// </summary>
public static class ExperimentEndpoints
{
    /// <summary>The admin collection's path.</summary>
    public const string AdminPath = "/admin/v1/tenants/{tenantId}/experiments";

    /// <summary>The feedback path.</summary>
    public const string FeedbackPath = "/v1/feedback";

    // Create and feedback bodies are small; anything larger is a mistake.
    private const int MaxBodyBytes = 64 * 1024;

    /// <summary>Maps the endpoints.</summary>
    public static IEndpointRouteBuilder MapExperimentEndpoints(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapGet(AdminPath, static context => AdminAsync(context, ListAsync));
        endpoints.MapPost(AdminPath, static context => AdminAsync(context, CreateAsync));
        endpoints.MapGet(AdminPath + "/{id}", static context => AdminAsync(context, GetAsync));
        endpoints.MapDelete(AdminPath + "/{id}", static context => AdminAsync(context, DeleteAsync));
        endpoints.MapPost(AdminPath + "/{id}/stop", static context => AdminAsync(context, StopAsync));
        endpoints.MapGet("/admin/v1/experiments", AllAsync);
        endpoints.MapGet("/admin/v1/bandits", BanditsAsync);
        endpoints.MapGet("/v1/experiments", static context => TenantAsync(context, ListAsync));
        endpoints.MapGet("/v1/experiments/{id}", static context => TenantAsync(context, GetAsync));
        endpoints.MapPost(FeedbackPath, static context => TenantAsync(context, FeedbackAsync));
        return endpoints;
    }

    private static Task AdminAsync(HttpContext context, Func<HttpContext, string, Task> next)
    {
        if (!TenancyAdminEndpoints.IsAdminAuthorized(context.Request))
        {
            return UnauthorizedAsync(context, "a valid admin key is required: Authorization: Bearer <admin key>");
        }
        var tenantId = context.Request.RouteValues["tenantId"] as string ?? "";
        if (!context.RequestServices.GetRequiredService<ITenantDirectory>().TryGetTenant(tenantId, out _))
        {
            return ErrorAsync(context, StatusCodes.Status404NotFound, TenancyErrorCodes.TenantNotFound, $"tenant '{tenantId}' does not exist", "tenant_id");
        }
        return next(context, tenantId);
    }

    private static Task TenantAsync(HttpContext context, Func<HttpContext, string, Task> next)
    {
        if (ApiKeys.From(context.Request) is not { } apiKey)
        {
            return UnauthorizedAsync(context, "an API key is required: Authorization: Bearer <api key> or X-API-Key: <api key>");
        }
        if (!context.RequestServices.GetRequiredService<ITenantDirectory>().TryAuthenticate(apiKey, out var principal))
        {
            return UnauthorizedAsync(context, "the API key is not valid");
        }
        return next(context, principal.TenantId);
    }

    private static Task ListAsync(HttpContext context, string tenantId)
    {
        var experiments = context.RequestServices.GetRequiredService<ExperimentRegistry>().List(tenantId);
        return OkAsync(context, StatusCodes.Status200OK, writer => WriteList(writer, experiments));
    }

    private static Task AllAsync(HttpContext context)
    {
        if (!TenancyAdminEndpoints.IsAdminAuthorized(context.Request))
        {
            return UnauthorizedAsync(context, "a valid admin key is required: Authorization: Bearer <admin key>");
        }
        var registry = context.RequestServices.GetRequiredService<ExperimentRegistry>();
        var filter = context.Request.Query["tenant_id"].ToString();
        var tenants = filter.Length > 0 ? [filter] : context.RequestServices.GetRequiredService<ITenantDirectory>().Snapshot.Tenants.Keys.Order(StringComparer.Ordinal).ToArray();
        var experiments = tenants.SelectMany(registry.List).ToList();
        return OkAsync(context, StatusCodes.Status200OK, writer => WriteList(writer, experiments));
    }

    private static Task BanditsAsync(HttpContext context)
    {
        if (!TenancyAdminEndpoints.IsAdminAuthorized(context.Request))
        {
            return UnauthorizedAsync(context, "a valid admin key is required: Authorization: Bearer <admin key>");
        }
        var filter = context.Request.Query["tenant_id"].ToString();
        var sites = context.RequestServices.GetRequiredService<BanditSelector>().Sites(filter.Length == 0 ? null : filter);
        return OkAsync(context, StatusCodes.Status200OK, writer =>
        {
            writer.WritePropertyName("bandits");
            ExperimentJson.WriteBandits(writer, sites);
        });
    }

    private static Task GetAsync(HttpContext context, string tenantId)
        => Find(context, tenantId) is { } experiment
            ? OkAsync(context, StatusCodes.Status200OK, writer => WriteOne(writer, experiment.Results()))
            : NotFoundAsync(context);

    private static Task StopAsync(HttpContext context, string tenantId)
    {
        var registry = context.RequestServices.GetRequiredService<ExperimentRegistry>();
        if (Find(context, tenantId) is not { } experiment || !registry.Stop(tenantId, experiment.Definition.Id))
        {
            return NotFoundAsync(context);
        }
        return OkAsync(context, StatusCodes.Status200OK, writer => WriteOne(writer, experiment.Results()));
    }

    private static Task DeleteAsync(HttpContext context, string tenantId)
    {
        var id = context.Request.RouteValues["id"] as string ?? "";
        return context.RequestServices.GetRequiredService<ExperimentRegistry>().Delete(tenantId, id)
            ? OkAsync(context, StatusCodes.Status200OK, writer => writer.WriteString("deleted", id))
            : NotFoundAsync(context);
    }

    private static async Task CreateAsync(HttpContext context, string tenantId)
    {
        using var body = await RequestBody.ReadAsync(context, MaxBodyBytes).ConfigureAwait(false);
        if (body is null)
        {
            await ErrorAsync(context, StatusCodes.Status400BadRequest, Cp1ErrorCodes.InvalidRequest, $"request too large: the limit is {MaxBodyBytes} bytes", "body").ConfigureAwait(false);
            return;
        }
        ExperimentDefinition definition;
        try
        {
            definition = ExperimentJson.ReadDefinition(tenantId, body.Memory.Span);
            CheckTargets(context.RequestServices.GetRequiredService<IPolicyRouter>(), definition);
        }
        catch (ExperimentRequestException e)
        {
            await ErrorAsync(context, StatusCodes.Status400BadRequest, Cp1ErrorCodes.InvalidRequest, e.Message, e.Field).ConfigureAwait(false);
            return;
        }
        try
        {
            var experiment = context.RequestServices.GetRequiredService<ExperimentRegistry>().Create(definition);
            await OkAsync(context, StatusCodes.Status201Created, writer => WriteOne(writer, experiment.Results())).ConfigureAwait(false);
        }
        catch (ExperimentConflictException e)
        {
            await ErrorAsync(context, StatusCodes.Status409Conflict, TenancyErrorCodes.AlreadyExists, e.Message, "id").ConfigureAwait(false);
        }
    }

    // The experiment's policy and every arm's provider or policy must exist for the tenant now.
    private static void CheckTargets(IPolicyRouter routing, ExperimentDefinition definition)
    {
        if (!routing.TryGetPolicy(definition.TenantId, definition.PolicyId, out _))
        {
            throw new ExperimentRequestException("policy_id", $"tenant '{definition.TenantId}' has no policy '{definition.PolicyId}'");
        }
        for (var i = 0; i < definition.Arms.Length; i++)
        {
            var arm = definition.Arms[i];
            if (arm.ProviderId is { } provider && !routing.TryGetProvider(provider, out _))
            {
                throw new ExperimentRequestException($"arms[{i}].provider", $"no provider '{provider}' is configured");
            }
            if (arm.PolicyId is { } policy && !routing.TryGetPolicy(definition.TenantId, policy, out _))
            {
                throw new ExperimentRequestException($"arms[{i}].policy", $"tenant '{definition.TenantId}' has no policy '{policy}'");
            }
        }
    }

    private static async Task FeedbackAsync(HttpContext context, string tenantId)
    {
        using var body = await RequestBody.ReadAsync(context, MaxBodyBytes).ConfigureAwait(false);
        if (body is null)
        {
            await ErrorAsync(context, StatusCodes.Status400BadRequest, Cp1ErrorCodes.InvalidRequest, $"request too large: the limit is {MaxBodyBytes} bytes", "body").ConfigureAwait(false);
            return;
        }
        var (requestId, score, problem) = ReadFeedback(body.Memory.Span);
        if (problem is { } bad || requestId is null)
        {
            var (field, message) = problem ?? ("request_id", "request_id is required");
            await ErrorAsync(context, StatusCodes.Status400BadRequest, Cp1ErrorCodes.InvalidRequest, message, field).ConfigureAwait(false);
            return;
        }
        // Here, or on the control plane that served the request (NATS).
        if (!context.RequestServices.GetRequiredService<ExperimentAccounting>().Feedback(tenantId, requestId, score)
            && !(context.RequestServices.GetService<NatsFeedbackRelay>() is { } relay
                && await relay.ForwardAsync(tenantId, requestId, score, context.RequestAborted).ConfigureAwait(false)))
        {
            // Another tenant's request is answered exactly as an unknown one: its existence is not revealed.
            await ErrorAsync(context, StatusCodes.Status404NotFound, Cp1ErrorCodes.NotFound, $"no request '{requestId}' of this tenant is known", "request_id").ConfigureAwait(false);
            return;
        }
        await OkAsync(context, StatusCodes.Status200OK, writer => writer.WriteString("request_id", requestId)).ConfigureAwait(false);
    }

    // {request_id, score 0..1, comment?}; the comment is accepted but not kept (no user text is stored).
    private static (string? RequestId, double Score, (string Field, string Message)? Problem) ReadFeedback(ReadOnlySpan<byte> body)
    {
        try
        {
            var reader = new Utf8JsonReader(body);
            using var document = JsonDocument.ParseValue(ref reader);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return (null, 0, ("body", "the body must be a JSON object"));
            }
            if (!root.TryGetProperty("request_id", out var id) || id.ValueKind != JsonValueKind.String || id.GetString() is not { Length: > 0 } requestId)
            {
                return (null, 0, ("request_id", "request_id (a string) is required"));
            }
            if (!root.TryGetProperty("score", out var score) || score.ValueKind != JsonValueKind.Number || score.GetDouble() is not (>= 0 and <= 1))
            {
                return (null, 0, ("score", "score (a number from 0 to 1) is required"));
            }
            if (root.TryGetProperty("comment", out var comment) && comment.ValueKind is not (JsonValueKind.String or JsonValueKind.Null))
            {
                return (null, 0, ("comment", "comment must be a string"));
            }
            return (requestId, score.GetDouble(), null);
        }
        catch (JsonException e)
        {
            return (null, 0, ("body", $"the body is not JSON: {e.Message}"));
        }
    }

    private static Experiment? Find(HttpContext context, string tenantId)
        => context.Request.RouteValues["id"] is string id && context.RequestServices.GetRequiredService<ExperimentRegistry>().TryGet(tenantId, id, out var experiment)
            ? experiment
            : null;

    private static void WriteList(Utf8JsonWriter writer, IEnumerable<Experiment> experiments)
    {
        writer.WriteStartArray("experiments");
        foreach (var experiment in experiments)
        {
            ExperimentJson.Write(writer, experiment.Results());
        }
        writer.WriteEndArray();
    }

    private static void WriteOne(Utf8JsonWriter writer, ExperimentResults results)
    {
        writer.WritePropertyName("experiment");
        ExperimentJson.Write(writer, results);
    }

    private static Task OkAsync(HttpContext context, int status, Action<Utf8JsonWriter> write)
        => JsonResponses.WriteAsync(context, status, output =>
        {
            using var writer = new Utf8JsonWriter(output);
            writer.WriteStartObject();
            writer.WriteBoolean("ok", true);
            write(writer);
            writer.WriteEndObject();
        });

    private static Task NotFoundAsync(HttpContext context)
        => ErrorAsync(context, StatusCodes.Status404NotFound, Cp1ErrorCodes.NotFound,
            $"no experiment '{context.Request.RouteValues["id"]}' in this tenant", "id");

    private static Task UnauthorizedAsync(HttpContext context, string message)
    {
        context.Response.Headers.WWWAuthenticate = "Bearer";
        return ErrorAsync(context, StatusCodes.Status401Unauthorized, Cp1ErrorCodes.Unauthorized, message, null);
    }

    private static Task ErrorAsync(HttpContext context, int status, string code, string message, string? field)
        => JsonResponses.WriteAsync(context, status, output =>
        {
            using var writer = new Utf8JsonWriter(output);
            Http.Cp1Error.Write(writer, code, message, field is null ? null : details => details.WriteString("field", field));
        });
}
