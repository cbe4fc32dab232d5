using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Text;
using System.Text.Json;
using Beamline.Pipeline.Activity;
using Beamline.Pipeline.Extensions;
using Beamline.Policies;
using Microsoft.Extensions.Logging.Abstractions;

namespace Beamline.Pipeline.Tests.Extensions;

/// <summary>A registry the test edits while the runner reads it.</summary>
internal sealed class FakeRegistry : IExtensionRegistry
{
    private readonly ConcurrentDictionary<string, ExtensionEntry> _entries = new(StringComparer.Ordinal);

    public IReadOnlyList<ExtensionEntry> Entries => [.. _entries.Values.OrderBy(e => e.Id, StringComparer.Ordinal)];

    public FakeRegistry Add(ExtensionEntry entry)
    {
        _entries[entry.Id] = entry;
        return this;
    }

    public FakeRegistry Service(string id, ExtensionType type, int timeoutMs = 5_000, int retry = 0, string? config = null) =>
        Add(new ExtensionEntry
        {
            Id = id,
            Type = type,
            Subject = Subject(id, type),
            TimeoutMs = timeoutMs,
            Retry = retry,
            Config = config is null ? null : JsonDocument.Parse(config).RootElement.Clone(),
        });

    public static string Subject(string id, ExtensionType type) => type switch
    {
        ExtensionType.Pre => $"beamline.ext.pre.{id}.v1",
        ExtensionType.Validator => $"beamline.ext.validate.{id}.v1",
        _ => $"beamline.ext.post.{id}.v1",
    };

    public bool TryGet(string id, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ExtensionEntry? entry)
    {
        if (_entries.TryGetValue(id, out entry) && entry.Enabled)
        {
            return true;
        }
        entry = null;
        return false;
    }
}

/// <summary>
/// The service side of the transport, in-process: the runner's request is written with
/// <see cref="ExtensionRequestWriter"/> and the service's JSON answer read with
/// <see cref="ExtensionReplyReader"/>, as over NATS. A subject nobody serves is "no responders".
/// </summary>
internal sealed class FakeTransport : IExtensionTransport
{
    private readonly ConcurrentDictionary<string, Func<Call, CancellationToken, Task<string>>> _services = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _counts = new(StringComparer.Ordinal);
    private int _inFlight;
    private int _maxInFlight;

    public ConcurrentQueue<Call> Calls { get; } = new();

    public int MaxInFlight => Volatile.Read(ref _maxInFlight);

    public int CountOf(string subject) => _counts.TryGetValue(subject, out var n) ? n : 0;

    public FakeTransport Serve(string subject, Func<Call, CancellationToken, Task<string>> handler)
    {
        _services[subject] = handler;
        return this;
    }

    public FakeTransport Serve(string subject, Func<Call, string> reply) => Serve(subject, (call, _) => Task.FromResult(reply(call)));

    public FakeTransport Serve(string subject, string reply) => Serve(subject, _ => reply);

