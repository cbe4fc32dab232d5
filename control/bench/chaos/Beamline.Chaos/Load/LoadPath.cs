namespace Beamline.Chaos.Load;

/// <summary>What became of one request, from its client's side.</summary>
public enum Answer
{
    /// <summary>A result that says the block ran.</summary>
    Ok,

    /// <summary>A CP1 error (or a result with an error status): an answer, though not a success.</summary>
    Error,

    /// <summary>No answer at all within the client's timeout (after any retry the path makes).</summary>
    Lost,
}

/// <summary>The client's view of one request: its answer, the error code when not ok, and how many times it was sent.</summary>
public sealed record Outcome(Answer Answer, string Code, int Attempts)
{
    /// <summary>An ok answer.</summary>
    public static Outcome Ok(int attempts) => new(Answer.Ok, "ok", attempts);

    /// <summary>An error answer with its code.</summary>
    public static Outcome Error(string code, int attempts) => new(Answer.Error, code, attempts);

    /// <summary>No answer; <paramref name="why"/> says what the client last saw.</summary>
    public static Outcome Lost(string why, int attempts) => new(Answer.Lost, why, attempts);
}

/// <summary>
/// One way requests reach the workers (a load path). Each request carries a unique id; a path
/// whose block is non-idempotent writes that id as a row into the load tenant's database, so that
/// executions are counted apart from the answers. Add a path by implementing this and listing it
/// in <see cref="LoadPaths"/>.
/// </summary>
public interface ILoadPath
{
    /// <summary>A short name for the table (<c>blocks</c>, <c>cp1</c>, <c>push</c>).</summary>
    string Name { get; }

    /// <summary>How the path works, one line for docs/reliability.md.</summary>
    string Description { get; }

    /// <summary>
    /// Where executions are counted: true when each execution inserts a row (id, path) into the
    /// tenant's <c>runs</c> table; false when <see cref="Executions"/> counts them.
    /// </summary>
    bool WritesRows { get; }

    /// <summary>Sends request <paramref name="id"/> and waits for its answer (bounded: never longer than the path's retries of the answer timeout).</summary>
    Task<Outcome> SendAsync(string id, CancellationToken cancellationToken);

    /// <summary>For a path that writes no rows: how many times <paramref name="id"/> ran, as the path observed it.</summary>
    int Executions(string id);
}
