using System.Text;
using System.Text.Json;
using Beamline.Extensions.Registry;
using Beamline.Pipeline.Extensions;
using Beamline.Testing;

namespace Beamline.Extensions.Tests.Registry;

public sealed class ExtensionEntryJsonTests
{
    private static string FixtureFile(string id) => Path.Combine(Cp1Fixtures.Root, "extensions", id + ".json");

    [Theory]
    [InlineData("normalize_text", ExtensionType.Pre, "beamline.ext.pre.normalize_text.v1", 100, 0, "Text normalization pre-processor")]
    [InlineData("pii_guard", ExtensionType.Validator, "beamline.ext.validate.pii_guard.v1", 200, 0, "PII detection validator")]
    [InlineData("mask_pii", ExtensionType.Post, "beamline.ext.post.mask_pii.v1", 150, 0, "PII masking post-processor")]
    [InlineData("test_provider", ExtensionType.Provider, "beamline.provider.test_provider.v1", 5000, 1, "Test custom provider extension")]
    public void Parse_UpstreamFixtureFile_LoadsUnchangedWithItsFields(string id, ExtensionType type, string subject, int timeoutMs, int retry, string description)
    {
        var entry = ExtensionEntryJson.Parse(File.ReadAllBytes(FixtureFile(id)));

        Assert.Equal(id, entry.Id);
        Assert.Equal(type, entry.Type);
        Assert.Equal(subject, entry.Subject);
        Assert.Equal(timeoutMs, entry.TimeoutMs);
        Assert.Equal(retry, entry.Retry);
        Assert.True(entry.Enabled);
        Assert.Equal(JsonValueKind.Object, entry.Config!.Value.ValueKind);
        Assert.Empty(entry.Config.Value.EnumerateObject());
        Assert.Equal(description, entry.Metadata!.Value.GetProperty("description").GetString());
        Assert.Equal("v1", entry.Metadata.Value.GetProperty("version").GetString());
    }

    [Theory]
    [InlineData("normalize_text")]
    [InlineData("pii_guard")]
    [InlineData("mask_pii")]
    [InlineData("test_provider")]
    public void Write_FixtureEntry_ReadsBackTheSameJson(string id)
    {
        var original = JsonDocument.Parse(File.ReadAllBytes(FixtureFile(id)));
        var written = ExtensionEntryJson.ToUtf8Bytes(ExtensionEntryJson.Parse(File.ReadAllBytes(FixtureFile(id))));

        using var again = JsonDocument.Parse(written);
        Assert.True(JsonElement.DeepEquals(original.RootElement, again.RootElement), Encoding.UTF8.GetString(written));
    }

    [Fact]
    public void Parse_OnlyIdAndType_TakesTheDefaults()
    {
        var entry = Parse("""{"id":"add_context","type":"pre"}""");

        Assert.Null(entry.Subject);
        Assert.Equal(ExtensionEntryJson.DefaultTimeoutMs, entry.TimeoutMs);
        Assert.Equal(0, entry.Retry);
        Assert.True(entry.Enabled);
        Assert.Null(entry.Config);
        Assert.Null(entry.Metadata);
    }

    [Fact]
    public void Parse_NullMembers_TakeTheDefaults()
    {
        var entry = Parse("""{"id":"x","type":"post","subject":null,"timeout_ms":null,"retry":null,"enabled":null,"config":null,"metadata":null}""");

        Assert.Null(entry.Subject);
        Assert.Equal(100, entry.TimeoutMs);
        Assert.Equal(0, entry.Retry);
        Assert.True(entry.Enabled);
        Assert.Null(entry.Config);
    }

    [Fact]
    public void Parse_UnknownMembers_AreIgnoredAndNotWrittenBack()
    {
        var entry = Parse("""{"id":"x","type":"validator","owner":"team-a","future":{"nested":[1,2]},"enabled":false}""");
        using var written = JsonDocument.Parse(ExtensionEntryJson.ToUtf8Bytes(entry));

        Assert.False(entry.Enabled);
        Assert.False(written.RootElement.TryGetProperty("owner", out _));
        Assert.False(written.RootElement.GetProperty("enabled").GetBoolean());
    }

