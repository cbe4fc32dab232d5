using Microsoft.AspNetCore.Http;

namespace Beamline.Tenancy.Admin;

/// <summary>
/// A second way to be the operator, for reading only: a browser session that was opened with the
/// admin key (the host's dashboard, <c>/ui</c>). A browser cannot put the key in an
/// <c>Authorization</c> header on a page load or an <c>EventSource</c>, so it presents a session
/// cookie instead. The admin authorization asks this service only for safe methods (GET, HEAD):
/// every change still needs <c>Authorization: Bearer &lt;admin key&gt;</c>. Register one in DI to
/// turn it on; without one, only the key is accepted.
/// </summary>
public interface IAdminSessions
{
    /// <summary>True when <paramref name="request"/> carries a live session opened with the admin key.</summary>
    bool IsValid(HttpRequest request);
}
