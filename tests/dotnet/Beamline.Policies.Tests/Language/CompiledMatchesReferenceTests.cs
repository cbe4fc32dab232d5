using System.Globalization;
using System.Text;
using Beamline.Policies.Language;
using CsCheck;

namespace Beamline.Policies.Tests.Language;

/// <summary>
/// The compiled program and the tree-walking reference evaluator agree on random programs and
/// requests: same directive (strategy, candidates, stickiness, bandit site, fallbacks, location) or
/// both failing at the same place.
/// </summary>
public sealed class CompiledMatchesReferenceTests
{
    private static readonly string[] Types = ["chat", "completion", "embedding", "vision"];
    private static readonly string[] Providers = ["openai", "anthropic", "local_llm", "mistral"];

    [Fact]
    public void RandomProgramsAndRequests_CompiledEqualsReference()
    {
        var routed = 0;
        var directives = 0;
        Gen.Int.Sample(seed =>
        {
            var random = new Random(seed);
            var source = new ProgramWriter(random).Write();
            var helper = "policy helper(tier = \"basic\", w = 1):\n  fallback on([\"timeout\"], \"local_llm\", retry = 1)\n"
                + "  if tier == \"gold\": route split({\"openai\": w, \"anthropic\": 2})\n  route cheapest([\"mistral\", \"openai\"])\n";
            var set = new PolicySet([LanguageTestKit.Load("p", source), LanguageTestKit.Load("helper", helper)]);
            Assert.True(set.Errors.IsEmpty, source + string.Join("\n", set.Errors));
            Assert.True(set.TryGetProgram("p", out var program));
            Interlocked.Add(ref directives, program!.Directives.Length);
            var modules = set.Policies.ToDictionary(p => p.Id, p => p.Language!.Module);
            for (var i = 0; i < 20; i++)
            {
                var input = RandomInput(random);
                var compiled = program!.Evaluate(input);
                var (directive, error) = ReferenceEvaluator.Evaluate(modules["p"], id => modules.GetValueOrDefault(id), RandomInputCopy(input));
                if (compiled.IsSuccess)
                {
                    Interlocked.Increment(ref routed);
                    Assert.True(directive is not null, $"{source}\nreference failed: {error}");
                    Assert.Equal(directive!.Describe() + " @" + directive.Location,
                        program.Directives[compiled.Directive].Describe() + " @" + program.Directives[compiled.Directive].Location);
                }
                else
                {
                    Assert.True(directive is null, $"{source}\ncompiled failed ({compiled.Error}) but the reference routed");
                    var where = compiled.Error!.Contains(" failed at ", StringComparison.Ordinal)
                        ? compiled.Error[(compiled.Error.IndexOf(" failed at ", StringComparison.Ordinal) + 11)..].Split(':')[0..2]
                        : null;
                    if (where is not null)
                    {
                        Assert.StartsWith($"{where[0]}:{where[1]}:", error, StringComparison.Ordinal);
                    }
                }
            }
        }, iter: 300);
        // The programs are not trivial: most evaluations route, over many different directives.
        Assert.True(routed > 300 * 20 * 9 / 10, $"{routed} routed");
        Assert.True(directives > 300 * 3, $"{directives} directives");
    }

    private static PolicyInput RandomInput(Random random) => new()
    {
        MessageType = random.Next(5) == 0 ? null : Types[random.Next(Types.Length)],
        InputTokens = random.Next(0, 3000),
        MaxCost = random.Next(3) == 0 ? null : Math.Round(random.NextDouble() * 0.05, 3),
        MaxLatencyMs = random.Next(3) == 0 ? null : random.Next(100, 3000),
        UserId = random.Next(3) == 0 ? null : "u" + random.Next(4),
        Context = random.Next(2) == 0 ? null : new Dictionary<string, string> { ["tier"] = random.Next(2) == 0 ? "gold" : "basic" },
        Payload = Encoding.UTF8.GetBytes(random.Next(2) == 0 ? "refund please" : "hello"),
    };

    private static PolicyInput RandomInputCopy(PolicyInput input) => new()
    {
        MessageType = input.MessageType,
        InputTokens = input.InputTokens,
        MaxCost = input.MaxCost,
        MaxLatencyMs = input.MaxLatencyMs,
        UserId = input.UserId,
        Context = input.Context,
        Payload = input.Payload,
    };

    /// <summary>Writes a random, well-typed policy: numbers, strings and booleans never mix where an operator would refuse them.</summary>
    private sealed class ProgramWriter(Random random)
    {
        private readonly StringBuilder _text = new();
        private readonly List<string> _numbers = [];
        private readonly List<string> _strings = [];
        private int _lets;

        public string Write()
        {
            _text.Append("def heavy(n): n > 1500\n");
            _text.Append("def pick(t, a, b): a if t == \"gold\" else b\n");
            _text.Append("def fact(n): 1 if n <= 1 else n * fact(n - 1)\n");
            _text.Append("policy p(limit = 0.01, name = \"chat\"):\n");
            if (random.Next(2) == 0)
            {
                _text.Append("  fallback [\"local_llm\"]\n");
            }
            Block(1, 3);
            _text.Append("  route \"openai\"\n");
            return _text.ToString();
        }