    [Fact]
    public void Parse_ConfigAndMetadata_AreDetachedFromTheDocument()
    {
        ExtensionEntry entry;
        using (var document = JsonDocument.Parse("""{"id":"x","type":"pre","config":{"k":[1,{"a":"b"}]},"metadata":{"v":"2"}}"""))
        {
            entry = ExtensionEntryJson.Parse(document.RootElement);
        }

        Assert.Equal("b", entry.Config!.Value.GetProperty("k")[1].GetProperty("a").GetString());
        Assert.Equal("2", entry.Metadata!.Value.GetProperty("v").GetString());
    }

    [Theory]
    [InlineData("a")]
    [InlineData("A-z_0-9")]
    [InlineData("0123456789012345678901234567890123456789012345678901234567890123")]
    [InlineData("healthy")]
    public void Parse_ValidId_IsAccepted(string id)
        => Assert.Equal(id, Parse($$"""{"id":"{{id}}","type":"pre"}""").Id);

    [Theory]
    [InlineData("1", 1, 0)]
    [InlineData("60000", 60000, 0)]
    [InlineData("250", 250, 5)]
    public void Parse_BoundaryNumbers_AreAccepted(string timeout, int expectedTimeout, int retry)
    {
        var entry = Parse($$"""{"id":"x","type":"pre","timeout_ms":{{timeout}},"retry":{{retry}}}""");

        Assert.Equal(expectedTimeout, entry.TimeoutMs);
        Assert.Equal(retry, entry.Retry);
    }

    [Theory]
    [InlineData("beamline.ext.pre.x.v1")]
    [InlineData("a")]
    [InlineData("custom-subject_1.$x")]
    public void Parse_ValidSubject_IsAccepted(string subject)
        => Assert.Equal(subject, Parse($$"""{"id":"x","type":"pre","subject":"{{subject}}"}""").Subject);

