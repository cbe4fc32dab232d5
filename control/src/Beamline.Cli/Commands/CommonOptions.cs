using System.CommandLine;
using Beamline.Dispatch;

namespace Beamline.Cli.Commands;

/// <summary>Options that several commands share, and how they become configuration.</summary>
internal static class CommonOptions
{
    public static Option<string?> Nats() => new("--nats")
    {
        Description = "Dispatch blocks over NATS to beamline-worker processes at this URL (default: in-process, no broker).",
    };

    public static Option<FileInfo?> Config() => new("--config")
    {
        Description = "A JSON configuration file (the 'Beamline' section).",
    };

    /// <summary>Configuration keys set by flags; these win over files and the environment.</summary>
    public static Dictionary<string, string?> Overrides(string? natsUrl)
    {
        var overrides = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        if (!string.IsNullOrEmpty(natsUrl))
        {
            overrides[$"{DispatchOptions.SectionName}:Nats:Url"] = natsUrl;
        }
        return overrides;
    }
}
