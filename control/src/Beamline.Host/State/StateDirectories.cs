using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Beamline.Dispatch;
using Beamline.Tenancy;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Beamline.Host.State;

/// <summary>
/// Where the control plane keeps state, decided and checked once at start: the data directory
/// (<c>Beamline:Tenancy:DataDirectory</c>, by default per user, see
/// <see cref="TenancyOptions.DefaultDataDirectory"/>) and, when blocks run in-process, the root of
/// the tenants' <c>fs.*</c>/<c>sql.*</c> sandboxes (the executor configuration's <c>fs.root</c>, else
/// <c>Beamline:InProcess:FsRoot</c>, else <c>&lt;data directory&gt;/sandbox</c>). A directory that
/// does not exist is created <c>0700</c>; one that exists must belong to this user and must not be
/// writable by group or others, or the host refuses to start (<see cref="StateDirectoryException"/>):
/// anyone who can write there can plant links or read another tenant's files.
/// </summary>
public sealed partial class StateDirectories
{
    private StateDirectories(string dataDirectory, string databasePath, string? fsRoot)
    {
        DataDirectory = dataDirectory;
        DatabasePath = databasePath;
        FsRoot = fsRoot;
    }

    /// <summary>The data directory, absolute.</summary>
    public string DataDirectory { get; }

    /// <summary>The tenancy database.</summary>
    public string DatabasePath { get; }

    /// <summary>The in-process sandboxes' root, absolute; null when blocks run on NATS workers.</summary>
    public string? FsRoot { get; }

    /// <summary>The sandboxes' folder under the data directory.</summary>
    public const string SandboxFolder = "sandbox";

    /// <summary>
    /// Resolves, creates and checks the state directories of <paramref name="configuration"/>.
    /// Throws <see cref="StateDirectoryException"/> when one may not be used.
    /// </summary>
    public static StateDirectories Prepare(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var tenancy = configuration.GetSection(TenancyOptions.SectionName).Get<TenancyOptions>() ?? new TenancyOptions();
        if (string.IsNullOrWhiteSpace(tenancy.DataDirectory))
        {
            throw new StateDirectoryException("there is no home directory to keep state in: set --data-dir (Beamline:Tenancy:DataDirectory)");
        }
        var dataDirectory = Ensure(Path.GetFullPath(tenancy.DataDirectory), "the data directory", "--data-dir (Beamline:Tenancy:DataDirectory)");

        string? fsRoot = null;
        var dispatch = configuration.GetSection(DispatchOptions.SectionName).Get<DispatchOptions>() ?? new DispatchOptions();
        if (string.IsNullOrEmpty(dispatch.Nats.Url))
        {
            var configured = ExecutorConfigRoot(dispatch.InProcess.ExecutorConfigFile);
            fsRoot = configured ?? dispatch.InProcess.FsRoot ?? Path.Combine(dataDirectory, SandboxFolder);
            fsRoot = Ensure(Path.GetFullPath(fsRoot), "the sandbox root (fs.root)",
                configured is not null ? "fs.root in Beamline:InProcess:ExecutorConfigFile" : "Beamline:InProcess:FsRoot");
        }
        return new StateDirectories(dataDirectory, tenancy.ResolvedDatabasePath, fsRoot);
    }

    /// <summary>Says at start where state lives.</summary>
    public void Log(ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(logger);
        if (FsRoot is null)
        {
            LogStateOnWorkers(logger, DataDirectory, DatabasePath);
        }
        else
        {
            LogState(logger, DataDirectory, DatabasePath, FsRoot);
        }
    }

    // fs.root as the executor configuration file names it, or null.
    private static string? ExecutorConfigRoot(string? file)
    {
        if (string.IsNullOrEmpty(file) || !File.Exists(file))
        {
            return null; // a missing file is the dispatcher's error to report
        }
        try
        {
            var root = JsonNode.Parse(File.ReadAllText(file), documentOptions: new JsonDocumentOptions
            {
                CommentHandling = JsonCommentHandling.Skip,
                AllowTrailingCommas = true,
            });
            return root is JsonObject { } config && config["fs"] is JsonObject fs && fs["root"] is JsonValue value
                && value.TryGetValue<string>(out var path) && path.Length > 0 ? path : null;
        }
        catch (JsonException)
        {
            return null; // the executors report a malformed file
        }
    }

    /// <summary>Creates <paramref name="path"/> 0700, or checks the owner and mode of an existing one.</summary>
    internal static string Ensure(string path, string what, string setting)
    {
        if (!Directory.Exists(path))
        {
            try
            {
                if (OperatingSystem.IsWindows())
                {
                    Directory.CreateDirectory(path);
                }
                else
                {
                    Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new StateDirectoryException($"{what} {path} cannot be created ({e.Message}); set {setting}", e);
            }
        }
        if (OperatingSystem.IsWindows())
        {
            return path;
        }
        var mode = File.GetUnixFileMode(path);
        if ((mode & (UnixFileMode.GroupWrite | UnixFileMode.OtherWrite)) != 0)
        {
            throw new StateDirectoryException(
                $"{what} {path} is writable by other users (mode {Convert.ToString((int)mode, 8)}); use a directory only this user can write (chmod 700) or set {setting}");
        }
        if (OwnerOf(path) is { } owner && owner != Geteuid())
        {
            throw new StateDirectoryException(
                $"{what} {path} belongs to another user (uid {owner}, this process runs as uid {Geteuid()}); set {setting} to a directory of this user");
        }
        return path;
    }

    // The owner's uid (following links: the directory used is the target), or null where statx is
    // not available. statx's layout is the same on every Linux architecture: stx_uid at offset 20.
    private static uint? OwnerOf(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }
        const int AtFdCwd = -100;
        const uint StatxUid = 0x8;
        var buffer = new byte[256];
        try
        {
            if (Statx(AtFdCwd, path, 0, StatxUid, buffer) != 0)
            {
                return null;
            }
        }
        catch (EntryPointNotFoundException)
        {
            return null;
        }
        return BitConverter.ToUInt32(buffer, 20);
    }

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(System.Runtime.CompilerServices.CallConvCdecl)])]
    private static partial int Statx(int dirfd, string path, int flags, uint mask, [Out] byte[] buffer);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    [UnmanagedCallConv(CallConvs = [typeof(System.Runtime.CompilerServices.CallConvCdecl)])]
    private static partial uint Geteuid();

    [LoggerMessage(1, LogLevel.Information, "State lives in {DataDirectory}: tenancy database {DatabasePath}, in-process fs/sql sandboxes under {FsRoot}.")]
    private static partial void LogState(ILogger logger, string dataDirectory, string databasePath, string fsRoot);

    [LoggerMessage(2, LogLevel.Information, "State lives in {DataDirectory}: tenancy database {DatabasePath}; blocks run on NATS workers, whose executor configuration places the sandboxes.")]
    private static partial void LogStateOnWorkers(ILogger logger, string dataDirectory, string databasePath);
}

/// <summary>A state directory the control plane may not use; the message says which, why and what to set.</summary>
public sealed class StateDirectoryException : Exception
{
    /// <summary>Creates the exception.</summary>
    public StateDirectoryException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception with its cause.</summary>
    public StateDirectoryException(string message, Exception innerException) : base(message, innerException)
    {
    }

    /// <summary>Creates the exception.</summary>
    public StateDirectoryException()
    {
    }
}
