using System.CommandLine;
using Beamline.Policies;

namespace Beamline.Cli.Commands;

/// <summary>
/// <c>beamline policy check FILE...</c>: loads CP1 policy files, prints every error (file, JSON
/// path, reason) or, for a valid policy, what it will do. Exit 0 when every file is valid, 1 when
/// any is invalid, 2 on bad arguments (no file, an unknown option, a file that does not exist).
/// </summary>
internal static class PolicyCommand
{
    public static Command Create()
    {
        var files = new Argument<string[]>("FILE")
        {
            Description = "Policy files (CP1 JSON).",
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
                if (result.Policy is { } policy)
                {
                    Console.Out.WriteLine($"{path}: ok");
                    if (!parse.GetValue(quiet))
                    {
                        Console.Out.Write(PolicyDescriber.Describe(policy));
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
        return new Command("policy", "Work with routing policies.") { check };
    }
}
