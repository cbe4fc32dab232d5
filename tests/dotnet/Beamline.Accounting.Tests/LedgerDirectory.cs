namespace Beamline.Accounting.Tests;

/// <summary>A temporary directory holding a real <c>usage.db</c>; deleted with its files.</summary>
internal sealed class LedgerDirectory : IDisposable
{
    public LedgerDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "beamline-usage-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string DatabasePath => System.IO.Path.Combine(Path, "usage.db");

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A file still open on some platform: the OS cleans temp.
        }
    }
}