    public async ValueTask<ExtensionReply> CallAsync(ExtensionEntry entry, ExtensionInput input, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var number = _counts.AddOrUpdate(entry.Subject!, 1, (_, n) => n + 1);
        if (!_services.TryGetValue(entry.Subject!, out var handler))
        {
            return ExtensionReply.Failed(ExtensionFailure.Unavailable, $"no one serves {entry.Subject}");
        }
        using var document = JsonDocument.Parse(ExtensionRequestWriter.ToArray(input));
        var call = new Call(entry.Subject!, document.RootElement.Clone(), number, timeout);
        Calls.Enqueue(call);
        var now = Interlocked.Increment(ref _inFlight);
        int seen;
        while (now > (seen = Volatile.Read(ref _maxInFlight)) && Interlocked.CompareExchange(ref _maxInFlight, now, seen) != seen)
        {
        }
        try
        {
            var reply = await handler(call, cancellationToken);
            return ExtensionReplyReader.Read(Encoding.UTF8.GetBytes(reply), entry.Type, input.PayloadKind);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    /// <summary>One request as the service saw it; <see cref="Number"/> counts the subject's calls from 1.</summary>
    internal sealed record Call(string Subject, JsonElement Request, int Number, TimeSpan Timeout)
    {
        public JsonElement Payload => Request.GetProperty("payload");

        public string? Meta(string key) => Request.GetProperty("metadata").TryGetProperty(key, out var v) ? v.GetString() : null;
    }
}

/// <summary>A built-in whose answer the test writes.</summary>
internal sealed class FakeBuiltIn(string id, ExtensionType type, Func<ExtensionInput, ExtensionReply> invoke) : IBuiltInExtension
{
    private int _calls;

    public string Id => id;

    public ExtensionType Type => type;

    public int Calls => Volatile.Read(ref _calls);

    public ExtensionInput? LastInput { get; private set; }

    public ExtensionReply Invoke(ExtensionInput input)
    {
        Interlocked.Increment(ref _calls);
        LastInput = input;
        return invoke(input);
    }
}

/// <summary>
/// A streaming built-in that masks the word "secret" as "******" even when it is split across
/// chunks: it holds back a tail that could be the start of the word (at most 5 characters).
/// </summary>
internal sealed class MaskingStreamBuiltIn(string id = "mask") : IStreamingPostExtension
{
    private const string Word = "secret";

    public string Id => id;

    public ExtensionType Type => ExtensionType.Post;

    public int Streams { get; private set; }

    public bool ThrowOnPush { get; init; }

    public ExtensionReply Invoke(ExtensionInput input) =>
        new() { Payload = Encoding.UTF8.GetBytes(Mask(Encoding.UTF8.GetString(input.Payload.Span))), PayloadKind = input.PayloadKind };

    public IStreamRewriter BeginStream(ExtensionInput input)
    {
        Streams++;
        return new Rewriter(ThrowOnPush);
    }

    public static string Mask(string text) => text.Replace(Word, "******", StringComparison.Ordinal);

    private sealed class Rewriter(bool throwOnPush) : IStreamRewriter
    {
        private string _held = string.Empty;

        public string Push(string text)
        {
            if (throwOnPush)
            {
                throw new InvalidOperationException("the rewriter broke");
            }
            var all = Mask(_held + text);
            var keep = 0;
            for (var n = Math.Min(Word.Length - 1, all.Length); n > 0; n--)
            {
                if (Word.StartsWith(all[^n..], StringComparison.Ordinal))
                {
                    keep = n;
                    break;
                }
            }
            _held = all[^keep..];
            return all[..^keep];
        }

        public string Flush()
        {
            var rest = _held;
            _held = string.Empty;
            return rest;
        }
    }
}

/// <summary>Collects the events the runner emits.</summary>
internal sealed class RecordingActivitySink : IActivitySink
{
    public ConcurrentQueue<ActivityEvent> Events { get; } = new();

    public bool IsEnabled => true;

    public void Publish(ActivityEvent activity) => Events.Enqueue(activity);

    public ActivityEvent[] Of(string kind, string? subject = null) =>
        [.. Events.Where(e => e.Kind == kind && (subject is null || e.Subject == subject))];
}

/// <summary>Builds runners, requests and steps for the tests.</summary>
internal sealed class RunnerHarness
{
    public FakeRegistry Registry { get; } = new();

    public FakeTransport Transport { get; } = new();

    public List<IBuiltInExtension> BuiltIns { get; } = [];

    public RecordingActivitySink Activity { get; } = new();

    public TimeProvider Time { get; init; } = TimeProvider.System;

    public ExtensionRunnerOptions? Options { get; init; }

    private ExtensionRunner? _runner;

    public ExtensionRunner Runner => _runner ??= new ExtensionRunner(Registry, BuiltIns, Transport, Activity, Time,
        NullLogger<ExtensionRunner>.Instance, Options);

    public FakeBuiltIn BuiltIn(string id, ExtensionType type, Func<ExtensionInput, ExtensionReply> invoke)
    {
        var builtIn = new FakeBuiltIn(id, type, invoke);
        BuiltIns.Add(builtIn);
        return builtIn;
    }

    public static PipelineRequest Request(string payload = """{"messages":[{"role":"user","content":"hi"}]}""", PayloadKind kind = PayloadKind.Json) => new()
    {
        Caller = new Caller { TenantId = "tenant-a" },
        RequestId = "req-1",
        TraceId = "trace-1",
        MessageType = "chat",
        Payload = Encoding.UTF8.GetBytes(payload),
        PayloadKind = kind,
        Metadata = { ["channel"] = "web" },
    };

    public static ImmutableArray<ExtensionStep> Steps(ExtensionStage stage, params (string Id, ExtensionMode Mode)[] steps) =>
        [.. steps.Select(s => new ExtensionStep { Stage = stage, Id = s.Id, Mode = s.Mode })];

    public static ImmutableArray<ExtensionStep> Validators(params (string Id, ValidatorFailAction OnFail)[] steps) =>
        [.. steps.Select(s => new ExtensionStep { Stage = ExtensionStage.Validate, Id = s.Id, OnFail = s.OnFail })];

    public static string Text(ReadOnlyMemory<byte> bytes) => Encoding.UTF8.GetString(bytes.Span);

    public static ExtensionReply JsonReply(string json, Dictionary<string, string>? metadata = null) =>
        new() { Payload = Encoding.UTF8.GetBytes(json), PayloadKind = PayloadKind.Json, Metadata = metadata };
}
