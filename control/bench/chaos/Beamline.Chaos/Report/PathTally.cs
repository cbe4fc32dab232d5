using System.Globalization;
using Beamline.Chaos.Load;

namespace Beamline.Chaos.Report;

/// <summary>The figures of one load path in one scenario.</summary>
public sealed record PathTally
{
    /// <summary>The path's name.</summary>
    public required string Path { get; init; }

    /// <summary>Requests sent (distinct ids).</summary>
    public int Sent { get; init; }

    /// <summary>Answered with a result that says the block ran.</summary>
    public int Ok { get; init; }

    /// <summary>Answered with a CP1 error (or an error result).</summary>
    public int Errors { get; init; }

    /// <summary>No answer at all within the client's timeout.</summary>
    public int Lost { get; init; }

    /// <summary>Ids whose block ran more than once (rows, or answering assignments, &gt; 1).</summary>
    public int ExecutedTwice { get; init; }

    /// <summary>Answered ok though its row is missing: a lost write (only for paths that write rows).</summary>
    public int OkWithoutRow { get; init; }

    /// <summary>Answered with an error although the block ran (its row exists): an ambiguous outcome, not a failure.</summary>
    public int ErrorButRan { get; init; }

    /// <summary>Requests the client had to send more than once.</summary>
    public int Retried { get; init; }

    /// <summary>The error codes and how often, e.g. <c>deadline_exceeded×3</c>.</summary>
    public string ErrorCodes { get; init; } = "";

    /// <summary>What the clients of lost requests last saw.</summary>
    public string LostReasons { get; init; } = "";

    /// <summary>0 lost, 0 executed twice, no ok answer without its write.</summary>
    public bool Passed => Lost == 0 && ExecutedTwice == 0 && OkWithoutRow == 0;

    /// <summary>Tallies <paramref name="requests"/> of <paramref name="path"/> against the rows written (<paramref name="rows"/>, per id).</summary>
    public static PathTally From(ILoadPath path, IEnumerable<SentRequest> requests, IReadOnlyDictionary<string, int> rows)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(requests);
        ArgumentNullException.ThrowIfNull(rows);
        int sent = 0, ok = 0, errors = 0, lost = 0, twice = 0, okWithoutRow = 0, errorButRan = 0, retried = 0;
        var codes = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var lostReasons = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var request in requests)
        {
            if (request.Path != path.Name)
            {
                continue;
            }
            sent++;
            var outcome = request.Outcome;
            var executions = path.WritesRows ? rows.GetValueOrDefault(request.Id) : path.Executions(request.Id);
            if (outcome.Attempts > 1)
            {
                retried++;
            }
            if (executions > 1)
            {
                twice++;
            }
            switch (outcome.Answer)
            {
                case Answer.Ok:
                    ok++;
                    if (path.WritesRows && executions == 0)
                    {
                        okWithoutRow++;
                    }
                    break;
                case Answer.Error:
                    errors++;
                    codes[outcome.Code] = codes.GetValueOrDefault(outcome.Code) + 1;
                    if (path.WritesRows && executions > 0)
                    {
                        errorButRan++;
                    }
                    break;
                default:
                    lost++;
                    lostReasons[outcome.Code] = lostReasons.GetValueOrDefault(outcome.Code) + 1;
                    break;
            }
        }
        return new PathTally
        {
            Path = path.Name,
            Sent = sent,
            Ok = ok,
            Errors = errors,
            Lost = lost,
            ExecutedTwice = twice,
            OkWithoutRow = okWithoutRow,
            ErrorButRan = errorButRan,
            Retried = retried,
            ErrorCodes = Join(codes),
            LostReasons = Join(lostReasons),
        };
    }

    private static string Join(SortedDictionary<string, int> counts) =>
        string.Join(", ", counts.Select(c => string.Create(CultureInfo.InvariantCulture, $"{c.Key}×{c.Value}")));
}
