using System.Globalization;

namespace Beamline.Chaos;

/// <summary>How CP1 assignments reach the workers (the switch for the JetStream work-queue stream).</summary>
public enum AssignmentTransport
{
    /// <summary>Core NATS publish on the assignment subject; the harness, as a CP1 router does, republishes the same <c>assignment_id</c> when no result came.</summary>
    Core,

    /// <summary>
    /// A JetStream publish (request with <c>Nats-Msg-Id</c> = the assignment id, waiting for the
    /// stream's PubAck, retried with the same id): the stream dedupes and redelivers.
    /// </summary>
    JetStream,
}

/// <summary>What one run of the suite does. Every value has a default that fits a small shared machine.</summary>
public sealed record ChaosOptions
{
    /// <summary>The scenarios to run, by name; empty: all of them. Defaults to all.</summary>
    public IReadOnlyList<string> Scenarios { get; init; } = [];

    /// <summary>Requests kept in flight over all load paths together. Defaults to 32.</summary>
    public int InFlight { get; init; } = 32;

    /// <summary>Seconds of load per fault scenario (the steady one takes a third). Defaults to 12.</summary>
    public double LoadSeconds { get; init; } = 12;

    /// <summary>The deadline of each block and assignment, in ms. Defaults to 5000.</summary>
    public int DeadlineMs { get; init; } = 5000;

    /// <summary>
    /// How long a client waits for an answer before it counts the request as lost (or retries it,
    /// where the path retries), well past the deadline. Defaults to 15 s.
    /// </summary>
    public TimeSpan AnswerTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Whether the deployment is the durable one of issue 15 (docs/reliability.md): CP1 on the
    /// JetStream work-queue stream end to end (control planes with
    /// <c>Beamline__Assignments__JetStream=true</c>, workers with <c>--cp1-jetstream on
    /// --cp1-ack-wait-ms 5000</c>) and CP2 blocks at most once (<c>--block-dedupe on</c>). Defaults
    /// to true; <c>--core</c> runs the core-NATS baseline (at most once, per-worker dedupe) instead.
    /// </summary>
    public bool Durable { get; init; } = true;

    /// <summary>How the harness publishes CP1 assignments. Defaults to <see cref="AssignmentTransport.JetStream"/> (<c>--core</c>: core NATS).</summary>
    public AssignmentTransport Assignments { get; init; } = AssignmentTransport.JetStream;

    /// <summary>The subject CP1 assignments are published on (and that the JetStream stream captures). Defaults to <c>caf.exec.assign.v1</c>.</summary>
    public string AssignmentSubject { get; init; } = "caf.exec.assign.v1";

    /// <summary>
    /// The block type of the hung executor. Defaults to <c>debug.hang</c>, which ignores its
    /// deadline and cancellation, so that only the worker's supervision (a stuck runner replaced)
    /// keeps the pool serving; <c>debug.sleep</c> stops at its deadline.
    /// </summary>
    public string HangType { get; init; } = "debug.hang";

    /// <summary>The hung block's payload (the milliseconds it holds its runner, as text). Defaults to ten minutes.</summary>
    public string HangPayload { get; init; } = "600000";

    /// <summary>Extra arguments for every worker (e.g. a new supervision flag). Defaults to none.</summary>
    public IReadOnlyList<string> WorkerArgs { get; init; } = [];

    /// <summary>Extra arguments for every control plane. Defaults to none.</summary>
    public IReadOnlyList<string> ControlPlaneArgs { get; init; } = [];

