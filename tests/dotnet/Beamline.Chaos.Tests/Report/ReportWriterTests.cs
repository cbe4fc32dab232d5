using Beamline.Chaos.Report;

namespace Beamline.Chaos.Tests.Report;

public sealed class ReportWriterTests : IDisposable
{
    private readonly string _file = Path.Combine(Path.GetTempPath(), $"beamline-reliability-{Guid.NewGuid():N}.md");

    public void Dispose() => File.Delete(_file);

    [Fact]
    public async Task WriteAsync_ReplacesOnlyTheTextBetweenTheMarkers()
    {
        await File.WriteAllTextAsync(_file, $"# Reliability\n\nbefore\n\n{ReportWriter.BeginMarker}\nold table\n{ReportWriter.EndMarker}\n\nafter\n");

        await ReportWriter.WriteAsync(_file, $"{ReportWriter.BeginMarker}\nnew table\n{ReportWriter.EndMarker}\n", CancellationToken.None);

        Assert.Equal($"# Reliability\n\nbefore\n\n{ReportWriter.BeginMarker}\nnew table\n{ReportWriter.EndMarker}\n\nafter\n", await File.ReadAllTextAsync(_file));
    }

    [Fact]
    public async Task WriteAsync_WithoutMarkers_AppendsTheBlock()
    {
        await File.WriteAllTextAsync(_file, "# Reliability\n\nprose\n");

        await ReportWriter.WriteAsync(_file, $"{ReportWriter.BeginMarker}\ntable\n{ReportWriter.EndMarker}\n", CancellationToken.None);

        Assert.Equal($"# Reliability\n\nprose\n\n{ReportWriter.BeginMarker}\ntable\n{ReportWriter.EndMarker}\n", await File.ReadAllTextAsync(_file));
    }
}
