using Beamline.Cp1;
using Microsoft.Extensions.Options;

namespace Beamline.Host.Routing;

/// <summary>
/// What a CP1 decide with <c>push_assignment</c> may do. Bound from <c>Beamline:Assignments</c>.
/// </summary>
public sealed class AssignmentOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Beamline:Assignments";

    /// <summary>
    /// The subjects a request's <c>assignment_subject</c> may name; any other is refused with
    /// <c>invalid_request</c>. Defaults to null: only <c>caf.exec.assign.v1</c>. (An array, not a
    /// list with that default, because configuration binding appends to a list's items.)
    /// </summary>
    public string[]? AllowedSubjects { get; set; }

    /// <summary>The allow-list after defaults.</summary>
    public IReadOnlyList<string> EffectiveAllowedSubjects => AllowedSubjects is { Length: > 0 } subjects ? subjects : [DecideRequest.DefaultAssignmentSubject];

    /// <summary>
    /// Whether assignments go through a JetStream work-queue stream (<see cref="StreamName"/>,
    /// capturing the allowed subjects) instead of core NATS: each is published with
    /// <c>Nats-Msg-Id</c> = its <c>assignment_id</c> and a decide says <c>published</c> only once
    /// the stream has stored it. Workers must then run with <c>--cp1-jetstream</c>
    /// (docs/cp1-worker.md). Defaults to false: core NATS, which every CP1 worker takes.
    /// </summary>
    public bool JetStream { get; set; }

    /// <summary>The work-queue stream's name. Defaults to <c>BEAMLINE_CP1_ASSIGN</c>.</summary>
    public string StreamName { get; set; } = DefaultStreamName;

    /// <summary>
    /// How long the stream drops a second publish with the same <c>Nats-Msg-Id</c>. Defaults to
    /// 10 minutes, the worker's default dedupe window.
    /// </summary>
    public TimeSpan DuplicateWindow { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>How long an assignment no worker took stays in the stream. Defaults to 1 hour.</summary>
    public TimeSpan MaxAge { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// The stream that keeps the workers' results (<c>caf.exec.result.v1</c>) for
    /// <see cref="ResultsMaxAge"/>: a CP1 router that was disconnected when a result was published
    /// (a NATS restart) reads it from there, where core NATS would have dropped it. Made with the
    /// assignment stream. Defaults to <c>BEAMLINE_CP1_RESULTS</c>.
    /// </summary>
    public string ResultsStreamName { get; set; } = DefaultResultsStreamName;

    /// <summary>How long results stay in <see cref="ResultsStreamName"/>. Defaults to 1 hour.</summary>
    public TimeSpan ResultsMaxAge { get; set; } = TimeSpan.FromHours(1);

    /// <summary>How long a decide waits for the stream's acknowledgement of a publish. Defaults to 5 seconds.</summary>
    public TimeSpan PublishTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The default <see cref="StreamName"/>.</summary>
    public const string DefaultStreamName = "BEAMLINE_CP1_ASSIGN";

    /// <summary>The default <see cref="ResultsStreamName"/>.</summary>
    public const string DefaultResultsStreamName = "BEAMLINE_CP1_RESULTS";
}

/// <summary>Validates <see cref="AssignmentOptions"/> at start.</summary>
public sealed class AssignmentOptionsValidator : IValidateOptions<AssignmentOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, AssignmentOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        foreach (var subject in options.EffectiveAllowedSubjects)
        {
            if (string.IsNullOrEmpty(subject) || subject.AsSpan().IndexOfAny(" \t\r\n*>") >= 0 || subject.StartsWith('$'))
            {
                failures.Add($"Beamline:Assignments:AllowedSubjects: '{subject}' is not a plain NATS subject (no wildcards, spaces or $ system subjects).");
            }
        }
        if (options.JetStream)
        {
            if (string.IsNullOrEmpty(options.StreamName) || options.StreamName.AsSpan().IndexOfAny(" \t\r\n.*>/\\") >= 0)
            {
                failures.Add($"Beamline:Assignments:StreamName: '{options.StreamName}' is not a JetStream stream name (no spaces, '.', '*', '>', '/' or '\\').");
            }
            if (string.IsNullOrEmpty(options.ResultsStreamName) || options.ResultsStreamName.AsSpan().IndexOfAny(" \t\r\n.*>/\\") >= 0
                || options.ResultsStreamName == options.StreamName)
            {
                failures.Add($"Beamline:Assignments:ResultsStreamName: '{options.ResultsStreamName}' is not a JetStream stream name other than StreamName.");
            }
            if (options.ResultsMaxAge <= TimeSpan.Zero)
            {
                failures.Add("Beamline:Assignments:ResultsMaxAge must be positive.");
            }
            if (options.DuplicateWindow <= TimeSpan.Zero || options.MaxAge <= TimeSpan.Zero || options.DuplicateWindow > options.MaxAge)
            {
                failures.Add("Beamline:Assignments: DuplicateWindow and MaxAge must be positive, and DuplicateWindow at most MaxAge.");
            }
            if (options.PublishTimeout <= TimeSpan.Zero)
            {
                failures.Add("Beamline:Assignments:PublishTimeout must be positive.");
            }
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
