using System.Globalization;
using System.Text.Json;
using Beamline.Cp1;
using Beamline.Pipeline.Extensions;

namespace Beamline.Extensions.Registry;

/// <summary>
/// Reads and writes one registry entry in the upstream CP1 form,
/// <c>{id, type, subject, timeout_ms, retry, enabled, config, metadata}</c>; the files in
/// <c>fixtures/beamline-cp1/extensions/</c> load unchanged. The rules:
/// <list type="bullet">
/// <item><c>id</c> (required): 1–64 of <c>A-Z a-z 0-9 _ -</c> (it names a file and a URL segment:
/// no spaces, dots or wildcards); <c>health</c> is reserved (<c>/admin/v1/extensions/health</c>).</item>
/// <item><c>type</c> (required): <c>pre</c>, <c>validator</c>, <c>post</c> or <c>provider</c>.</item>
/// <item><c>subject</c>: a NATS subject without wildcards (<c>*</c>, <c>&gt;</c>), whitespace or empty
/// tokens, at most 255 characters; absent or null for a built-in (in-process) extension.</item>
/// <item><c>timeout_ms</c>: an integer 1–60000; absent or null means 100.</item>
/// <item><c>retry</c>: an integer 0–5; absent or null means 0.</item>
/// <item><c>enabled</c>: a boolean; absent or null means true.</item>
/// <item><c>config</c>, <c>metadata</c>: objects, or absent/null.</item>
/// </list>
/// Unknown members are ignored (a newer file still loads) and are not written back. Every
/// failure is an <see cref="ExtensionEntryException"/> whose CP1 error names the field.
/// </summary>
public static class ExtensionEntryJson
{
    /// <summary>The longest id.</summary>
    public const int MaxIdLength = 64;

    /// <summary>The longest subject.</summary>
    public const int MaxSubjectLength = 255;

    /// <summary>The largest <c>timeout_ms</c>.</summary>
    public const int MaxTimeoutMs = 60_000;

    /// <summary>The <c>timeout_ms</c> of an entry that gives none (the <see cref="ExtensionEntry"/> default).</summary>
    public const int DefaultTimeoutMs = 100;

    /// <summary>The largest <c>retry</c>.</summary>
    public const int MaxRetry = 5;

