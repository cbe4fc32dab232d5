using System.Text.Json.Nodes;
using Beamline.Dispatch.InProcess;

namespace Beamline.Dispatch.Tests.InProcess;

/// <summary>The executor configuration the in-process runtime is given: fs.root from the host when the file names none.</summary>
public sealed class InProcessExecutorConfigTests
{
    [Fact]
    public void WithFsRoot_NoConfigFile_GivesTheRoot()
    {
        var config = JsonNode.Parse(InProcessBlockDispatcher.WithFsRoot(null, "/srv/beamline/sandbox")!)!;

        Assert.Equal("/srv/beamline/sandbox", config["fs"]!["root"]!.GetValue<string>());
    }

    [Fact]
    public void WithFsRoot_ConfigWithoutRoot_KeepsItsOtherSettings()
    {
        var config = JsonNode.Parse(InProcessBlockDispatcher.WithFsRoot(
            """{"fs":{"max_file_bytes":10},"http":{"default_allow":["127.0.0.1"]}}""", "/srv/sandbox")!)!;

        Assert.Equal("/srv/sandbox", config["fs"]!["root"]!.GetValue<string>());
        Assert.Equal(10, config["fs"]!["max_file_bytes"]!.GetValue<int>());
        Assert.Equal("127.0.0.1", config["http"]!["default_allow"]![0]!.GetValue<string>());
    }

    [Fact]
    public void WithFsRoot_ConfigNamesARoot_TheFileWins()
    {
        var config = JsonNode.Parse(InProcessBlockDispatcher.WithFsRoot("""{"fs":{"root":"/data/mine"}}""", "/srv/sandbox")!)!;

        Assert.Equal("/data/mine", config["fs"]!["root"]!.GetValue<string>());
    }

    [Fact]
    public void WithFsRoot_NoRootGiven_LeavesTheConfigAlone()
    {
        Assert.Null(InProcessBlockDispatcher.WithFsRoot(null, null));
        Assert.Equal("""{"fs":{}}""", InProcessBlockDispatcher.WithFsRoot("""{"fs":{}}""", null));
    }
}
