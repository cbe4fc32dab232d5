using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Beamline.Policies;
using Beamline.Tenancy;

namespace Beamline.Host.Routing;

/// <summary>
/// Accepts a policy only when the router can compile it: the same <see cref="PolicyLoader"/>
/// that <see cref="RoutingService"/> runs at every rebuild. Without it the admin API would store
/// a policy that routing then leaves out, and the tenant would get <c>policy_not_found</c>.
/// </summary>
internal sealed class PolicyCompilerValidator : IPolicyValidator
{
    /// <inheritdoc />
    public string? Validate(string tenantId, string policyId, JsonElement policy)
    {
        if (policy.ValueKind != JsonValueKind.Object)
        {
            return "a policy must be a JSON object";
        }
        var result = PolicyLoader.Load(policyId, JsonMarshal.GetRawUtf8Value(policy), $"tenant {tenantId}");
        if (result.IsValid)
        {
            return null;
        }
        var message = new StringBuilder("the policy does not compile: ");
        for (var i = 0; i < result.Errors.Length; i++)
        {
            var error = result.Errors[i];
            message.Append(i == 0 ? "" : "; ").Append(error.Path).Append(": ").Append(error.Message);
        }
        return message.ToString();
    }
}
