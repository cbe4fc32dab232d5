using Microsoft.Extensions.Options;

namespace Beamline.Accounting.Ledger;

/// <summary>The usage ledger's settings, bound from <c>Beamline:Usage</c>.</summary>
public sealed class UsageLedgerOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Beamline:Usage";

    /// <summary>The ledger's file name in the data directory.</summary>
    public const string DefaultFileName = "usage.db";

    /// <summary>The SQLite file. Defaults to null: <c>&lt;data directory&gt;/usage.db</c>.</summary>
    public string? DatabasePath { get; set; }

    /// <summary>
    /// Records waiting to be written at most. <see cref="UsageLedger.Record"/> never waits: past this
    /// many, a record is dropped and counted (<see cref="UsageLedger.Dropped"/>, metric
    /// <c>beamline.usage.dropped</c>, an error in the log). Defaults to 262,144 (a few seconds of the
    /// highest request rates, tens of MiB at most).
    /// </summary>
    public int QueueCapacity { get; set; } = 262_144;

    /// <summary>Records written in one transaction at most. Defaults to 2,048.</summary>
    public int MaxBatchSize { get; set; } = 2048;

    /// <summary>
    /// After a batch's first record, how long the writer gathers more before it writes: one
    /// transaction for a trickle of requests instead of one each. Off the request path. Defaults
    /// to 10 ms; zero writes what is queued at once.
    /// </summary>
    public TimeSpan BatchWindow { get; set; } = TimeSpan.FromMilliseconds(10);
}

/// <summary>Validates <see cref="UsageLedgerOptions"/> at start.</summary>
public sealed class UsageLedgerOptionsValidator : IValidateOptions<UsageLedgerOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, UsageLedgerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.QueueCapacity < 1)
        {
            return ValidateOptionsResult.Fail("Beamline:Usage:QueueCapacity must be at least 1");
        }
        if (options.BatchWindow < TimeSpan.Zero)
        {
            return ValidateOptionsResult.Fail("Beamline:Usage:BatchWindow must not be negative");
        }
        return options.MaxBatchSize < 1
            ? ValidateOptionsResult.Fail("Beamline:Usage:MaxBatchSize must be at least 1")
            : ValidateOptionsResult.Success;
    }
}
