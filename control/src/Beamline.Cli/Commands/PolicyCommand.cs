using System.CommandLine;
using Beamline.Policies;
using Beamline.Policies.Language;

namespace Beamline.Cli.Commands;

/// <summary>
/// <c>beamline policy check FILE...</c>: loads policy files (CP1 JSON or policy language,
/// <c>.bpl</c>), prints every error (file, JSON path or line:column, reason) or, for a valid
/// policy, what it will do (a language policy: its compiled plan, linked against the other policy
/// files of its folder so that <c>use</c> resolves). Exit 0 when every file is valid, 1 when any
/// is invalid, 2 on bad arguments (no file, an unknown option, a file that does not exist).
/// <c>beamline policy convert FILE.json</c> prints a CP1 JSON policy in the policy language.
/// </summary>
internal static class PolicyCommand
{
    public static Command Create()
    {
        var files = new Argument<string[]>("FILE")
        {
            Description = "Policy files (CP1 JSON or policy language, .bpl).",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Print errors only, not the descriptions." };
        var check = new Command("check", "Validate policy files and describe what they do.") { files, quiet };
        check.TreatUnmatchedTokensAsErrors = false;
        check.SetAction(parse =>
        {
            var paths = parse.GetValue(files) ?? [];
            if (parse.UnmatchedTokens.Count > 0 || paths.Length == 0)
            {
                Console.Error.WriteLine(paths.Length == 0
                    ? "usage: beamline policy check FILE..."
                    : $"unknown argument(s): {string.Join(' ', parse.UnmatchedTokens)}");
                return 2;
            }
            foreach (var path in paths)
            {
                if (!File.Exists(path))
                {
                    Console.Error.WriteLine($"{path}: no such file");
                    return 2;
                }
            }
            var invalid = 0;
            foreach (var path in paths)
            {
                var result = PolicyLoader.LoadFile(path);
                if (result.Policy is { Language: not null } source && Link(path, source) is { } linkError)
                {
                    result = new PolicyLoadResult { Errors = [linkError] };
                }
                if (result.Policy is { } policy)
                {
                    Console.Out.WriteLine($"{path}: ok");
                    if (!parse.GetValue(quiet))
                    {
                        Console.Out.Write(policy.Language is null ? PolicyDescriber.Describe(policy) : Plan(path, policy));
                    }
                    continue;
                }
                invalid++;
                Console.Out.WriteLine($"{path}: invalid ({result.Errors.Length} error(s))");
                foreach (var error in result.Errors)
                {
                    Console.Out.WriteLine($"  {error}");
                }
            }
            return invalid == 0 ? 0 : 1;
        });
        return new Command("policy", "Work with routing policies.") { check, Convert() };
    }

    private static Command Convert()
    {
        var file = new Argument<string>("FILE") { Description = "A CP1 JSON policy file." };
        var convert = new Command("convert", "Print a CP1 JSON policy in the policy language.") { file };
        convert.SetAction(parse =>
        {
            var path = parse.GetValue(file)!;
            if (!File.Exists(path))
            {
                Console.Error.WriteLine($"{path}: no such file");
                return 2;
            }
            var result = PolicyLoader.LoadFile(path);
            if (result.Policy is not { } policy)
            {
                Console.Out.WriteLine($"{path}: invalid ({result.Errors.Length} error(s))");
                foreach (var error in result.Errors)
                {
                    Console.Out.WriteLine($"  {error}");
                }
                return 1;
            }
            try
            {
                Console.Out.Write(PolicyConverter.Convert(policy));
                return 0;
            }
            catch (ArgumentException e)
            {
                Console.Error.WriteLine($"{path}: {e.Message}");
                return 1;
            }
        });
        return convert;
    }

    // The policies a language policy may `use`: the policy files of its folder.
    private static PolicySet Siblings(string path, Policy policy)
    {
        var policies = new List<Policy>();
        var folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        foreach (var sibling in Directory.GetFiles(folder, "*.json").Concat(Directory.GetFiles(folder, "*" + PolicyLanguage.FileExtension)))
        {
            if (Path.GetFileNameWithoutExtension(sibling) != policy.Id && PolicyLoader.LoadFile(sibling).Policy is { } other)
            {
                policies.Add(other);
            }
        }
        policies.Add(policy);
        return new PolicySet(policies);
    }

    private static PolicyError? Link(string path, Policy policy) =>
        Siblings(path, policy).LeftOut.GetValueOrDefault(policy.Id);

    private static string Plan(string path, Policy policy) =>
        Siblings(path, policy).TryGetProgram(policy.Id, out var program) ? program.Describe() : string.Empty;
}
