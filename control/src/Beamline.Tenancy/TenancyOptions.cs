using Microsoft.Extensions.Options;

namespace Beamline.Tenancy;

/// <summary>Tenancy: where it is stored, the definitions file, the admin key. Bound from <c>Beamline:Tenancy</c>.</summary>
public sealed class TenancyOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Beamline:Tenancy";

    /// <summary>
    /// Where Beamline keeps its state. Defaults to <see cref="DefaultDataDirectory"/>: per user,
    /// never the working directory.
    /// </summary>
    public string DataDirectory { get; set; } = DefaultDataDirectory;

    /// <summary>
    /// The per-user data directory: <c>$XDG_DATA_HOME/beamline</c> (when set to an absolute path),
    /// else <c>~/.local/share/beamline</c>; on Windows <c>%LOCALAPPDATA%\beamline</c>. Empty when the
    /// user has no home directory (the data directory must then be configured).
    /// </summary>
    public static string DefaultDataDirectory
    {
        get
        {
            if (OperatingSystem.IsWindows())
            {
                var local = Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData);
                return local.Length == 0 ? "" : Path.Combine(local, "beamline");
            }
            if (Environment.GetEnvironmentVariable("XDG_DATA_HOME") is { Length: > 0 } xdg && Path.IsPathRooted(xdg))
            {
                return Path.Combine(xdg, "beamline");
            }
            var home = Environment.GetEnvironmentVariable("HOME") is { Length: > 0 } h ? h : Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            return home.Length == 0 ? "" : Path.Combine(home, ".local", "share", "beamline");
        }
    }

    /// <summary>The SQLite database. Defaults to null: <c>&lt;DataDirectory&gt;/tenancy.db</c>.</summary>
    public string? DatabasePath { get; set; }

    /// <summary>
    /// A JSON file of tenants, teams, keys, policies and providers (see docs/tenancy.md), upserted
    /// into the database at every start. It may be the bare definitions object or a whole Beamline
    /// configuration file holding them under <c>Beamline.Tenancy</c>. Defaults to null: the JSON
    /// configuration file that defines <c>Beamline:Tenancy:tenants</c> or <c>:providers</c>, if any.
    /// </summary>
    public string? File { get; set; }

    /// <summary>
    /// The admin API's bearer key (at least 16 characters). Defaults to null: the admin API
    /// answers every request with 401.
    /// </summary>
    public string? AdminKey { get; set; }

    /// <summary>
    /// The per-deployment secret mixed into every API key hash (at least 16 characters), kept
    /// out of the database. Defaults to null: one is generated at first start and stored in the
    /// database, with a warning. Changing it invalidates every stored key hash.
    /// </summary>
    public string? Pepper { get; set; }

    /// <summary>Admin request bodies longer than this are refused. Defaults to 1 MiB.</summary>
    public int MaxAdminRequestBytes { get; set; } = 1024 * 1024;

    /// <summary>The database path after defaults.</summary>
    public string ResolvedDatabasePath => Path.GetFullPath(DatabasePath ?? Path.Combine(DataDirectory, "tenancy.db"));
}

/// <summary>Validates <see cref="TenancyOptions"/> at start.</summary>
public sealed class TenancyOptionsValidator : IValidateOptions<TenancyOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, TenancyOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.DataDirectory) && string.IsNullOrWhiteSpace(options.DatabasePath))
        {
            failures.Add("Beamline:Tenancy:DataDirectory or DatabasePath must be set (there is no home directory to default to).");
        }
        if (options.AdminKey is { } admin && admin.Length < 16)
        {
            failures.Add("Beamline:Tenancy:AdminKey must be at least 16 characters.");
        }
        if (options.Pepper is { } pepper && pepper.Length < 16)
        {
            failures.Add("Beamline:Tenancy:Pepper must be at least 16 characters.");
        }
        if (options.File is { Length: > 0 } file && !System.IO.File.Exists(file))
        {
            failures.Add($"Beamline:Tenancy:File '{file}' does not exist.");
        }
        if (options.MaxAdminRequestBytes <= 0)
        {
            failures.Add("Beamline:Tenancy:MaxAdminRequestBytes must be positive.");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
