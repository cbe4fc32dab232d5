using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Beamline.Host.Tests.Gateway;

/// <summary>
/// A loopback OpenAI-compatible upstream on Kestrel (real HTTP/1.1, real connection resets, and a
/// request-aborted token that fires when the caller goes away). Each provider entry points its
/// <c>base_url</c> at <see cref="BaseUrl"/> of a scenario: the first path segment, whose part before
/// a <c>-</c> chooses the behaviour (<c>ok</c>, <c>tools</c>, <c>stall</c>, <c>limited</c>,
/// <c>down</c>, <c>reset</c>, <c>malformed</c>, <c>first</c>, <c>abort</c>) and whose whole name keys
/// what the upstream saw (<see cref="Scenario"/>), so that every provider has its own breaker and
/// its own observations.
/// </summary>
public sealed class GatewayUpstream : IAsyncDisposable
{
    /// <summary>The text the <c>ok</c> and <c>first</c> behaviours answer, word by word when streamed.</summary>
    public const string Reply = "Hello from the loopback upstream";

    /// <summary>The <c>Retry-After</c> the <c>limited</c> behaviour sends with its 429.</summary>
    public const int RetryAfterSeconds = 7;

    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, UpstreamScenario> _scenarios = new(StringComparer.Ordinal);

    private GatewayUpstream(WebApplication app, string root)
    {
        _app = app;
        Root = root;
    }

    /// <summary><c>http://127.0.0.1:port</c>.</summary>
    public string Root { get; }

    /// <summary>Starts the upstream on a free loopback port.</summary>
    public static async Task<GatewayUpstream> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        GatewayUpstream? upstream = null;
        app.MapPost("/{scenario}/v1/chat/completions", (HttpContext context, string scenario) => upstream!.ChatAsync(context, scenario));
        // A client that cannot reach the test's objects (the node SDK) releases a scenario here.
        app.MapPost("/{scenario}/release", (string scenario) =>
        {
            upstream!.Scenario(scenario).Release.TrySetResult();
            return Results.NoContent();
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        upstream = new GatewayUpstream(app, address.TrimEnd('/'));
        return upstream;
    }

    /// <summary>The URL that releases scenario <paramref name="name"/> (<see cref="UpstreamScenario.Release"/>) when POSTed to.</summary>
    public string ReleaseUrl(string name) => $"{Root}/{name}/release";

    /// <summary>The <c>base_url</c> of a provider served by scenario <paramref name="name"/>.</summary>
    public string BaseUrl(string name) => $"{Root}/{name}/v1";

    /// <summary>What scenario <paramref name="name"/> saw (created on first use).</summary>
    public UpstreamScenario Scenario(string name) => _scenarios.GetOrAdd(name, static _ => new UpstreamScenario());

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        foreach (var scenario in _scenarios.Values)
        {
            scenario.Release.TrySetResult();
        }
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await _app.StopAsync(stop.Token);
        await _app.DisposeAsync();
    }