    [Theory]
    // id
    [InlineData("""{"type":"pre"}""", "id", "required_field_missing")]
    [InlineData("""{"id":null,"type":"pre"}""", "id", "required_field_missing")]
    [InlineData("""{"id":7,"type":"pre"}""", "id", "invalid_type")]
    [InlineData("""{"id":"","type":"pre"}""", "id", "invalid_value")]
    [InlineData("""{"id":"a b","type":"pre"}""", "id", "invalid_value")]
    [InlineData("""{"id":"a.b","type":"pre"}""", "id", "invalid_value")]
    [InlineData("""{"id":"a*","type":"pre"}""", "id", "invalid_value")]
    [InlineData("""{"id":"a>","type":"pre"}""", "id", "invalid_value")]
    [InlineData("""{"id":"../etc","type":"pre"}""", "id", "invalid_value")]
    [InlineData("""{"id":"é","type":"pre"}""", "id", "invalid_value")]
    [InlineData("""{"id":"01234567890123456789012345678901234567890123456789012345678901234","type":"pre"}""", "id", "invalid_value")]
    [InlineData("""{"id":"health","type":"pre"}""", "id", "invalid_value")]
    // type
    [InlineData("""{"id":"x"}""", "type", "required_field_missing")]
    [InlineData("""{"id":"x","type":1}""", "type", "invalid_type")]
    [InlineData("""{"id":"x","type":"PRE"}""", "type", "invalid_value")]
    [InlineData("""{"id":"x","type":"filter"}""", "type", "invalid_value")]
    // subject
    [InlineData("""{"id":"x","type":"pre","subject":5}""", "subject", "invalid_type")]
    [InlineData("""{"id":"x","type":"pre","subject":""}""", "subject", "invalid_value")]
    [InlineData("""{"id":"x","type":"pre","subject":"a..b"}""", "subject", "invalid_value")]
    [InlineData("""{"id":"x","type":"pre","subject":".a"}""", "subject", "invalid_value")]
    [InlineData("""{"id":"x","type":"pre","subject":"a."}""", "subject", "invalid_value")]
    [InlineData("""{"id":"x","type":"pre","subject":"beamline.ext.*.x"}""", "subject", "invalid_value")]
    [InlineData("""{"id":"x","type":"pre","subject":"beamline.ext.>"}""", "subject", "invalid_value")]
    [InlineData("""{"id":"x","type":"pre","subject":"beamline.e*t.x"}""", "subject", "invalid_value")]
    [InlineData("""{"id":"x","type":"pre","subject":"a b"}""", "subject", "invalid_value")]
    [InlineData("""{"id":"x","type":"pre","subject":"a\tb"}""", "subject", "invalid_value")]
    // timeout_ms
    [InlineData("""{"id":"x","type":"pre","timeout_ms":0}""", "timeout_ms", "invalid_value")]
    [InlineData("""{"id":"x","type":"pre","timeout_ms":-1}""", "timeout_ms", "invalid_value")]
    [InlineData("""{"id":"x","type":"pre","timeout_ms":60001}""", "timeout_ms", "invalid_value")]
    [InlineData("""{"id":"x","type":"pre","timeout_ms":99999999999999}""", "timeout_ms", "invalid_value")]
    [InlineData("""{"id":"x","type":"pre","timeout_ms":1.5}""", "timeout_ms", "invalid_type")]
    [InlineData("""{"id":"x","type":"pre","timeout_ms":"100"}""", "timeout_ms", "invalid_type")]
    // retry
    [InlineData("""{"id":"x","type":"pre","retry":-1}""", "retry", "invalid_value")]
    [InlineData("""{"id":"x","type":"pre","retry":6}""", "retry", "invalid_value")]
    [InlineData("""{"id":"x","type":"pre","retry":"1"}""", "retry", "invalid_type")]
    // enabled
    [InlineData("""{"id":"x","type":"pre","enabled":"yes"}""", "enabled", "invalid_type")]
    [InlineData("""{"id":"x","type":"pre","enabled":1}""", "enabled", "invalid_type")]
    // config, metadata
    [InlineData("""{"id":"x","type":"pre","config":[]}""", "config", "invalid_type")]
    [InlineData("""{"id":"x","type":"pre","config":"k=v"}""", "config", "invalid_type")]
    [InlineData("""{"id":"x","type":"pre","metadata":3}""", "metadata", "invalid_type")]
    public void Parse_BrokenRule_FailsNamingTheField(string json, string field, string type)
    {
        var error = Assert.Throws<ExtensionEntryException>(() => Parse(json)).Error;

        Assert.Equal("invalid_request", error.Code);
        Assert.Equal(field, error.Field);
        Assert.Equal(type, error.Type);
        Assert.Contains(field, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_SubjectLongerThan255_Fails()
    {
        var subject = string.Join('.', Enumerable.Repeat("abcdefg", 32)); // 255 characters
        Assert.Equal(255, subject.Length);
        Assert.Equal(subject, Parse($$"""{"id":"x","type":"pre","subject":"{{subject}}"}""").Subject);

        var error = Assert.Throws<ExtensionEntryException>(() => Parse($$"""{"id":"x","type":"pre","subject":"{{subject}}x"}""")).Error;
        Assert.Equal("subject", error.Field);
    }

    [Theory]
    [InlineData("{oops")]
    [InlineData("[1]")]
    [InlineData("\"x\"")]
    [InlineData("")]
    public void Parse_NotAJsonObject_FailsAsInvalidJson(string json)
    {
        var error = Assert.Throws<ExtensionEntryException>(() => Parse(json)).Error;

        Assert.Null(error.Field);
        Assert.Equal("invalid_json", error.Type);
    }

    [Fact]
    public void Parse_ExpectedId_FillsAnAbsentId()
        => Assert.Equal("from_path", ExtensionEntryJson.Parse("""{"type":"pre"}"""u8, "from_path").Id);

    [Fact]
    public void Parse_ExpectedId_RefusesADifferentId()
    {
        var error = Assert.Throws<ExtensionEntryException>(() => ExtensionEntryJson.Parse("""{"id":"other","type":"pre"}"""u8, "from_path")).Error;

        Assert.Equal("id", error.Field);
        Assert.Contains("from_path", error.Message, StringComparison.Ordinal);
    }

    private static ExtensionEntry Parse(string json) => ExtensionEntryJson.Parse(Encoding.UTF8.GetBytes(json));
}
