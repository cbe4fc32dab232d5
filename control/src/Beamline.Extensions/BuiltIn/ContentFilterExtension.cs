using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.RegularExpressions;
using Beamline.Extensions.BuiltIn.Internal;
using Beamline.Pipeline.Extensions;

namespace Beamline.Extensions.BuiltIn;

/// <summary>
/// <c>content_filter</c> (validator): rejects a request whose message text holds a listed word
/// (<c>words</c>: whole words, case-insensitive) or matches a pattern (<c>patterns</c>: .NET
/// regular expressions run with <see cref="RegexOptions.NonBacktracking"/>, i.e. in linear time;
/// backreferences and lookarounds are refused). Reason <c>content_filtered</c>, details
/// <c>{"matches":N,"rules":["word:…","pattern:&lt;index&gt;"]}</c>.
/// </summary>
/// <remarks>
/// The compiled rules are cached per distinct config (up to <see cref="MaxCachedConfigs"/>; the
/// cache is cleared past that), so a policy's rules are compiled once, not per request.
/// </remarks>
public sealed class ContentFilterExtension : IBuiltInExtension
{
    /// <summary>How many distinct configs keep their compiled rules.</summary>
    public const int MaxCachedConfigs = 256;

    private readonly ConcurrentDictionary<string, Rules> _cache = new(StringComparer.Ordinal);

    /// <inheritdoc />
    public string Id => "content_filter";

    /// <inheritdoc />
    public ExtensionType Type => ExtensionType.Validator;

    /// <inheritdoc />
    public ExtensionReply Invoke(ExtensionInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Config is not { ValueKind: not (JsonValueKind.Null or JsonValueKind.Undefined) } config)
        {
            return ExtensionReply.Unchanged;
        }

        var rules = GetRules(config);
        if (rules.Error is not null)
        {
            return ExtensionReply.Failed(ExtensionFailure.Error, rules.Error);
        }

        if (rules.RuleNames.Length == 0)
        {
            return ExtensionReply.Unchanged;
        }

        var counter = new MatchCounter(rules, new int[rules.RuleNames.Length]);
        try
        {
            PayloadText.Visit(input.Payload, input.PayloadKind, ref counter);
        }
        catch (JsonException exception)
        {
            return BuiltInFailures.MalformedPayload(Id, exception);
        }

        if (counter.Total == 0)
        {
            return ExtensionReply.Unchanged;
        }

        return new ExtensionReply
        {
            Rejected = true,
            Reason = "content_filtered",
            Details = BuiltInFailures.Details(counter, static (writer, found) =>
            {
                writer.WriteStartObject();
                writer.WriteNumber("matches", found.Total);
                writer.WriteStartArray("rules");
                for (int i = 0; i < found.PerRule.Length; i++)
                {
                    if (found.PerRule[i] > 0)
                    {
                        writer.WriteStringValue(found.Rules.RuleNames[i]);
                    }
                }

                writer.WriteEndArray();
                writer.WriteEndObject();
            }),
        };
    }

    private Rules GetRules(JsonElement config)
    {
        string key = config.GetRawText();
        if (_cache.TryGetValue(key, out var rules))
        {
            return rules;
        }

        rules = Rules.Compile(new BuiltInConfig(Id, config));
        if (_cache.Count >= MaxCachedConfigs)
        {
            _cache.Clear();
        }

        return _cache.GetOrAdd(key, rules);
    }

    /// <summary>A config's compiled rules: words first (one regex, a group per word), then the patterns.</summary>
    private sealed class Rules
    {
        private const RegexOptions Options = RegexOptions.NonBacktracking | RegexOptions.CultureInvariant;

        /// <summary><c>word:…</c> per word, then <c>pattern:&lt;index&gt;</c> per pattern.</summary>
        public string[] RuleNames { get; private init; } = [];

        /// <summary>All words, or null when there are none.</summary>
        public Regex? Words { get; private init; }

        public int WordCount { get; private init; }

        public Regex[] Patterns { get; private init; } = [];

        /// <summary>Why the config is refused, or null.</summary>
        public string? Error { get; private init; }

        public static Rules Compile(BuiltInConfig config)
        {
            try
            {
                var words = config.GetStringArray("words") ?? [];
                var patterns = config.GetStringArray("patterns") ?? [];
                var names = new string[words.Count + patterns.Count];
                Regex? wordRegex = null;
                if (words.Count > 0)
                {
                    var alternation = new System.Text.StringBuilder();
                    for (int i = 0; i < words.Count; i++)
                    {
                        string word = words[i];
                        if (string.IsNullOrWhiteSpace(word))
                        {
                            throw config.Error($"'words[{i}]' is empty");
                        }

                        names[i] = "word:" + word;
                        // A word boundary only where the word itself begins or ends with a word character.
                        alternation.Append(i == 0 ? "" : "|")
                            .Append(IsWordChar(word[0]) ? @"\b(" : "(")
                            .Append(Regex.Escape(word))
                            .Append(IsWordChar(word[^1]) ? @")\b" : ")");
                    }

                    wordRegex = new Regex(alternation.ToString(), Options | RegexOptions.IgnoreCase);
                }

                var compiled = new Regex[patterns.Count];
                for (int i = 0; i < patterns.Count; i++)
                {
                    names[words.Count + i] = "pattern:" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    compiled[i] = CompilePattern(config, patterns[i], i);
                }

                return new Rules { RuleNames = names, Words = wordRegex, WordCount = words.Count, Patterns = compiled };
            }
            catch (BuiltInConfigException exception)
            {
                return new Rules { Error = exception.Message };
            }
        }

        private static Regex CompilePattern(BuiltInConfig config, string pattern, int index)
        {
            try
            {
                return new Regex(pattern, Options);
            }
            catch (NotSupportedException exception)
            {
                throw config.Error($"'patterns[{index}]' uses a construct that linear-time (NonBacktracking) matching does not support, "
                    + $"such as a backreference, lookaround or atomic group: {exception.Message}");
            }
            catch (ArgumentException exception)
            {
                throw config.Error($"'patterns[{index}]' is not a valid regular expression: {exception.Message}");
            }
        }

        private static bool IsWordChar(char c) => char.IsLetterOrDigit(c) || c == '_';
    }

    /// <summary>Counts each rule's matches over every text piece.</summary>
    private struct MatchCounter(Rules rules, int[] perRule) : ITextVisitor
    {
        public readonly Rules Rules = rules;
        public readonly int[] PerRule = perRule;
        public int Total;

        public void Visit(ReadOnlySpan<char> text)
        {
            if (Rules.Words is { } words)
            {
                foreach (var match in words.EnumerateMatches(text))
                {
                    PerRule[WhichWord(words, text.Slice(match.Index, match.Length))]++;
                    Total++;
                }
            }

            for (int i = 0; i < Rules.Patterns.Length; i++)
            {
                int count = Rules.Patterns[i].Count(text);
                PerRule[Rules.WordCount + i] += count;
                Total += count;
            }
        }

        /// <summary>The word a match of the alternation is: the first group that matches it whole.</summary>
        private readonly int WhichWord(Regex words, ReadOnlySpan<char> matched)
        {
            var match = words.Match(matched.ToString());
            for (int group = 1; group <= Rules.WordCount; group++)
            {
                if (match.Groups[group].Success)
                {
                    return group - 1;
                }
            }

            return 0;
        }
    }
}