    private async Task ChatAsync(HttpContext context, string name)
    {
        var scenario = Scenario(name);
        string body;
        using (var reader = new StreamReader(context.Request.Body, Encoding.UTF8))
        {
            body = await reader.ReadToEndAsync(context.RequestAborted);
        }
        scenario.Record(body, context.Request.Headers.Authorization.ToString());
        var request = JsonNode.Parse(body)!.AsObject();
        var stream = request["stream"]?.GetValue<bool>() == true;
        var usage = request["stream_options"]?["include_usage"]?.GetValue<bool>() == true;
        var model = request["model"]?.GetValue<string>() ?? "upstream-model";
        var behaviour = name.Split('-', 2)[0];
        try
        {
            switch (behaviour)
            {
                case "ok":
                    await (stream ? StreamTextAsync(context, model, Reply, usage) : WholeAsync(context, Completion(model, Reply)));
                    break;
                case "tools":
                    await (stream ? StreamToolCallAsync(context, model) : WholeAsync(context, ToolCallCompletion(model)));
                    break;
                case "stall":
                    await WaitForAbortAsync(context, scenario);
                    break;
                case "limited":
                    context.Response.Headers.RetryAfter = RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    await ErrorAsync(context, 429, "rate_limit_exceeded", "the loopback upstream is rate limited");
                    break;
                case "down":
                    await ErrorAsync(context, 503, "overloaded", "the loopback upstream is down");
                    break;
                case "reset":
                    if (stream)
                    {
                        // Reset only once the client has the first event (it releases this), so
                        // that the reset comes mid-stream, never before the first byte.
                        await StartStreamAsync(context);
                        await EventAsync(context, Chunk(model, role: "assistant", content: "partial ", finish: null));
                        scenario.FirstEventSent.TrySetResult();
                        await scenario.Release.Task.WaitAsync(context.RequestAborted);
                    }
                    context.Abort();
                    break;
                case "malformed":
                    if (stream)
                    {
                        await StartStreamAsync(context);
                        await WriteAsync(context, "data: {\"id\":\"chatcmpl-bad\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\n\ndata: [DONE]\n\n");
                    }
                    else
                    {
                        context.Response.ContentType = "application/json";
                        await WriteAsync(context, "{\"id\":\"chatcmpl-bad\",\"choices\":[{\"index\":0,\"message\":");
                    }
                    break;
                case "first":
                    await StartStreamAsync(context);
                    await EventAsync(context, Chunk(model, role: "assistant", content: "Hello ", finish: null));
                    scenario.FirstEventSent.TrySetResult();
                    await scenario.Release.Task.WaitAsync(context.RequestAborted);
                    await EventAsync(context, Chunk(model, role: null, content: "after the signal", finish: null));
                    await EventAsync(context, Chunk(model, role: null, content: null, finish: "stop"));
                    await WriteAsync(context, "data: [DONE]\n\n");
                    break;
                case "abort":
                    if (stream)
                    {
                        await StartStreamAsync(context);
                        await EventAsync(context, Chunk(model, role: "assistant", content: "Hello ", finish: null));
                    }
                    scenario.FirstEventSent.TrySetResult();
                    await WaitForAbortAsync(context, scenario);
                    break;
                default:
                    await ErrorAsync(context, 404, "unknown_scenario", $"no behaviour '{behaviour}'");
                    break;
            }
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            scenario.Aborted.TrySetResult();
        }
    }

    private static async Task WaitForAbortAsync(HttpContext context, UpstreamScenario scenario)
    {
        try
        {
            await Task.Delay(Timeout.Infinite, context.RequestAborted);
        }
        catch (OperationCanceledException)
        {
            scenario.Aborted.TrySetResult();
        }
    }

    private static Task WholeAsync(HttpContext context, JsonObject completion)
    {
        context.Response.ContentType = "application/json";
        return WriteAsync(context, completion.ToJsonString());
    }

