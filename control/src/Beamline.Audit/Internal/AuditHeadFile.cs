using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace Beamline.Audit.Internal;

/// <summary>
/// The head anchored beside the table: <c>audit.head</c>, one JSON object
/// <c>{"seq":N,"hash":"…","time":"…"}</c>, replaced atomically after every durable batch (written
/// to a temporary file, fsynced, renamed over the old one, and the directory fsynced on Linux).
/// A table whose last entry is behind the head lost its tail. When the log finds its table and
/// head disagree on open it keeps the evidence in <c>audit.head.broken</c> (<see cref="AuditBreak"/>),
/// which <see cref="AuditVerifier"/> reports until an operator moves it aside.
/// </summary>
internal static partial class AuditHeadFile
{
    public const string FileName = "audit.head";
    public const string BrokenFileName = "audit.head.broken";

    /// <summary>The head file's head, or null when there is no head file. Throws <see cref="InvalidDataException"/> when it is malformed.</summary>
    public static AuditHead? Read(string dataDirectory)
    {
        var path = Path.Combine(dataDirectory, FileName);
        if (!File.Exists(path))
        {
            return null;
        }
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(path));
            var root = document.RootElement;
            var seq = root.GetProperty("seq").GetInt64();
            var hash = root.GetProperty("hash").GetString();
            var time = root.TryGetProperty("time", out var t) && t.ValueKind == JsonValueKind.String
                ? DateTimeOffset.Parse(t.GetString()!, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal)
                : default;
            if (seq < 0 || hash is not { Length: 64 })
            {
                throw new InvalidDataException($"{path} holds no valid head (seq {seq}, hash '{hash}')");
            }
            return new AuditHead(seq, hash, time);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{path} is not a head file: {e.Message}", e);
        }
    }

    /// <summary>Replaces the head file with <paramref name="head"/>, durably.</summary>
    public static void Write(string dataDirectory, AuditHead head)
    {
        using var buffer = new MemoryStream(128);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            head.WriteTo(writer);
        }
        buffer.WriteByte((byte)'\n');
        ReplaceDurably(dataDirectory, FileName, buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
    }

    /// <summary>The break recorded when the log was opened, or null.</summary>
    public static AuditBreak? ReadBroken(string dataDirectory)
    {
        var path = Path.Combine(dataDirectory, BrokenFileName);
        if (!File.Exists(path))
        {
            return null;
        }
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(path));
            var root = document.RootElement;
            return new AuditBreak(
                root.TryGetProperty("first_bad_seq", out var seq) && seq.ValueKind == JsonValueKind.Number ? seq.GetInt64() : null,
                root.TryGetProperty("problem", out var problem) ? problem.GetString() ?? "" : "",
                root.TryGetProperty("detected_at", out var at) ? at.GetString() ?? "" : "");
        }
        catch (JsonException)
        {
            return new AuditBreak(null, $"{BrokenFileName} exists but cannot be read", "");
        }
    }

    /// <summary>Records a break found on open. A break already recorded is kept: the first one is the evidence.</summary>
    public static void WriteBroken(string dataDirectory, AuditBreak found)
    {
        if (File.Exists(Path.Combine(dataDirectory, BrokenFileName)))
        {
            return;
        }
        using var buffer = new MemoryStream(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("detected_at", found.DetectedAt);
            if (found.FirstBadSeq is { } seq)
            {
                writer.WriteNumber("first_bad_seq", seq);
            }
            else
            {
                writer.WriteNull("first_bad_seq");
            }
            writer.WriteString("problem", found.Problem);
            writer.WriteEndObject();
        }
        buffer.WriteByte((byte)'\n');
        ReplaceDurably(dataDirectory, BrokenFileName, buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
    }

    private static void ReplaceDurably(string dataDirectory, string fileName, ReadOnlySpan<byte> content)
    {
        var path = Path.Combine(dataDirectory, fileName);
        var temporary = path + ".tmp";
        using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.None))
        {
            file.Write(content);
            file.Flush(flushToDisk: true);
        }
        File.Move(temporary, path, overwrite: true);
        SyncDirectory(dataDirectory);
    }

    // The rename is durable only once the directory is: fsync(2) on the directory where the
    // platform allows it (Linux). .NET has no portable API for it; elsewhere this is skipped.
    private static void SyncDirectory(string directory)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }
        var fd = Open(directory, 0 /* O_RDONLY */);
        if (fd < 0)
        {
            return;
        }
        try
        {
            _ = Fsync(fd);
        }
        finally
        {
            _ = Close(fd);
        }
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(System.Runtime.CompilerServices.CallConvCdecl)])]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync")]
    [UnmanagedCallConv(CallConvs = [typeof(System.Runtime.CompilerServices.CallConvCdecl)])]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close")]
    [UnmanagedCallConv(CallConvs = [typeof(System.Runtime.CompilerServices.CallConvCdecl)])]
    private static partial int Close(int fd);
}

/// <summary>A disagreement between the table and its head found when the log was opened.</summary>
internal sealed record AuditBreak(long? FirstBadSeq, string Problem, string DetectedAt);
