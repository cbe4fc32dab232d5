using System.Buffers;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Unicode;
using Beamline.Dispatch;
using Beamline.Host.Http;
using Beamline.Worker.V2;
using Google.Protobuf;

namespace Beamline.Host.Blocks;

/// <summary>
/// The JSON form of a block, shared by <c>POST /v1/blocks</c> and <c>beamline exec</c>:
/// <c>{"type","tenant_id","pool","payload","deadline_ms","block_id","metadata"}</c> in, and
/// <c>{"ok":true,"result":{...}}</c> or the CP1 error shape out.
/// </summary>
public static class BlockJson
{
    /// <summary>The pool used when a request names none.</summary>
    public const string DefaultPool = "cpu";

    /// <summary>
    /// Reads a block request. <c>payload</c> is base64 when it is a JSON string and the UTF-8 JSON
    /// text itself when it is any other JSON value. Throws <see cref="BlockRequestException"/>.
    /// </summary>
    public static ExecRequest ParseRequest(ReadOnlySpan<byte> json)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json.ToArray(), new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException e)
        {
            throw new BlockRequestException("$", $"the body is not valid JSON: {e.Message}");
        }
        using (document)
        {
            try
            {
                return FromElement(document.RootElement);
            }
            catch (InvalidOperationException e)
            {
                // System.Text.Json validates UTF-8 inside strings lazily, when they are read.
                throw new BlockRequestException("$", $"the body is not valid UTF-8 JSON: {e.Message}");
            }
        }
    }

    private static ExecRequest FromElement(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new BlockRequestException("$", "the body must be a JSON object");
        }
        var request = new ExecRequest
        {
            Type = RequiredString(root, "type"),
            TenantId = RequiredString(root, "tenant_id"),
            Pool = OptionalString(root, "pool") ?? DefaultPool,
            BlockId = OptionalString(root, "block_id") ?? Guid.NewGuid().ToString("N"),
        };
        if (!PoolNames.IsValid(request.Pool))
        {
            throw new BlockRequestException("pool", $"'pool' must be {PoolNames.Rule}");
        }
        if (root.TryGetProperty("payload", out var payload))
        {
            request.Payload = payload.ValueKind switch
            {
                JsonValueKind.String => DecodeBase64(payload),
                JsonValueKind.Null => ByteString.Empty,
                _ => RawJson(payload),
            };
        }
        if (root.TryGetProperty("deadline_ms", out var deadline))
        {
            if (deadline.ValueKind != JsonValueKind.Number || !deadline.TryGetUInt32(out var ms))
            {
                throw new BlockRequestException("deadline_ms", "'deadline_ms' must be a whole number of milliseconds from 0 to 4294967295");
            }
            request.DeadlineMs = ms;
        }
        if (root.TryGetProperty("metadata", out var metadata) && metadata.ValueKind != JsonValueKind.Null)
        {
            if (metadata.ValueKind != JsonValueKind.Object)
            {
                throw new BlockRequestException("metadata", "'metadata' must be an object of strings");
            }
            foreach (var entry in metadata.EnumerateObject())
            {
                if (entry.Value.ValueKind != JsonValueKind.String)
                {
                    throw new BlockRequestException($"metadata.{entry.Name}", $"'metadata.{entry.Name}' must be a string");
                }
                request.Metadata[entry.Name] = entry.Value.GetString()!;
            }
        }
        return request;
    }

    private static string RequiredString(JsonElement root, string name)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            throw new BlockRequestException(name, $"missing required field: {name}");
        }
        if (value.ValueKind != JsonValueKind.String || value.GetString() is not { Length: > 0 } text)
        {
            throw new BlockRequestException(name, $"'{name}' must be a non-empty string");
        }
        return text;
    }

    private static string? OptionalString(JsonElement root, string name)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        if (value.ValueKind != JsonValueKind.String || value.GetString() is not { Length: > 0 } text)
        {
            throw new BlockRequestException(name, $"'{name}' must be a non-empty string");
        }
        return text;
    }

    private static ByteString RawJson(JsonElement payload)
    {
        // The bytes as sent, without a round trip through UTF-16.
        var raw = JsonMarshal.GetRawUtf8Value(payload);
        if (!Utf8.IsValid(raw))
        {
            throw new BlockRequestException("payload", "'payload' is not valid UTF-8 JSON");
        }
        return ByteString.CopyFrom(raw);
    }

    private static ByteString DecodeBase64(JsonElement payload)
    {
        if (!payload.TryGetBytesFromBase64(out var bytes))
        {
            throw new BlockRequestException("payload", "'payload' as a string must be base64; send JSON values as JSON");
        }
        return ByteString.CopyFrom(bytes);
    }

    /// <summary>The HTTP status of a result: 200 when it succeeded, else by its error code.</summary>
    public static int HttpStatusFor(ExecResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        return result.Status == ExecStatus.Ok ? 200 : ExecErrorCodes.HttpStatusFor(result.ErrorCode);
    }

    /// <summary>Writes a result: <c>{"ok":true,"result":{...}}</c>, or the CP1 error shape when the block failed.</summary>
    public static void WriteResult(IBufferWriter<byte> output, ExecResult result, string mode)
    {
        ArgumentNullException.ThrowIfNull(result);
        using var writer = new Utf8JsonWriter(output);
        if (result.Status != ExecStatus.Ok)
        {
            Cp1Error.Write(writer, result.ErrorCode.Length > 0 ? result.ErrorCode : ExecErrorCodes.InternalError,
                result.ErrorMessage, w =>
                {
                    w.WriteString("block_id", result.BlockId);
                    w.WriteString("status", StatusName(result.Status));
                    w.WriteString("worker_id", result.WorkerId);
                    w.WriteString("mode", mode);
                });
            return;
        }
        writer.WriteStartObject();
        writer.WriteBoolean("ok", true);
        writer.WriteStartObject("result");
        writer.WriteString("block_id", result.BlockId);
        writer.WriteString("status", StatusName(result.Status));
        writer.WriteBase64String("output", result.Output.Span);
        writer.WriteNumber("latency_us", result.LatencyUs);
        writer.WriteNumber("cost", result.Cost);
        writer.WriteString("worker_id", result.WorkerId);
        writer.WriteString("mode", mode);
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    /// <summary>Writes a request error in the CP1 shape.</summary>
    public static void WriteRequestError(IBufferWriter<byte> output, BlockRequestException error)
    {
        ArgumentNullException.ThrowIfNull(error);
        using var writer = new Utf8JsonWriter(output);
        Cp1Error.Write(writer, Cp1Error.InvalidRequest, error.Message, w => w.WriteString("field", error.Field));
    }

    private static string StatusName(ExecStatus status) => status switch
    {
        ExecStatus.Ok => "ok",
        ExecStatus.Error => "error",
        ExecStatus.Timeout => "timeout",
        ExecStatus.Cancelled => "cancelled",
        _ => "unspecified",
    };
}