    private static Task ErrorAsync(HttpContext context, int status, string code, string message)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        return WriteAsync(context, new JsonObject
        {
            ["error"] = new JsonObject { ["message"] = message, ["type"] = "upstream_error", ["param"] = null, ["code"] = code },
        }.ToJsonString());
    }

    private static async Task StreamTextAsync(HttpContext context, string model, string text, bool usage)
    {
        await StartStreamAsync(context);
        await EventAsync(context, Chunk(model, role: "assistant", content: "", finish: null));
        var words = text.Split(' ');
        for (var i = 0; i < words.Length; i++)
        {
            await EventAsync(context, Chunk(model, role: null, content: i < words.Length - 1 ? words[i] + " " : words[i], finish: null));
        }
        await EventAsync(context, Chunk(model, role: null, content: null, finish: "stop"));
        if (usage)
        {
            var last = Chunk(model, role: null, content: null, finish: null);
            last["choices"] = new JsonArray();
            last["usage"] = Usage();
            await EventAsync(context, last);
        }
        await WriteAsync(context, "data: [DONE]\n\n");
    }

    private static async Task StreamToolCallAsync(HttpContext context, string model)
    {
        await StartStreamAsync(context);
        var start = Chunk(model, role: "assistant", content: null, finish: null);
        start["choices"]![0]!["delta"]!["tool_calls"] = new JsonArray(new JsonObject
        {
            ["index"] = 0,
            ["id"] = "call_weather_1",
            ["type"] = "function",
            ["function"] = new JsonObject { ["name"] = "get_weather", ["arguments"] = "" },
        });
        await EventAsync(context, start);
        foreach (var piece in new[] { "{\"city\":", "\"Paris\"}" })
        {
            var delta = Chunk(model, role: null, content: null, finish: null);
            delta["choices"]![0]!["delta"]!["tool_calls"] = new JsonArray(new JsonObject
            {
                ["index"] = 0,
                ["function"] = new JsonObject { ["arguments"] = piece },
            });
            await EventAsync(context, delta);
        }
        await EventAsync(context, Chunk(model, role: null, content: null, finish: "tool_calls"));
        await WriteAsync(context, "data: [DONE]\n\n");
    }

    private static async Task StartStreamAsync(HttpContext context)
    {
        context.Response.StatusCode = 200;
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        await context.Response.StartAsync(context.RequestAborted);
    }

    private static Task EventAsync(HttpContext context, JsonObject chunk) => WriteAsync(context, "data: " + chunk.ToJsonString() + "\n\n");

    private static async Task WriteAsync(HttpContext context, string text)
    {
        await context.Response.Body.WriteAsync(Encoding.UTF8.GetBytes(text), context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
    }

    private static JsonObject Completion(string model, string text) => new()
    {
        ["id"] = "chatcmpl-upstream",
        ["object"] = "chat.completion",
        ["created"] = 1_700_000_000,
        ["model"] = model,
        ["choices"] = new JsonArray(new JsonObject
        {
            ["index"] = 0,
            ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = text },
            ["finish_reason"] = "stop",
        }),
        ["usage"] = Usage(),
    };

    private static JsonObject ToolCallCompletion(string model) => new()
    {
        ["id"] = "chatcmpl-upstream-tools",
        ["object"] = "chat.completion",
        ["created"] = 1_700_000_000,
        ["model"] = model,
        ["choices"] = new JsonArray(new JsonObject
        {
            ["index"] = 0,
            ["message"] = new JsonObject
            {
                ["role"] = "assistant",
                ["content"] = null,
                ["tool_calls"] = new JsonArray(new JsonObject
                {
                    ["id"] = "call_weather_1",
                    ["type"] = "function",
                    ["function"] = new JsonObject { ["name"] = "get_weather", ["arguments"] = "{\"city\":\"Paris\"}" },
                }),
            },
            ["finish_reason"] = "tool_calls",
        }),
        ["usage"] = Usage(),
    };

    private static JsonObject Chunk(string model, string? role, string? content, string? finish)
    {
        var delta = new JsonObject();
        if (role is not null)
        {
            delta["role"] = role;
        }
        if (content is not null)
        {
            delta["content"] = content;
        }
        return new JsonObject
        {
            ["id"] = "chatcmpl-upstream",
            ["object"] = "chat.completion.chunk",
            ["created"] = 1_700_000_000,
            ["model"] = model,
            ["choices"] = new JsonArray(new JsonObject { ["index"] = 0, ["delta"] = delta, ["finish_reason"] = finish }),
        };
    }

    private static JsonObject Usage() => new() { ["prompt_tokens"] = 11, ["completion_tokens"] = 6, ["total_tokens"] = 17 };
}

/// <summary>What one scenario of <see cref="GatewayUpstream"/> saw, and the signal it waits on.</summary>
public sealed class UpstreamScenario
{
    private int _requests;
    private string _lastBody = "";

    /// <summary>How many requests it received.</summary>
    public int Requests => Volatile.Read(ref _requests);

    /// <summary>The body of the last request.</summary>
    public JsonElement LastBody => JsonDocument.Parse(Volatile.Read(ref _lastBody)).RootElement.Clone();

    /// <summary>The <c>Authorization</c> header of the last request ("" when none).</summary>
    public string LastAuthorization { get; private set; } = "";

    /// <summary>Set when a request arrived.</summary>
    public TaskCompletionSource Received { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Set when the <c>first</c>, <c>reset</c> or <c>abort</c> behaviour has sent (flushed) its first event.</summary>
    public TaskCompletionSource FirstEventSent { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>What the <c>first</c> behaviour waits on before it sends the rest of its stream, and <c>reset</c> before it resets.</summary>
    public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Set when a request's aborted token fired (the caller closed the connection).</summary>
    public TaskCompletionSource Aborted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal void Record(string body, string authorization)
    {
        Volatile.Write(ref _lastBody, body);
        LastAuthorization = authorization;
        Interlocked.Increment(ref _requests);
        Received.TrySetResult();
    }
}