    /// <summary>Extra environment variables for every worker (<c>NAME=VALUE</c>). Defaults to none.</summary>
    public IReadOnlyDictionary<string, string> WorkerEnvironment { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// Extra environment variables for every control plane (<c>NAME=VALUE</c>, e.g.
    /// <c>Beamline__Assignments__JetStream=true</c> for a configuration switch). Defaults to none.
    /// </summary>
    public IReadOnlyDictionary<string, string> ControlPlaneEnvironment { get; init; } = new Dictionary<string, string>();

    /// <summary>What was tested, for the report (e.g. the commit). Defaults to none.</summary>
    public string? Label { get; init; }

    /// <summary>Where the table is written (between its markers); null: nowhere. Defaults to null.</summary>
    public string? ReportFile { get; init; }

    /// <summary>The worker arguments of the deployment, then <see cref="WorkerArgs"/>.</summary>
    public IReadOnlyList<string> WorkerArguments() => Durable
        // A dead worker's assignment comes back after the ack wait: 5 s keeps that well inside the answer timeout.
        ? ["--cp1-jetstream", "on", "--cp1-ack-wait-ms", "5000", "--block-dedupe", "on", .. WorkerArgs]
        : WorkerArgs;

    /// <summary>The control planes' environment of the deployment, then <see cref="ControlPlaneEnvironment"/>.</summary>
    public IReadOnlyDictionary<string, string> ControlPlaneVariables()
    {
        var variables = new Dictionary<string, string>(StringComparer.Ordinal);
        if (Durable)
        {
            variables["Beamline__Assignments__JetStream"] = "true";
        }
        foreach (var (name, value) in ControlPlaneEnvironment)
        {
            variables[name] = value;
        }
        return variables;
    }

    /// <summary>Longest time to full service after NATS returns. Defaults to 5 s (the target).</summary>
    public TimeSpan RecoveryTarget { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The usage text.</summary>
    public const string Usage = """
        usage: Beamline.Chaos [options]
          --scenario NAME        run only this scenario (repeatable; default: all). Names: steady,
                                 worker-kill, nats-restart, hung-executor, two-by-two
          --inflight N           requests in flight over all load paths (default 32)
          --seconds S            seconds of load per fault scenario (default 12)
          --deadline-ms N        each block's and assignment's deadline (default 5000)
          --answer-timeout-s S   a request without an answer by then is lost (default 15)
          --core                 the core-NATS baseline instead of the durable deployment: CP1
                                 assignments on core NATS, no block dedupe (the default is CP1 on
                                 the JetStream work-queue stream end to end, control planes with
                                 Beamline__Assignments__JetStream=true, workers with --cp1-jetstream
                                 on --cp1-ack-wait-ms 5000 --block-dedupe on)
          --assignments core|jetstream  how the harness publishes CP1 assignments (default jetstream;
                                 --core: core)
          --assignment-subject S the CP1 assignment subject (default caf.exec.assign.v1)
          --hang-type TYPE       the hung executor's block type (default debug.hang, which ignores
                                 its deadline; debug.sleep stops at it)
          --hang-payload TEXT    its payload (default 600000: ten minutes)
          --worker-arg ARG       an extra argument for every worker (repeatable)
          --cp-arg ARG           an extra argument for every control plane (repeatable)
          --worker-env NAME=VALUE  an environment variable for every worker (repeatable)
          --cp-env NAME=VALUE    an environment variable for every control plane (repeatable),
                                 e.g. Beamline__Assignments__JetStream=true
          --cp1-jetstream        the durable deployment (the default; kept for older command lines)
          --label TEXT           what was tested, shown in the report (./build.sh: the commit)
          --report FILE          write the table into FILE (docs/reliability.md) between its markers
        """;

    /// <summary>Reads the command line; throws <see cref="ArgumentException"/> with a clear message on a bad one.</summary>
    public static ChaosOptions Parse(IReadOnlyList<string> args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var options = new ChaosOptions();
        var scenarios = new List<string>();
        var workerArgs = new List<string>();
        var cpArgs = new List<string>();
        var workerEnvironment = new Dictionary<string, string>(StringComparer.Ordinal);
        var cpEnvironment = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            string Value() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{name} needs a value");
            double Number(double min, double max)
            {
                var text = Value();
                return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v >= min && v <= max
                    ? v
                    : throw new ArgumentException($"{name} must be a number from {min} to {max} (got '{text}')");
            }
            options = name switch
            {
                "--scenario" => options with { Scenarios = Add(scenarios, Value()) },
                "--inflight" => options with { InFlight = (int)Number(1, 4096) },
                "--seconds" => options with { LoadSeconds = Number(1, 600) },
                "--deadline-ms" => options with { DeadlineMs = (int)Number(100, 600_000) },
                "--answer-timeout-s" => options with { AnswerTimeout = TimeSpan.FromSeconds(Number(1, 600)) },
                "--assignments" => options with
                {
                    Assignments = Value() switch
                    {
                        "core" => AssignmentTransport.Core,
                        "jetstream" => AssignmentTransport.JetStream,
                        var other => throw new ArgumentException($"--assignments must be core or jetstream (got '{other}')"),
                    },
                },
                "--assignment-subject" => options with { AssignmentSubject = Value() },
                "--hang-type" => options with { HangType = Value() },
                "--hang-payload" => options with { HangPayload = Value() },
                "--worker-arg" => options with { WorkerArgs = Add(workerArgs, Value()) },
                "--cp-arg" => options with { ControlPlaneArgs = Add(cpArgs, Value()) },
                "--worker-env" => options with { WorkerEnvironment = Put(workerEnvironment, name, Value()) },
                "--cp-env" => options with { ControlPlaneEnvironment = Put(cpEnvironment, name, Value()) },
                "--core" => options with { Durable = false, Assignments = AssignmentTransport.Core },
                "--cp1-jetstream" => options with { Durable = true, Assignments = AssignmentTransport.JetStream },
                "--label" => options with { Label = Value() },
                "--report" => options with { ReportFile = Value() },
                _ => throw new ArgumentException($"unknown option '{name}'"),
            };
        }
        return options;
    }

    private static Dictionary<string, string> Put(Dictionary<string, string> map, string option, string assignment)
    {
        var eq = assignment.IndexOf('=', StringComparison.Ordinal);
        if (eq <= 0)
        {
            throw new ArgumentException($"{option} takes NAME=VALUE (got '{assignment}')");
        }
        map[assignment[..eq]] = assignment[(eq + 1)..];
        return map;
    }

    private static List<string> Add(List<string> list, string value)
    {
        list.Add(value);
        return list;
    }
}
