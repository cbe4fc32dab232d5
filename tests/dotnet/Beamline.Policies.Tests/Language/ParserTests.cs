using Beamline.Policies.Language;
using static Beamline.Policies.Tests.Language.LanguageTestKit;

namespace Beamline.Policies.Tests.Language;

public sealed class ParserTests
{
    [Theory]
    [InlineData("policy p()\n  route \"a\"\n", 1, 11, "expected ':'")]
    [InlineData("policy p():\n  route \"a\n", 2, 9, "not closed")]
    [InlineData("policy p():\n  if request.input_tokens > 5\n    route \"a\"\n", 2, 30, "expected ':'")]
    [InlineData("policy p():\n    route \"a\"\n  route \"b\"\n", 3, 3, "indentation matches no enclosing block")]
    [InlineData("policy p():\n  route cheapest([\"a\"]) extra\n", 2, 25, "end of the line")]
    [InlineData("policy p():\n\troute \"a\"\n", 2, 1, "spaces")]
    [InlineData("policy p():\n  let x = 5 +\n", 2, 14, "expected a value")]
    [InlineData("policy p():\n  route \"a\"\npolicy q():\n  route \"b\"\n", 3, 1, "one policy")]
    [InlineData("policy p():\n  if 1 < 2 < 3: route \"a\"\n", 2, 12, "do not chain")]
    [InlineData("policy p():\n  let t = 5 parsecs\n", 2, 13, "end of the line")]
    [InlineData("policy p():\n  let t = 5y\n", 2, 12, "unknown duration unit")]
    public void Load_SyntaxError_NamesLineAndColumn(string source, int line, int column, string message)
    {
        var error = LoadError(source);
        Assert.Equal((line, column), (error.Line, error.Column));
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        Assert.Equal($"{line}:{column}", error.Path);
    }

    [Theory]
    [InlineData("policy p():\n  route nowhere\n", 2, 9, "unknown name 'nowhere'")]
    [InlineData("policy p():\n  if request.colour == \"red\": route \"a\"\n", 2, 14, "unknown request member")]
    [InlineData("policy p():\n  route cheapest([request.user_id])\n", 2, 9, "must be constant")]
    [InlineData("policy p():\n  let who = request.user_id\n  route who\n", 3, 9, "must be constant")]
    [InlineData("policy p():\n  route frobnicate(\"a\")\n", 2, 9, "unknown function 'frobnicate'")]
    [InlineData("policy p():\n  route split({\"a\": -1})\n", 2, 9, "weights >= 0")]
    [InlineData("policy p():\n  route bandit([\"a\"], reward = vibes)\n", 2, 9, "reward must be")]
    [InlineData("policy p():\n  route sticky(\"a\", colour = 1)\n", 2, 9, "no argument 'colour'")]
    [InlineData("policy p():\n  if true:\n    fallback [\"b\"]\n  route \"a\"\n", 3, 5, "top level")]
    [InlineData("policy p():\n  let x = 1\n  let x = 2\n  route \"a\"\n", 3, 3, "already defined")]
    [InlineData("policy p():\n  let n = 1 / 0\n  route \"a\"\n", 2, 13, "division by zero")]
    [InlineData("policy q():\n  route \"a\"\n", 1, 1, "its id is 'p'")]
    public void Load_MeaningError_NamesLineAndColumn(string source, int line, int column, string message)
    {
        var error = LoadError(source);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        Assert.Equal((line, column), (error.Line, error.Column));
    }

    [Fact]
    public void Load_JsonWrapper_LoadsTheSourceAndReportsLineAndColumn()
    {
        var good = PolicyLoader.Load("p", """{"id": "p", "language": "policy p():\n  route \"openai\"\n"}"""u8);
        Assert.True(good.IsValid, string.Join(";", good.Errors));
        Assert.NotNull(good.Policy!.Language);

        var bad = PolicyLoader.Load("p", """{"language": "policy p():\n  route nowhere\n"}"""u8);
        Assert.Equal("2:9", Assert.Single(bad.Errors).Path);
    }

    [Fact]
    public void Load_CommentsBlankLinesAndBracketsAcrossLines_Parse()
    {
        var program = Program("""
            # a comment
            policy p(budget = 0.01):   # trailing comment

              let pool = [
                "openai",
                "anthropic",
              ]
              route cheapest(pool)
            """);
        Assert.Equal("cheapest(openai, anthropic)", Route(program, Input()));
    }
}
