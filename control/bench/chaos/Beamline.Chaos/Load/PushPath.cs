using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Beamline.Chaos.Cluster;

namespace Beamline.Chaos.Load;

/// <summary>
/// CP1 decide with <c>push_assignment: true</c> through a control plane (<c>POST
/// /api/v1/routes/decide</c>): the control plane publishes the ExecAssignment and a worker answers
/// on <c>caf.exec.result.v1</c>, matched by <c>request_id</c>. A push may only carry a CP1 task
/// type (chat), which the workers have no executor for: every answer is a result with status
/// error (<c>unknown_executor</c>), and executions are counted as the assignments that answered
/// the request. A failed connection is sent again, once, to the next control plane.
/// </summary>
public sealed class PushPath(ChaosCluster cluster, HttpClient http, ResultListener results, ChaosOptions options) : ILoadPath
{
    private int _next;

    /// <inheritdoc />
    public string Name => "push";

    /// <inheritdoc />
    public string Description =>
        "POST /api/v1/routes/decide with push_assignment (task chat) through a control plane, which publishes the CP1 ExecAssignment; answer = the worker's result on caf.exec.result.v1 (unknown_executor: chat has no executor); one retry on another control plane when the connection fails";

    /// <inheritdoc />
    public bool WritesRows => false;

    /// <inheritdoc />
    public int Executions(string id) => results.AssignmentsAnswering(id);

    /// <inheritdoc />
    public async Task<Outcome> SendAsync(string id, CancellationToken cancellationToken)
    {
        var result = results.ForRequest(id);
        var body = new JsonObject
        {
            ["version"] = "1",
            ["tenant_id"] = ChaosCluster.Tenant,
            ["request_id"] = id,
            ["task"] = new JsonObject { ["type"] = "chat", ["payload"] = new JsonObject { ["text"] = "chaos" } },
            ["push_assignment"] = true,
        }.ToJsonString();
        var lastFailure = "no control plane";
        for (var attempt = 1; attempt <= 2; attempt++)
        {
            var controlPlanes = cluster.LiveControlPlanes;
            if (controlPlanes.Count == 0)
            {
                return Outcome.Lost(lastFailure, attempt - 1);
            }
            var target = controlPlanes[(int)((uint)Interlocked.Increment(ref _next) % (uint)controlPlanes.Count)];
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(target.BaseAddress, "api/v1/routes/decide"))
            {
                Content = new StringContent(body, Encoding.UTF8, "application/json"),
            };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ChaosCluster.Key);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(options.AnswerTimeout);
            string text;
            try
            {
                using var response = await http.SendAsync(request, timeout.Token).ConfigureAwait(false);
                text = await response.Content.ReadAsStringAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (HttpRequestException e)
            {
                lastFailure = e.HttpRequestError.ToString();
                continue;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return Outcome.Lost("client timeout", attempt);
            }
            if (Refusal(text) is { } code)
            {
                return Outcome.Error(code, attempt);
            }
            // Published: the answer is the worker's result.
            if (await Task.WhenAny(result, Task.Delay(options.AnswerTimeout, cancellationToken)).ConfigureAwait(false) == result)
            {
                var answer = await result.ConfigureAwait(false);
                return answer.Status == "success" ? Outcome.Ok(attempt) : Outcome.Error(answer.Code, attempt);
            }
            cancellationToken.ThrowIfCancellationRequested();
            return Outcome.Lost(results.AckedBy(id) is { } worker ? $"accepted by {worker}, no result" : "published, never acked", attempt);
        }
        return Outcome.Lost(lastFailure, 2);
    }

    // The CP1 error code of a decide that did not publish, or null when it published.
    private static string? Refusal(string text)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            var root = document.RootElement;
            if (root.TryGetProperty("error", out var error) && error.TryGetProperty("code", out var code))
            {
                return code.GetString() ?? "error";
            }
            if (root.TryGetProperty("decision", out var decision) && decision.TryGetProperty("metadata", out var metadata)
                && metadata.TryGetProperty("assignment", out var assignment) && assignment.GetString() == "published")
            {
                return null;
            }
            return "not_published";
        }
        catch (JsonException)
        {
            return "not_cp1_json";
        }
    }
}
