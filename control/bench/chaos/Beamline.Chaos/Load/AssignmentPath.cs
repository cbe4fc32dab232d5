using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Beamline.Chaos.Cluster;
using NATS.Client.Core;

namespace Beamline.Chaos.Load;

/// <summary>
/// CP1 assignments, with the harness as the CP1 router: an ExecAssignment (<c>sql.exec</c> INSERT
/// of the id) on <see cref="ChaosOptions.AssignmentSubject"/>, its ExecResult awaited on
/// <c>caf.exec.result.v1</c>. When no result comes within the deadline plus 3 s the same
/// <c>assignment_id</c> is sent once more, as the router's retry does (<c>options.retry</c>): a
/// worker that already ran it must answer from its outcome, not run it again.
/// With <see cref="AssignmentTransport.JetStream"/> each send is a JetStream publish with
/// <c>Nats-Msg-Id</c> = the assignment id, retried until the stream acknowledges it.
/// </summary>
public sealed class AssignmentPath(ChaosCluster cluster, ResultListener results, ChaosOptions options) : ILoadPath
{
    private static readonly TimeSpan PublishRetry = TimeSpan.FromMilliseconds(200);

    /// <inheritdoc />
    public string Name => "cp1";

    /// <inheritdoc />
    public string Description => options.Assignments == AssignmentTransport.Core
        ? $"CP1 ExecAssignment (sql.exec INSERT of the id) published on {options.AssignmentSubject} (core NATS), result on caf.exec.result.v1; the same assignment_id resent once when no result came"
        : $"CP1 ExecAssignment (sql.exec INSERT of the id) published to JetStream on {options.AssignmentSubject} with Nats-Msg-Id = assignment_id (retried until the PubAck), result on caf.exec.result.v1; resent once with the same id when no result came";

    /// <inheritdoc />
    public bool WritesRows => true;

    /// <inheritdoc />
    public int Executions(string id) => 0;

    /// <inheritdoc />
    public async Task<Outcome> SendAsync(string id, CancellationToken cancellationToken)
    {
        var result = results.ForAssignment(id);
        var body = Encoding.UTF8.GetBytes(Assignment(id, options.DeadlineMs).ToJsonString());
        var waits = new[] { TimeSpan.FromMilliseconds(options.DeadlineMs + 3000), options.AnswerTimeout };
        var why = "no result";
        for (var attempt = 1; attempt <= waits.Length; attempt++)
        {
            var until = DateTime.UtcNow + waits[attempt - 1];
            if (!await PublishAsync(id, body, until, cancellationToken).ConfigureAwait(false))
            {
                why = "not published";
            }
            var left = until - DateTime.UtcNow;
            if (left > TimeSpan.Zero && await Task.WhenAny(result, Task.Delay(left, cancellationToken)).ConfigureAwait(false) == result)
            {
                var answer = await result.ConfigureAwait(false);
                return answer.Status == "success" ? Outcome.Ok(attempt) : Outcome.Error(answer.Code, attempt);
            }
            cancellationToken.ThrowIfCancellationRequested();
        }
        return Outcome.Lost(results.AckedBy(id) is { } worker ? $"{why}; acked by {worker}" : $"{why}; never acked", waits.Length);
    }

    /// <summary>The ExecAssignment of request <paramref name="id"/>, as the CP1 router builds it.</summary>
    public static JsonObject Assignment(string id, int deadlineMs) => new()
    {
        ["version"] = "1",
        ["assignment_id"] = id,
        ["request_id"] = id,
        ["tenant_id"] = ChaosCluster.Tenant,
        ["executor"] = new JsonObject { ["provider_id"] = "chaos", ["channel"] = "nats" },
        ["job"] = new JsonObject
        {
            ["type"] = "sql.exec",
            ["payload"] = new JsonObject { ["sql"] = BlockPath.InsertSql, ["params"] = new JsonArray(id, "cp1") },
        },
        ["options"] = new JsonObject { ["pool"] = "io", ["deadline_ms"] = deadlineMs },
    };

    // Core: one publish (NATS.Net buffers it while reconnecting). JetStream: until the stream's PubAck.
    private async Task<bool> PublishAsync(string id, byte[] body, DateTime until, CancellationToken cancellationToken)
    {
        var connection = cluster.Client;
        while (true)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(2));
            try
            {
                if (options.Assignments == AssignmentTransport.Core)
                {
                    await connection.PublishAsync(options.AssignmentSubject, body, cancellationToken: timeout.Token).ConfigureAwait(false);
                    return true;
                }
                var headers = new NatsHeaders { ["Nats-Msg-Id"] = id };
                var reply = await connection.RequestAsync<byte[], byte[]>(options.AssignmentSubject, body, headers,
                    replyOpts: new NatsSubOpts { Timeout = TimeSpan.FromSeconds(2) }, cancellationToken: timeout.Token).ConfigureAwait(false);
                if (IsPubAck(reply.Data))
                {
                    return true;
                }
            }
            catch (Exception e) when (e is NatsException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                // Disconnected, no stream yet, or no PubAck in time: the same id again shortly.
            }
            if (DateTime.UtcNow + PublishRetry >= until)
            {
                return false;
            }
            await Task.Delay(PublishRetry, cancellationToken).ConfigureAwait(false);
        }
    }

    private static bool IsPubAck(byte[]? data)
    {
        if (data is not { Length: > 0 })
        {
            return false;
        }
        try
        {
            using var document = JsonDocument.Parse(data);
            return document.RootElement.TryGetProperty("stream", out _) && !document.RootElement.TryGetProperty("error", out _);
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
