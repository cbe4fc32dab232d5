using System.Buffers;
using System.Text.Json;
using Beamline.Tenancy.Internal;
using Microsoft.AspNetCore.Http;

namespace Beamline.Tenancy.Admin;

/// <summary>The admin API's JSON: the CP1 envelope (<c>ok</c>, <c>error{code,message,details}</c>) and the entity shapes.</summary>
internal static class AdminJson
{
    public static Task WriteOkAsync(HttpContext context, int status, Action<Utf8JsonWriter>? writeMembers)
        => WriteAsync(context, status, writer =>
        {
            writer.WriteStartObject();
            writer.WriteBoolean("ok", true);
            writeMembers?.Invoke(writer);
            writer.WriteEndObject();
        });

    /// <summary>The CP1 error shape; the same as Beamline.Host's <c>Cp1Error</c>, which this project cannot reference.</summary>
    public static Task WriteErrorAsync(HttpContext context, int status, string code, string message, string? field = null)
        => WriteAsync(context, status, writer =>
        {
            writer.WriteStartObject();
            writer.WriteBoolean("ok", false);
            writer.WriteStartObject("error");
            writer.WriteString("code", code);
            writer.WriteString("message", message);
            writer.WriteStartObject("details");
            if (field is not null)
            {
                writer.WriteString("field", field);
            }
            writer.WriteEndObject();
            writer.WriteEndObject();
            writer.WriteEndObject();
        });

    public static void WriteTenant(Utf8JsonWriter writer, TenantSnapshot tenant)
    {
        writer.WriteStartObject();
        writer.WriteString("id", tenant.Id);
        writer.WriteString("name", tenant.Name);
        writer.WriteString("default_policy", tenant.DefaultPolicyId);
        TenancyJson.WriteLimits(writer, "limits", tenant.Limits);
        writer.WriteStartArray("teams");
        foreach (var team in tenant.Teams.Values.OrderBy(t => t.Id, StringComparer.Ordinal))
        {
            WriteTeam(writer, team);
        }
        writer.WriteEndArray();
        writer.WriteStartArray("policies");
        foreach (var policyId in tenant.Policies.Keys.Order(StringComparer.Ordinal))
        {
            writer.WriteStringValue(policyId);
        }
        writer.WriteEndArray();
        writer.WriteString("source", tenant.Source);
        TenancyJson.WriteTime(writer, "created_at", tenant.CreatedAt);
        TenancyJson.WriteTime(writer, "updated_at", tenant.UpdatedAt);
        writer.WriteEndObject();
    }

    public static void WriteTeam(Utf8JsonWriter writer, TeamSnapshot team)
    {
        writer.WriteStartObject();
        writer.WriteString("id", team.Id);
        writer.WriteString("tenant_id", team.TenantId);
        writer.WriteString("name", team.Name);
        TenancyJson.WriteLimits(writer, "limits", team.Limits);
        TenancyJson.WriteLimits(writer, "effective_limits", team.EffectiveLimits);
        writer.WriteString("source", team.Source);
        TenancyJson.WriteTime(writer, "created_at", team.CreatedAt);
        TenancyJson.WriteTime(writer, "updated_at", team.UpdatedAt);
        writer.WriteEndObject();
    }

    /// <summary>A key's metadata; there is nothing secret in <see cref="ApiKeyInfo"/> to leak.</summary>
    public static void WriteKey(Utf8JsonWriter writer, ApiKeyInfo key, DateTimeOffset now)
    {
        writer.WriteStartObject();
        writer.WriteString("key_id", key.KeyId);
        writer.WriteString("tenant_id", key.TenantId);
        writer.WriteString("team_id", key.TeamId);
        writer.WriteString("name", key.Name);
        writer.WriteString("status", key.StatusAt(now));
        TenancyJson.WriteLimits(writer, "limits", key.Limits);
        TenancyJson.WriteLimits(writer, "effective_limits", key.EffectiveLimits);
        writer.WriteString("source", key.Source);
        TenancyJson.WriteTime(writer, "created_at", key.CreatedAt);
        TenancyJson.WriteTime(writer, "expires_at", key.ExpiresAt);
        TenancyJson.WriteTime(writer, "revoked_at", key.RevokedAt);
        writer.WriteEndObject();
    }

    /// <summary>Reads the body up to <paramref name="limit"/> bytes and parses it; 400-worthy problems throw <see cref="TenancyException"/>.</summary>
    public static async Task<JsonDocument> ReadBodyAsync(HttpContext context, int limit)
    {
        var text = await ReadBodyTextAsync(context, limit).ConfigureAwait(false);
        try
        {
            return JsonDocument.Parse(text, TenancyJson.DocumentOptions);
        }
        catch (JsonException error)
        {
            throw TenancyException.Invalid("body", $"is not valid JSON: {error.Message}");
        }
    }

    public static async Task<string> ReadBodyTextAsync(HttpContext context, int limit)
    {
        if (context.Request.ContentLength > limit)
        {
            throw TenancyException.Invalid("body", $"is longer than {limit} bytes");
        }
        var buffer = new ArrayBufferWriter<byte>(4096);
        while (true)
        {
            var read = await context.Request.Body.ReadAsync(buffer.GetMemory(4096), context.RequestAborted).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }
            buffer.Advance(read);
            if (buffer.WrittenCount > limit)
            {
                throw TenancyException.Invalid("body", $"is longer than {limit} bytes");
            }
        }
        if (buffer.WrittenCount == 0)
        {
            throw TenancyException.Invalid("body", "is empty; a JSON object is expected");
        }
        try
        {
            return new System.Text.UTF8Encoding(false, throwOnInvalidBytes: true).GetString(buffer.WrittenSpan);
        }
        catch (System.Text.DecoderFallbackException)
        {
            throw TenancyException.Invalid("body", "is not valid UTF-8");
        }
    }

    private static Task WriteAsync(HttpContext context, int status, Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            write(writer);
        }
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = buffer.WrittenCount;
        return context.Response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted).AsTask();
    }
}
