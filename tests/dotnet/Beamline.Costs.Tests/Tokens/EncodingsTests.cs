using Beamline.Costs.Tokens;

namespace Beamline.Costs.Tests.Tokens;

public sealed class EncodingsTests
{
    [Theory]
    [InlineData("gpt-4o", "o200k")]
    [InlineData("gpt-4o-mini", "o200k")]
    [InlineData("gpt-4.1", "o200k")]
    [InlineData("gpt-5", "o200k")]
    [InlineData("o3-mini", "o200k")]
    [InlineData("claude-sonnet-4", "o200k")]
    [InlineData(null, "o200k")]
    [InlineData("gpt-4", "cl100k")]
    [InlineData("gpt-4-turbo", "cl100k")]
    [InlineData("gpt-3.5-turbo", "cl100k")]
    [InlineData("openai/gpt-4-0613", "cl100k")]
    [InlineData("text-embedding-3-small", "cl100k")]
    public void For_Model_UsesItsEncoding(string? model, string encoding)
    {
        var expected = encoding == "o200k" ? Encodings.O200kBase : Encodings.Cl100kBase;

        Assert.Same(expected, Encodings.For(model));
    }

    [Fact]
    public void CountTokens_KnownTexts_MatchTiktoken()
    {
        Assert.Equal(2, Encodings.O200kBase.CountTokens("hello world"));
        Assert.Equal(2, Encodings.Cl100kBase.CountTokens("hello world"));
        // tiktoken's README: cl100k_base encodes "tiktoken is great!" as [83, 1609, 5963, 374, 2294, 0].
        Assert.Equal(6, Encodings.Cl100kBase.CountTokens("tiktoken is great!"));
    }

    [Fact]
    public void Count_Utf8SplitAnywhere_CountsAsTheString()
    {
        var text = "Grüße, 世界 — naïve café";

        Assert.Equal(Encodings.O200kBase.CountTokens(text), TextTokens.Count(Encodings.O200kBase, System.Text.Encoding.UTF8.GetBytes(text)));
    }
}
