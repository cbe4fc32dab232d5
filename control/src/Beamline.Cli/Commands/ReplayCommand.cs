using System.CommandLine;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Beamline.Cli.Commands;

/// <summary>
/// <c>beamline replay REQUEST_ID [--url URL] [--admin-key KEY] [--provider ID] [--tenant ID] [--dry-run]</c>:
/// asks a running control plane (<c>POST /admin/v1/replay/{id}</c>) to run a kept request again
/// and prints the original's and the replay's provider, status and cost, then the diff of their
/// answers. The admin key comes from <c>--admin-key</c> or <c>BEAMLINE_ADMIN_KEY</c>. Exit 0 when
/// the replay (or the dry run's decision) succeeded, 1 when it failed or the control plane refused
/// or could not be reached, 2 on usage errors, 3 when the request is not kept (never, or expired).
/// </summary>
internal static class ReplayCommand
{
    private const int Usage = 2;
    private const int Failed = 1;
    private const int NotFound = 3;

    public static Command Create()
    {
        var requestId = new Argument<string[]>("REQUEST_ID") { Description = "The id of the kept request.", Arity = ArgumentArity.ZeroOrMore };
        // Values are checked here, not by the parser, so that every usage error exits 2.
        var url = new Option<string?>("--url") { Description = "The control plane's HTTP address (default http://127.0.0.1:8080).", Arity = ArgumentArity.ZeroOrOne };
        var adminKey = new Option<string?>("--admin-key") { Description = "The admin key (default: $BEAMLINE_ADMIN_KEY).", Arity = ArgumentArity.ZeroOrOne };
        var provider = new Option<string?>("--provider") { Description = "Run it against this provider instead of routing it again.", Arity = ArgumentArity.ZeroOrOne };
        var tenant = new Option<string?>("--tenant") { Description = "The tenant, when two tenants kept the same request id.", Arity = ArgumentArity.ZeroOrOne };
        var dryRun = new Option<bool>("--dry-run") { Description = "Show the routing decision only; call no provider." };
        var command = new Command("replay", "Run a kept request again (request replay) and print the difference.")
        {
            requestId, url, adminKey, provider, tenant, dryRun,
        };
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(async (parse, cancellationToken) =>
        {
            var ids = parse.GetValue(requestId) ?? [];
            if (parse.UnmatchedTokens.Count > 0 || ids.Length != 1 || ids[0].Length == 0)
            {
                return UsageError(parse.UnmatchedTokens.Count > 0
                    ? $"unknown argument(s): {string.Join(' ', parse.UnmatchedTokens)}"
                    : "one REQUEST_ID is required");
            }
            foreach (var option in new[] { url, adminKey, provider, tenant })
            {
                if (parse.GetResult(option) is not null && string.IsNullOrEmpty(parse.GetValue(option)))
                {
                    return UsageError($"{option.Name} needs a value");
                }
            }
            var key = parse.GetValue(adminKey) ?? Environment.GetEnvironmentVariable("BEAMLINE_ADMIN_KEY");
            if (string.IsNullOrEmpty(key))
            {
                return UsageError("an admin key is required: --admin-key KEY or BEAMLINE_ADMIN_KEY");
            }
            var address = parse.GetValue(url) ?? "http://127.0.0.1:8080";
            if (!Uri.TryCreate(address, UriKind.Absolute, out var baseUri) || baseUri.Scheme is not ("http" or "https"))
            {
                return UsageError($"--url {address} is not an http(s) URL");
            }
            var body = Body(parse.GetValue(provider), parse.GetValue(tenant), parse.GetValue(dryRun));
            return await RunAsync(baseUri, key, ids[0], body, cancellationToken).ConfigureAwait(false);
        });
        return command;
    }

    private static int UsageError(string message)
    {
        Console.Error.WriteLine($"beamline replay: {message}");
        Console.Error.WriteLine("usage: beamline replay REQUEST_ID [--url URL] [--admin-key KEY] [--provider ID] [--tenant ID] [--dry-run]");
        return Usage;
    }

