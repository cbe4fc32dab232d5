using Microsoft.Extensions.Options;

namespace Beamline.Host.Dashboard;

/// <summary>The live dashboard at <c>/ui</c> (docs/observability.md). Bound from <c>Beamline:Dashboard</c>.</summary>
public sealed class DashboardOptions
{
    /// <summary>The configuration section these options bind to.</summary>
    public const string SectionName = "Beamline:Dashboard";

    /// <summary>Whether <c>/ui</c> is served. Defaults to true (it still needs the admin key to log in).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>How long a session lasts after logging in, whatever its use. Defaults to 8 hours.</summary>
    public TimeSpan SessionLifetime { get; set; } = TimeSpan.FromHours(8);

    /// <summary>Sessions kept at once; a new login past it ends the one closest to expiry. Defaults to 64.</summary>
    public int MaxSessions { get; set; } = 64;
}

/// <summary>Refuses a lifetime that is not positive and a session cap under one.</summary>
internal sealed class DashboardOptionsValidator : IValidateOptions<DashboardOptions>
{
    public ValidateOptionsResult Validate(string? name, DashboardOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.SessionLifetime <= TimeSpan.Zero)
        {
            return ValidateOptionsResult.Fail("Beamline:Dashboard:SessionLifetime must be positive");
        }
        if (options.MaxSessions < 1)
        {
            return ValidateOptionsResult.Fail("Beamline:Dashboard:MaxSessions must be at least 1");
        }
        return ValidateOptionsResult.Success;
    }
}
