using System.CommandLine;
using Beamline.Audit;

namespace Beamline.Cli.Commands;

/// <summary>
/// <c>beamline audit verify --data-dir DIR</c>: checks the audit chain in a data directory
/// (docs/audit.md). Exit 0 and <c>audit log intact: N entries, head SEQ HASH</c> when every entry
/// and the head check out; exit 1 and <c>audit log broken at entry SEQ: PROBLEM</c> after any edit,
/// deletion, reordering or truncation (<c>audit log broken: PROBLEM</c> when the problem names no
/// entry, as a missing head file); exit 2 on bad arguments or a directory without <c>audit.db</c>.
/// </summary>
internal static class AuditCommand
{
    public static Command Create()
    {
        var dataDir = new Option<DirectoryInfo?>("--data-dir")
        {
            Description = "The data directory holding audit.db and audit.head (as given to beamline serve).",
        };
        var verify = new Command("verify", "Check every entry of the audit chain and its head; exit 1 naming the first bad entry.") { dataDir };
        verify.TreatUnmatchedTokensAsErrors = false;
        verify.SetAction(parse =>
        {
            if (parse.UnmatchedTokens.Count > 0 || parse.GetValue(dataDir) is not { } directory)
            {
                Console.Error.WriteLine(parse.UnmatchedTokens.Count > 0
                    ? $"unknown argument(s): {string.Join(' ', parse.UnmatchedTokens)}"
                    : "usage: beamline audit verify --data-dir DIR");
                return 2;
            }
            AuditVerification result;
            try
            {
                result = AuditVerifier.Verify(directory.FullName);
            }
            catch (FileNotFoundException e)
            {
                Console.Error.WriteLine(e.Message);
                return 2;
            }
            if (result.Ok)
            {
                Console.Out.WriteLine($"audit log intact: {result.Entries} entries, head {result.Head!.Seq} {result.Head.Hash}");
                if (result.Warning is { } warning)
                {
                    Console.Out.WriteLine($"note: {warning}");
                }
                return 0;
            }
            Console.Out.WriteLine(result.FirstBadSeq is { } seq
                ? $"audit log broken at entry {seq}: {result.Problem}"
                : $"audit log broken: {result.Problem}");
            return 1;
        });
        return new Command("audit", "Work with the audit chain.") { verify };
    }
}