    private static byte[] Body(string? provider, string? tenant, bool dryRun)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            if (provider is not null)
            {
                writer.WriteString("provider", provider);
            }
            if (tenant is not null)
            {
                writer.WriteString("tenant_id", tenant);
            }
            writer.WriteBoolean("dry_run", dryRun);
            writer.WriteEndObject();
        }
        return buffer.ToArray();
    }

    private static async Task<int> RunAsync(Uri baseUri, string key, string requestId, byte[] body, CancellationToken cancellationToken)
    {
        // A replay runs a whole request, within the pipeline's longest deadline.
        using var http = new HttpClient { BaseAddress = baseUri, Timeout = TimeSpan.FromMinutes(10) };
        using var request = new HttpRequestMessage(HttpMethod.Post, "admin/v1/replay/" + Uri.EscapeDataString(requestId))
        {
            Content = new ByteArrayContent(body) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } },
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        string text;
        int status;
        try
        {
            using var response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
            status = (int)response.StatusCode;
            text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            Console.Error.WriteLine($"beamline replay: {baseUri} could not be reached: {e.Message}");
            return Failed;
        }
        JsonElement root;
        try
        {
            using var document = JsonDocument.Parse(text);
            root = document.RootElement.Clone();
        }
        catch (JsonException)
        {
            Console.Error.WriteLine($"beamline replay: HTTP {status}, not a JSON answer: {text}");
            return Failed;
        }
        if (status != 200 || !root.TryGetProperty("ok", out var ok) || ok.ValueKind != JsonValueKind.True)
        {
            var error = root.TryGetProperty("error", out var e) ? e : default;
            var code = error.ValueKind == JsonValueKind.Object && error.TryGetProperty("code", out var c) ? c.GetString() : null;
            var message = error.ValueKind == JsonValueKind.Object && error.TryGetProperty("message", out var m) ? m.GetString() : text;
            var field = error.ValueKind == JsonValueKind.Object && error.TryGetProperty("details", out var details)
                && details.ValueKind == JsonValueKind.Object && details.TryGetProperty("field", out var f) ? f.GetString() : null;
            Console.Error.WriteLine($"beamline replay: {code ?? "error"} (HTTP {status}): {message}");
            // A refused option (an ambiguous id needs --tenant) is a usage error; a request that cannot be replayed is not.
            return status == 404 ? NotFound : status == 400 && field is "tenant_id" or "provider" or "dry_run" ? Usage : Failed;
        }
        return Print(root);
    }

    private static int Print(JsonElement root)
    {
        var output = new StringBuilder();
        output.Append(CultureInfo.InvariantCulture, $"request {Text(root, "request_id")} (tenant {Text(root, "tenant_id")})\n");
        var original = root.GetProperty("original");
        output.Append("original: ").Append(Side(original)).Append('\n');
        if (root.GetProperty("dry_run").GetBoolean())
        {
            var decision = root.GetProperty("decision");
            var decided = Text(decision, "status") == "ok";
            output.Append(decided
                ? string.Create(CultureInfo.InvariantCulture,
                    $"dry run: provider {Text(decision, "provider_id")} (reason {Text(decision, "reason")}, policy {Text(decision, "policy_id")}, expected cost ${decision.GetProperty("expected_cost").GetDecimal()})\n")
                : $"dry run: {Text(decision, "status")}: {Text(decision, "error")}\n");
            Console.Out.Write(output.ToString());
            return decided ? 0 : Failed;
        }
        var replay = root.GetProperty("replay");
        output.Append(CultureInfo.InvariantCulture, $"replay {Text(replay, "request_id")}: ").Append(Side(replay)).Append('\n');
        var diff = root.GetProperty("diff");
        if (diff.ValueKind == JsonValueKind.Null)
        {
            output.Append(original.GetProperty("stream").GetBoolean()
                ? "diff: none (the original was streamed: its answer's text is not kept)\n"
                : "diff: none (one side has no answer)\n");
        }
        else if (diff.GetString() is { Length: > 0 } changes)
        {
            output.Append("diff:\n").Append(changes);
            if (!changes.EndsWith('\n'))
            {
                output.Append('\n');
            }
        }
        else
        {
            output.Append("diff: none (the answers are the same)\n");
        }
        Console.Out.Write(output.ToString());
        return Text(replay, "status") == "ok" ? 0 : Failed;
    }

    private static string Side(JsonElement side)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"provider {Text(side, "provider_id")}, model {Text(side, "model")}, status {Text(side, "status")}");
        if (side.TryGetProperty("error", out var error))
        {
            text.Append(CultureInfo.InvariantCulture, $" ({error.GetString()})");
        }
        text.Append(CultureInfo.InvariantCulture, $", cost ${side.GetProperty("cost_usd").GetDecimal()}");
        if (side.GetProperty("usage") is { ValueKind: JsonValueKind.Object } usage)
        {
            text.Append(CultureInfo.InvariantCulture,
                $", tokens {usage.GetProperty("input_tokens").GetInt64()} in / {usage.GetProperty("output_tokens").GetInt64()} out");
        }
        return text.ToString();
    }

    private static string Text(JsonElement parent, string name)
        => parent.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString()! : "-";
}
