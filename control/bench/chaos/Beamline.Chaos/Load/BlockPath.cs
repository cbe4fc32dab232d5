using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Beamline.Chaos.Cluster;

namespace Beamline.Chaos.Load;

/// <summary>
/// Blocks over NATS through a control plane: <c>POST /v1/blocks</c> (the control plane sends the
/// block on <c>caf.exec.v2.&lt;pool&gt;</c> to a worker's queue group). The client picks the live
/// control planes in turn; when a connection fails before any answer (its control plane died) it
/// sends the same <c>block_id</c> to the next one, once, as a client behind a load balancer would.
/// </summary>
public sealed class BlockPath : ILoadPath
{
    /// <summary>The SQL each block runs: one row per execution, no key, so that a second run is a second row.</summary>
    public const string InsertSql = "INSERT INTO runs(id, path) VALUES (?, ?)";

    private readonly ChaosCluster _cluster;
    private readonly HttpClient _http;
    private readonly ChaosOptions _options;
    private readonly Func<string, JsonObject> _body;
    private int _next;

    private BlockPath(string name, string description, bool writesRows, ChaosCluster cluster, HttpClient http, ChaosOptions options,
        Func<string, JsonObject> body)
    {
        Name = name;
        Description = description;
        WritesRows = writesRows;
        _cluster = cluster;
        _http = http;
        _options = options;
        _body = body;
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public string Description { get; }

    /// <inheritdoc />
    public bool WritesRows { get; }

    /// <summary>A <c>sql.exec</c> INSERT of the request id on pool io: a non-idempotent block.</summary>
    public static BlockPath SqlInsert(ChaosCluster cluster, HttpClient http, ChaosOptions options) => new(
        "blocks", "POST /v1/blocks (sql.exec INSERT of the id, pool io) through a control plane, over NATS to a worker; one retry on another control plane when the connection fails",
        writesRows: true, cluster, http, options, id => new JsonObject
        {
            ["type"] = "sql.exec",
            ["tenant_id"] = ChaosCluster.Tenant,
            ["pool"] = "io",
            ["block_id"] = id,
            ["deadline_ms"] = options.DeadlineMs,
            ["payload"] = new JsonObject { ["sql"] = InsertSql, ["params"] = new JsonArray(id, "blocks") },
        });

    /// <summary>A hung executor on pool io: <see cref="ChaosOptions.HangType"/> with its payload and the usual deadline.</summary>
    public static BlockPath Hung(ChaosCluster cluster, HttpClient http, ChaosOptions options) => new(
        "hung", $"POST /v1/blocks of {options.HangType} ({options.HangPayload}) on pool io with deadline {options.DeadlineMs} ms: a block that does not return by itself",
        writesRows: false, cluster, http, options, id => new JsonObject
        {
            ["type"] = options.HangType,
            ["tenant_id"] = ChaosCluster.Tenant,
            ["pool"] = "io",
            ["block_id"] = id,
            ["deadline_ms"] = options.DeadlineMs,
            // A string payload is base64 in /v1/blocks: the executor gets these bytes as they are.
            ["payload"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(options.HangPayload)),
        });

    /// <inheritdoc />
    public int Executions(string id) => 0;

    /// <inheritdoc />
    public async Task<Outcome> SendAsync(string id, CancellationToken cancellationToken)
    {
        var body = _body(id).ToJsonString();
        string lastFailure = "no control plane";
        for (var attempt = 1; attempt <= 2; attempt++)
        {
            var controlPlanes = _cluster.LiveControlPlanes;
            if (controlPlanes.Count == 0)
            {
                return Outcome.Lost(lastFailure, attempt - 1);
            }
            var target = controlPlanes[(int)((uint)Interlocked.Increment(ref _next) % (uint)controlPlanes.Count)];
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(target.BaseAddress, "v1/blocks"))
            {
                Content = new StringContent(body, Encoding.UTF8, "application/json"),
            };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ChaosCluster.Key);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_options.AnswerTimeout);
            try
            {
                using var response = await _http.SendAsync(request, timeout.Token).ConfigureAwait(false);
                var text = await response.Content.ReadAsStringAsync(timeout.Token).ConfigureAwait(false);
                return Read(text, attempt);
            }
            catch (HttpRequestException e)
            {
                // No answer on this connection (refused, reset): the control plane is gone.
                lastFailure = e.HttpRequestError.ToString();
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return Outcome.Lost("client timeout", attempt);
            }
        }
        return Outcome.Lost(lastFailure, 2);
    }

    private static Outcome Read(string text, int attempt)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            var root = document.RootElement;
            if (root.TryGetProperty("ok", out var ok) && ok.ValueKind == JsonValueKind.True)
            {
                return Outcome.Ok(attempt);
            }
            if (root.TryGetProperty("error", out var error) && error.TryGetProperty("code", out var code))
            {
                // A block that failed carries its own code (deadline_exceeded, resource_unavailable, ...).
                return Outcome.Error(code.GetString() ?? "error", attempt);
            }
        }
        catch (JsonException)
        {
            // Not JSON: still an answer, though not one of the contract.
        }
        return Outcome.Error("not_cp1_json", attempt);
    }
}
