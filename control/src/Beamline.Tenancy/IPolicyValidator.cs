using System.Text.Json;

namespace Beamline.Tenancy;

/// <summary>
/// Checks a policy document before it is stored. The policy engine registers its own to reject
/// what it cannot compile; the default only requires a JSON object.
/// </summary>
public interface IPolicyValidator
{
    /// <summary>Null when <paramref name="policy"/> is acceptable, otherwise why not.</summary>
    /// <param name="tenantId">The tenant that owns the policy.</param>
    /// <param name="policyId">The policy's id.</param>
    /// <param name="policy">The parsed document.</param>
    string? Validate(string tenantId, string policyId, JsonElement policy);
}

/// <summary>Accepts any JSON object.</summary>
public sealed class JsonObjectPolicyValidator : IPolicyValidator
{
    /// <inheritdoc />
    public string? Validate(string tenantId, string policyId, JsonElement policy)
        => policy.ValueKind == JsonValueKind.Object ? null : "a policy must be a JSON object";
}
