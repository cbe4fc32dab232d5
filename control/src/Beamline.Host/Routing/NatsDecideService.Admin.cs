using System.Text.Json;
using Beamline.Cp1;
using Microsoft.Extensions.Logging;

namespace Beamline.Host.Routing;

// The router admin subjects (docs/admin.md): the four of the CP1 router plus Beamline's provider
// view. No queue group: every instance answers for itself, with its instance_id. Each handler
// answers exactly once; a malformed request gets an invalid_request reply naming the field, and
// a bug becomes an `internal` reply, never an exception in the subscription's loop.
internal sealed partial class NatsDecideService
{
    /// <summary>The CP1 admin subject answering the extensions' health.</summary>
    public const string ExtensionHealthSubject = "beamline.router.v1.admin.get_extension_health";

    /// <summary>The CP1 admin subject deciding without side effects.</summary>
    public const string DryRunSubject = "beamline.router.v1.admin.dry_run_pipeline";

    /// <summary>The CP1 admin subject answering a policy's pipeline complexity.</summary>
    public const string ComplexitySubject = "beamline.router.v1.admin.get_pipeline_complexity";

    /// <summary>Beamline's admin subject answering the providers and their statistics (no CP1 equivalent).</summary>
    public const string ProviderStatsSubject = "beamline.router.v1.admin.get_provider_stats";

    private delegate int AdminView(Utf8JsonWriter writer, RoutingService routing, ReadOnlySpan<byte> body, int maxBytes);

    private delegate void TenantView(Utf8JsonWriter writer, RoutingService routing, string? tenantFilter);

    // A tenant view reads an empty body or {"tenant_id": "..."}; an admin view reads its own request.
    private bool Answer(ReadOnlySpan<byte> body, NatsRequest request, ReplyWriter reply, TenantView? tenantView, AdminView? view)
    {
        var writer = reply.Writer;
        try
        {
            if (view is not null)
            {
                view(writer, _routing, body, _maxRequestBytes);
            }
            else if (RouterAdminJson.ReadTenantFilter(body, _maxRequestBytes, out var tenant) is { } error)
            {
                RouterAdminJson.WriteError(writer, _routing.InstanceId, error);
            }
            else
            {
                tenantView!(writer, _routing, tenant);
            }
        }
        catch (Exception e)
        {
            LogAdminFailed(request.Subject, e);
            reply.Restart();
            RouterAdminJson.WriteError(writer, _routing.InstanceId, new Cp1Error(Cp1ErrorCodes.Internal, "internal error"));
        }
        return true;
    }

    [LoggerMessage(20, LogLevel.Error, "A router admin request on {Subject} failed unexpectedly.")]
    private partial void LogAdminFailed(string subject, Exception error);
}