        private void Block(int depth, int statements)
        {
            var indent = new string(' ', depth * 2);
            var scopeNumbers = _numbers.Count;
            var scopeStrings = _strings.Count;
            for (var i = 0; i < statements; i++)
            {
                switch (random.Next(depth >= 3 ? 3 : 6))
                {
                    case 0:
                        var name = "v" + _lets++;
                        if (random.Next(2) == 0)
                        {
                            _text.Append(CultureInfo.InvariantCulture, $"{indent}let {name} = {Number(2)}\n");
                            _numbers.Add(name);
                        }
                        else
                        {
                            _text.Append(CultureInfo.InvariantCulture, $"{indent}let {name} = {Text(2)}\n");
                            _strings.Add(name);
                        }
                        break;
                    case 1:
                        _text.Append(CultureInfo.InvariantCulture, $"{indent}if {Bool(2)}: route {Route()}\n");
                        break;
                    case 2:
                        _text.Append(indent).Append(random.Next(2) == 0 ? "pass\n" : "use helper(tier = " + (random.Next(2) == 0 ? "\"gold\"" : "\"basic\"") + ")\n");
                        break;
                    case 3:
                        _text.Append(CultureInfo.InvariantCulture, $"{indent}if {Bool(2)}:\n");
                        Block(depth + 1, 1 + random.Next(3));
                        if (random.Next(2) == 0)
                        {
                            _text.Append(CultureInfo.InvariantCulture, $"{indent}elif {Bool(2)}:\n");
                            Block(depth + 1, 1 + random.Next(2));
                        }
                        if (random.Next(2) == 0)
                        {
                            _text.Append(CultureInfo.InvariantCulture, $"{indent}else:\n");
                            Block(depth + 1, 1 + random.Next(2));
                        }
                        break;
                    default:
                        _text.Append(CultureInfo.InvariantCulture, $"{indent}match {Text(1)}:\n");
                        var arms = 1 + random.Next(3);
                        for (var arm = 0; arm < arms; arm++)
                        {
                            _text.Append(CultureInfo.InvariantCulture, $"{indent}  case \"{Pick(Types)}\", \"{Pick(Types)}\":\n");
                            Block(depth + 2, 1 + random.Next(2));
                        }
                        if (random.Next(2) == 0)
                        {
                            _text.Append(CultureInfo.InvariantCulture, $"{indent}  case _: route {Route()}\n");
                        }
                        break;
                }
            }
            _numbers.RemoveRange(scopeNumbers, _numbers.Count - scopeNumbers);
            _strings.RemoveRange(scopeStrings, _strings.Count - scopeStrings);
        }

        private string Route() => random.Next(6) switch
        {
            0 => $"\"{Pick(Providers)}\"",
            1 => $"split({{\"{Providers[0]}\": {random.Next(1, 9)}, \"{Providers[1]}\": {random.Next(1, 9)}}})",
            2 => $"cheapest([\"{Pick(Providers)}\", \"{Pick(Providers)}\"])",
            3 => $"sticky(fastest([\"{Pick(Providers)}\"]), key = \"user_id\", ttl = {random.Next(1, 30)}m)",
            4 => $"bandit([\"{Pick(Providers)}\", \"{Pick(Providers)}\"], reward = {Pick(["quality", "cost", "latency", "success"])})",
            _ => $"best_quality(tagged(\"t{random.Next(3)}\"))",
        };

        private string Bool(int depth) => (depth <= 0 ? random.Next(4) : random.Next(9)) switch
        {
            0 => $"{Number(depth - 1)} {Pick(["<", "<=", ">", ">=", "==", "!="])} {Number(depth - 1)}",
            1 => $"{Text(depth - 1)} {Pick(["==", "!="])} {Text(depth - 1)}",
            2 => $"request.constraints.max_cost {Pick(["<", ">"])} limit",
            3 => $"request.user_id in [\"u1\", \"u2\"]",
            4 => $"({Bool(depth - 1)} and {Bool(depth - 1)})",
            5 => $"({Bool(depth - 1)} or {Bool(depth - 1)})",
            6 => $"not {Bool(depth - 1)}",
            7 => $"heavy({Number(depth - 1)})",
            _ => $"contains(request.payload, \"refund\")",
        };

        private string Number(int depth) => (depth <= 0 ? random.Next(4) : random.Next(8)) switch
        {
            0 => random.Next(0, 3000).ToString(CultureInfo.InvariantCulture),
            1 => "request.input_tokens",
            2 => _numbers.Count > 0 ? _numbers[random.Next(_numbers.Count)] : "7",
            3 => "default(request.latency_sla, 500ms)",
            4 => $"({Number(depth - 1)} + {Number(depth - 1)})",
            5 => $"({Number(depth - 1)} * {random.Next(1, 4)})",
            6 => $"fact({random.Next(0, 6)})",
            _ => $"len({Text(depth - 1)})",
        };

        private string Text(int depth) => (depth <= 0 ? random.Next(4) : random.Next(6)) switch
        {
            0 => $"\"{Pick(Types)}\"",
            1 => "default(request.message_type, \"none\")",
            2 => _strings.Count > 0 ? _strings[random.Next(_strings.Count)] : "name",
            3 => "default(request.context[\"tier\"], \"basic\")",
            4 => $"pick(default(request.context.tier, \"x\"), {Text(depth - 1)}, {Text(depth - 1)})",
            _ => $"lower({Text(depth - 1)})",
        };

        private string Pick(string[] options) => options[random.Next(options.Length)];
    }
}
