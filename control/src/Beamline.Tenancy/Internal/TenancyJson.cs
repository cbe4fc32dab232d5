using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json;

namespace Beamline.Tenancy.Internal;

/// <summary>Reading and writing the JSON members shared by the config file, the database and the admin API.</summary>
internal static class TenancyJson
{
    public static readonly JsonDocumentOptions DocumentOptions = new()
    {
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        MaxDepth = 64,
    };

    private static readonly string[] LimitMembers =
    [
        "requests_per_minute", "tokens_per_minute", "monthly_budget_usd", "daily_budget_usd",
        "max_concurrent_requests", "allowed_policies", "allowed_providers",
    ];

    /// <summary>
    /// Ids of tenants, teams, policies and providers: 1–128 of <c>[A-Za-z0-9_.:-]</c>, but not
    /// <c>.</c> or <c>..</c>. Those two are URL dot segments: <c>/admin/v1/tenants/..</c> resolves to
    /// <c>/admin/v1/tenants</c>, so an entry with such an id could never be read, changed or deleted.
    /// One rule for the configuration file, the database and the admin API.
    /// </summary>
    public static bool IsValidId(string? id)
    {
        if (string.IsNullOrEmpty(id) || id.Length > 128 || id is "." or "..")
        {
            return false;
        }
        foreach (var c in id)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.' or ':'))
            {
                return false;
            }
        }
        return true;
    }

    public static string RequireId(JsonElement parent, string member, string path)
    {
        var id = OptionalString(parent, member, path) ?? throw TenancyException.Invalid(Join(path, member), "is required");
        return CheckId(id, Join(path, member));
    }

    public static string CheckId(string id, string field)
        => IsValidId(id) ? id : throw TenancyException.Invalid(field, "must be 1-128 characters of A-Z a-z 0-9 _ . : -, and not . or ..");

    public static string? OptionalString(JsonElement parent, string member, string path)
    {
        if (!parent.TryGetProperty(member, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        return value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : throw TenancyException.Invalid(Join(path, member), "must be a string");
    }

    public static string? OptionalId(JsonElement parent, string member, string path)
        => OptionalString(parent, member, path) is { } id ? CheckId(id, Join(path, member)) : null;

    public static DateTimeOffset? OptionalTime(JsonElement parent, string member, string path)
    {
        var text = OptionalString(parent, member, path);
        if (text is null)
        {
            return null;
        }
        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time)
            ? time.ToUniversalTime()
            : throw TenancyException.Invalid(Join(path, member), "must be an ISO 8601 time, e.g. 2030-01-31T00:00:00Z");
    }

    public static bool OptionalBool(JsonElement parent, string member, string path)
    {
        if (!parent.TryGetProperty(member, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return false;
        }
        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw TenancyException.Invalid(Join(path, member), "must be true or false"),
        };
    }

    public static void RequireObject(JsonElement element, string path)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw TenancyException.Invalid(path.Length == 0 ? "body" : path, "must be a JSON object");
        }
    }

    /// <summary>Refuses members outside <paramref name="known"/>, so that a typo is an error rather than a silent default.</summary>
    public static void RejectUnknown(JsonElement element, string path, params ReadOnlySpan<string> known)
    {
        foreach (var property in element.EnumerateObject())
        {
            if (!known.Contains(property.Name))
            {
                throw TenancyException.Invalid(Join(path, property.Name), "is not a known member");
            }
        }
    }

    /// <summary>The <c>limits</c> member of <paramref name="parent"/>; absent or null means none set.</summary>
    public static TenancyLimits ReadLimitsMember(JsonElement parent, string path)
        => parent.TryGetProperty("limits", out var limits) && limits.ValueKind != JsonValueKind.Null
            ? ReadLimits(limits, Join(path, "limits"))
            : TenancyLimits.None;

    public static TenancyLimits ReadLimits(JsonElement limits, string path)
    {
        RequireObject(limits, path);
        RejectUnknown(limits, path, LimitMembers);
        return new TenancyLimits
        {
            RequestsPerMinute = (int?)PositiveInteger(limits, "requests_per_minute", path, int.MaxValue),
            TokensPerMinute = PositiveInteger(limits, "tokens_per_minute", path, long.MaxValue),
            MonthlyBudgetUsd = Budget(limits, "monthly_budget_usd", path),
            DailyBudgetUsd = Budget(limits, "daily_budget_usd", path),
            MaxConcurrentRequests = (int?)PositiveInteger(limits, "max_concurrent_requests", path, int.MaxValue),
            AllowedPolicies = IdList(limits, "allowed_policies", path),
            AllowedProviders = IdList(limits, "allowed_providers", path),
        };
    }

    public static void WriteLimits(Utf8JsonWriter writer, string name, TenancyLimits limits)
    {
        writer.WriteStartObject(name);
        WriteLimitMembers(writer, limits);
        writer.WriteEndObject();
    }

    /// <summary>The limits as the compact JSON text stored in the database.</summary>
    public static string LimitsToJson(TenancyLimits limits)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(128);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            WriteLimitMembers(writer, limits);
            writer.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    public static TenancyLimits LimitsFromJson(string json)
    {
        using var document = JsonDocument.Parse(json, DocumentOptions);
        return ReadLimits(document.RootElement, "limits");
    }

    public static void WriteTime(Utf8JsonWriter writer, string name, DateTimeOffset? time)
    {
        if (time is { } value)
        {
            writer.WriteString(name, value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
        }
        else
        {
            writer.WriteNull(name);
        }
    }

    public static string Join(string path, string member) => path.Length == 0 ? member : string.Concat(path, ".", member);

    public static string Index(string path, int index) => string.Create(CultureInfo.InvariantCulture, $"{path}[{index}]");

    private static void WriteLimitMembers(Utf8JsonWriter writer, TenancyLimits limits)
    {
        if (limits.RequestsPerMinute is { } rpm)
        {
            writer.WriteNumber("requests_per_minute", rpm);
        }
        if (limits.TokensPerMinute is { } tpm)
        {
            writer.WriteNumber("tokens_per_minute", tpm);
        }
        if (limits.MonthlyBudgetUsd is { } budget)
        {
            writer.WriteNumber("monthly_budget_usd", budget);
        }
        if (limits.DailyBudgetUsd is { } daily)
        {
            writer.WriteNumber("daily_budget_usd", daily);
        }
        if (limits.MaxConcurrentRequests is { } concurrent)
        {
            writer.WriteNumber("max_concurrent_requests", concurrent);
        }
        WriteList(writer, "allowed_policies", limits.AllowedPolicies);
        WriteList(writer, "allowed_providers", limits.AllowedProviders);
    }

    private static void WriteList(Utf8JsonWriter writer, string name, ImmutableArray<string>? list)
    {
        if (list is not { } items)
        {
            return;
        }
        writer.WriteStartArray(name);
        foreach (var item in items)
        {
            writer.WriteStringValue(item);
        }
        writer.WriteEndArray();
    }

    private static long? PositiveInteger(JsonElement parent, string member, string path, long max)
    {
        if (!parent.TryGetProperty(member, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out var number) || number <= 0 || number > max)
        {
            throw TenancyException.Invalid(Join(path, member), "must be a positive integer (omit it or use null to inherit)");
        }
        return number;
    }

    private static decimal? Budget(JsonElement parent, string member, string path)
    {
        if (!parent.TryGetProperty(member, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetDecimal(out var number) || number < 0)
        {
            throw TenancyException.Invalid(Join(path, member), "must be a non-negative number of US dollars");
        }
        return number;
    }

    private static ImmutableArray<string>? IdList(JsonElement parent, string member, string path)
    {
        if (!parent.TryGetProperty(member, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        var field = Join(path, member);
        if (value.ValueKind != JsonValueKind.Array)
        {
            throw TenancyException.Invalid(field, "must be an array of ids");
        }
        var builder = ImmutableArray.CreateBuilder<string>(value.GetArrayLength());
        var index = 0;
        foreach (var item in value.EnumerateArray())
        {
            var itemField = Index(field, index++);
            if (item.ValueKind != JsonValueKind.String)
            {
                throw TenancyException.Invalid(itemField, "must be a string");
            }
            var id = CheckId(item.GetString()!, itemField);
            if (!builder.Contains(id))
            {
                builder.Add(id);
            }
        }
        return builder.ToImmutable();
    }
}
