using Beamline.Pipeline.Extensions;

namespace Beamline.Extensions.Registry;

/// <summary>Where a registry entry comes from.</summary>
public enum ExtensionSource
{
    /// <summary>A <c>*.json</c> file in <see cref="ExtensionsOptions.Directory"/>.</summary>
    Directory,

    /// <summary>Stored through the admin API (<see cref="ExtensionsOptions.StoreDirectory"/>).</summary>
    Admin,
}

/// <summary>One effective registry entry and where it comes from.</summary>
/// <param name="Entry">The entry.</param>
/// <param name="Source">Its source; an admin entry overrides a directory entry of the same id.</param>
/// <param name="FilePath">The file it was read from or is stored in; null for an admin entry kept only in memory.</param>
/// <param name="OverridesFile">For an admin entry: the directory file of the same id it overrides, else null.</param>
public sealed record ExtensionRegistration(ExtensionEntry Entry, ExtensionSource Source, string? FilePath, string? OverridesFile = null)
{
    /// <summary>The entry's id.</summary>
    public string Id => Entry.Id;

    /// <summary><c>directory</c> or <c>admin</c>, as the admin API writes it.</summary>
    public string SourceName => Source == ExtensionSource.Admin ? "admin" : "directory";
}

/// <summary>What <see cref="ExtensionRegistry.DeleteAsync"/> did.</summary>
public enum ExtensionDeleteOutcome
{
    /// <summary>The stored entry was removed (a directory entry of the same id, if any, applies again).</summary>
    Deleted,

    /// <summary>No entry has that id.</summary>
    NotFound,

    /// <summary>The entry comes only from a directory file: remove the file instead.</summary>
    DirectoryOnly,
}
