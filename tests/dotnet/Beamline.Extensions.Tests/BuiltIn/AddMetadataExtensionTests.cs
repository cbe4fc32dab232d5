using Beamline.Extensions.BuiltIn;
using Beamline.Pipeline.Extensions;

namespace Beamline.Extensions.Tests.BuiltIn;

public sealed class AddMetadataExtensionTests
{
    private readonly AddMetadataExtension _add = new();

    [Fact]
    public void Invoke_Metadata_StringsAsIsOthersAsJson()
    {
        var reply = _add.Invoke(Inputs.Json("""{"messages":[]}""", """{"metadata":{"team":"search","budget":12.50,"flags":["a"],"on":true,"none":null}}"""));
        Assert.Null(reply.Payload);
        Assert.Equal(
            new Dictionary<string, string> { ["team"] = "search", ["budget"] = "12.50", ["flags"] = """["a"]""", ["on"] = "true", ["none"] = "null" },
            reply.Metadata);
    }

    [Fact]
    public void Invoke_NoMetadata_IsUnchanged()
    {
        Assert.Same(ExtensionReply.Unchanged, _add.Invoke(Inputs.Text("x")));
        Assert.Same(ExtensionReply.Unchanged, _add.Invoke(Inputs.Text("x", """{"metadata":{}}""")));
    }

    [Fact]
    public void Invoke_MetadataNotAnObject_Fails()
    {
        var reply = _add.Invoke(Inputs.Text("x", """{"metadata":"team=a"}"""));
        Assert.Equal(ExtensionFailure.Error, reply.Failure);
        Assert.Equal("add_metadata: config 'metadata' must be an object, not a string", reply.Message);
    }
}