    /// <summary>The id no entry may have: <c>/admin/v1/extensions/health</c> is the health view.</summary>
    public const string ReservedId = "health";

    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 64 };

    /// <summary>Parses one entry from UTF-8 JSON.</summary>
    /// <exception cref="ExtensionEntryException">The text is not a JSON object or breaks a rule.</exception>
    public static ExtensionEntry Parse(ReadOnlySpan<byte> utf8Json, string? expectedId = null)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(utf8Json.ToArray(), DocumentOptions);
        }
        catch (JsonException e)
        {
            throw new ExtensionEntryException(new Cp1Error(Cp1ErrorCodes.InvalidRequest,
                $"the entry is not valid JSON: {e.Message}", null, Cp1ErrorTypes.InvalidJson));
        }
        using (document)
        {
            return Parse(document.RootElement, expectedId);
        }
    }

    /// <summary>
    /// Parses one entry. With <paramref name="expectedId"/> (the admin API's path id) an absent
    /// <c>id</c> takes it and a different one is refused. <see cref="ExtensionEntry.Config"/> and
    /// <see cref="ExtensionEntry.Metadata"/> are detached from <paramref name="element"/>'s document.
    /// </summary>
    /// <exception cref="ExtensionEntryException">The element is not an object or breaks a rule.</exception>
    public static ExtensionEntry Parse(JsonElement element, string? expectedId = null)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw new ExtensionEntryException(new Cp1Error(Cp1ErrorCodes.InvalidRequest,
                "an extension entry must be a JSON object", null, Cp1ErrorTypes.InvalidJson));
        }
        var id = ReadId(element, expectedId);
        return new ExtensionEntry
        {
            Id = id,
            Type = ReadType(element),
            Subject = ReadSubject(element),
            TimeoutMs = ReadInt(element, "timeout_ms", 1, MaxTimeoutMs, DefaultTimeoutMs),
            Retry = ReadInt(element, "retry", 0, MaxRetry, 0),
            Enabled = ReadEnabled(element),
            Config = ReadObject(element, "config"),
            Metadata = ReadObject(element, "metadata"),
        };
    }

    /// <summary>Null when <paramref name="id"/> is a valid entry id, else the reason (naming <c>id</c>).</summary>
    public static string? CheckId(string? id)
    {
        if (string.IsNullOrEmpty(id))
        {
            return "invalid field value: id must not be empty";
        }
        if (id.Length > MaxIdLength)
        {
            return string.Create(CultureInfo.InvariantCulture, $"invalid field value: id must be at most {MaxIdLength} characters (was {id.Length})");
        }
        foreach (var c in id)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c != '_' && c != '-')
            {
                return $"invalid field value: id '{id}' may hold only letters, digits, '_' and '-'";
            }
        }
        return id == ReservedId ? $"invalid field value: id '{ReservedId}' is reserved" : null;
    }

    /// <summary>Null when <paramref name="subject"/> is a valid NATS subject to serve on, else the reason.</summary>
    public static string? CheckSubject(string subject)
    {
        ArgumentNullException.ThrowIfNull(subject);
        if (subject.Length == 0)
        {
            return "invalid field value: subject must not be empty (leave it out for a built-in extension)";
        }
        if (subject.Length > MaxSubjectLength)
        {
            return string.Create(CultureInfo.InvariantCulture, $"invalid field value: subject must be at most {MaxSubjectLength} characters (was {subject.Length})");
        }
        var tokenLength = 0;
        foreach (var c in subject)
        {
            if (c == '.')
            {
                if (tokenLength == 0)
                {
                    return $"invalid field value: subject '{subject}' has an empty token";
                }
                tokenLength = 0;
                continue;
            }
            if (c is '*' or '>')
            {
                return $"invalid field value: subject '{subject}' must not hold the wildcard '{c}'";
            }
            if (char.IsWhiteSpace(c) || char.IsControl(c))
            {
                return $"invalid field value: subject '{subject}' must not hold whitespace or control characters";
            }
            tokenLength++;
        }
        return tokenLength == 0 ? $"invalid field value: subject '{subject}' has an empty token" : null;
    }

    /// <summary>Writes <paramref name="entry"/> as one JSON object.</summary>
    public static void Write(Utf8JsonWriter writer, ExtensionEntry entry)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteStartObject();
        WriteMembers(writer, entry);
        writer.WriteEndObject();
    }

    /// <summary>Writes <paramref name="entry"/>'s members into an object the caller opened (to add its own).</summary>
    public static void WriteMembers(Utf8JsonWriter writer, ExtensionEntry entry)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(entry);
        writer.WriteString("id", entry.Id);
        writer.WriteString("type", TypeName(entry.Type));
        if (entry.Subject is null)
        {
            writer.WriteNull("subject");
        }
        else
        {
            writer.WriteString("subject", entry.Subject);
        }
        writer.WriteNumber("timeout_ms", entry.TimeoutMs);
        writer.WriteNumber("retry", entry.Retry);
        writer.WriteBoolean("enabled", entry.Enabled);
        writer.WritePropertyName("config");
        WriteObject(writer, entry.Config);
        writer.WritePropertyName("metadata");
        WriteObject(writer, entry.Metadata);
    }

    /// <summary><paramref name="entry"/> as indented UTF-8 JSON, the form of a stored entry file.</summary>
    public static byte[] ToUtf8Bytes(ExtensionEntry entry)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            Write(writer, entry);
        }
        stream.WriteByte((byte)'\n');
        return stream.ToArray();
    }

    /// <summary>The lower-case name of a type, as entries write it.</summary>
    public static string TypeName(ExtensionType type) => type switch
    {
        ExtensionType.Pre => "pre",
        ExtensionType.Validator => "validator",
        ExtensionType.Post => "post",
        ExtensionType.Provider => "provider",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };

    private static string ReadId(JsonElement element, string? expectedId)
    {
        string? id;
        if (!element.TryGetProperty("id", out var member) || member.ValueKind == JsonValueKind.Null)
        {
            id = expectedId ?? throw Missing("id");
        }
        else if (member.ValueKind != JsonValueKind.String)
        {
            throw InvalidType("id", "a string");
        }
        else
        {
            id = member.GetString()!;
            if (expectedId is not null && id != expectedId)
            {
                throw InvalidValue("id", $"invalid field value: id '{id}' does not match the id in the path '{expectedId}'");
            }
        }
        return CheckId(id) is { } reason ? throw InvalidValue("id", reason) : id;
    }

    private static ExtensionType ReadType(JsonElement element)
    {
        if (!element.TryGetProperty("type", out var member) || member.ValueKind == JsonValueKind.Null)
        {
            throw Missing("type");
        }
        if (member.ValueKind != JsonValueKind.String)
        {
            throw InvalidType("type", "a string");
        }
        return member.GetString() switch
        {
            "pre" => ExtensionType.Pre,
            "validator" => ExtensionType.Validator,
            "post" => ExtensionType.Post,
            "provider" => ExtensionType.Provider,
            var other => throw InvalidValue("type", $"invalid field value: type must be one of pre, validator, post, provider (was '{other}')"),
        };
    }

    private static string? ReadSubject(JsonElement element)
    {
        if (!element.TryGetProperty("subject", out var member) || member.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        if (member.ValueKind != JsonValueKind.String)
        {
            throw InvalidType("subject", "a string or null");
        }
        var subject = member.GetString()!;
        return CheckSubject(subject) is { } reason ? throw InvalidValue("subject", reason) : subject;
    }

    private static int ReadInt(JsonElement element, string name, int min, int max, int absent)
    {
        if (!element.TryGetProperty(name, out var member) || member.ValueKind == JsonValueKind.Null)
        {
            return absent;
        }
        if (member.ValueKind != JsonValueKind.Number || !member.TryGetInt64(out var value))
        {
            throw InvalidType(name, "an integer");
        }
        if (value < min || value > max)
        {
            throw InvalidValue(name, string.Create(CultureInfo.InvariantCulture,
                $"invalid field value: {name} must be between {min} and {max} (was {value})"));
        }
        return (int)value;
    }

    private static bool ReadEnabled(JsonElement element)
    {
        if (!element.TryGetProperty("enabled", out var member) || member.ValueKind == JsonValueKind.Null)
        {
            return true;
        }
        return member.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw InvalidType("enabled", "a boolean"),
        };
    }

    private static JsonElement? ReadObject(JsonElement element, string name)
    {
        if (!element.TryGetProperty(name, out var member) || member.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        return member.ValueKind == JsonValueKind.Object ? member.Clone() : throw InvalidType(name, "an object");
    }

    private static void WriteObject(Utf8JsonWriter writer, JsonElement? value)
    {
        if (value is { } element)
        {
            element.WriteTo(writer);
        }
        else
        {
            writer.WriteNullValue();
        }
    }

    private static ExtensionEntryException Missing(string field) =>
        new(new Cp1Error(Cp1ErrorCodes.InvalidRequest, $"missing required field: {field}", field, Cp1ErrorTypes.RequiredFieldMissing));

    private static ExtensionEntryException InvalidType(string field, string expected) =>
        new(new Cp1Error(Cp1ErrorCodes.InvalidRequest, $"invalid field type: {field} must be {expected}", field, Cp1ErrorTypes.InvalidType));

    private static ExtensionEntryException InvalidValue(string field, string message) =>
        new(new Cp1Error(Cp1ErrorCodes.InvalidRequest, message, field, Cp1ErrorTypes.InvalidValue));
}

/// <summary>An extension entry that breaks a rule of <see cref="ExtensionEntryJson"/>; <see cref="Error"/> names the field.</summary>
public sealed class ExtensionEntryException : FormatException
{
    /// <summary>Creates the exception for <paramref name="error"/>.</summary>
    public ExtensionEntryException(Cp1Error error) : base(error?.Message)
    {
        ArgumentNullException.ThrowIfNull(error);
        Error = error;
    }

    /// <summary>The CP1 error: code <c>invalid_request</c>, the message, <c>details.field</c> and <c>details.type</c>.</summary>
    public Cp1Error Error { get; }

    /// <summary>The offending field, or null when the whole entry is malformed.</summary>
    public string? Field => Error.Field;
}
