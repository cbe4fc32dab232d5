using System.Text.Json;

namespace Beamline.Extensions.BuiltIn.Internal;

/// <summary>A built-in's config is not of the shape it reads: the call fails with this message.</summary>
internal sealed class BuiltInConfigException(string message) : Exception(message);

/// <summary>
/// Reads a built-in's merged config (a JSON object, or absent). Unknown keys are ignored; a known
/// key of the wrong type throws <see cref="BuiltInConfigException"/> with a message naming it.
/// </summary>
internal readonly struct BuiltInConfig
{
    private readonly string _extensionId;
    private readonly JsonElement _config;

    public BuiltInConfig(string extensionId, JsonElement? config)
    {
        _extensionId = extensionId;
        if (config is { ValueKind: not (JsonValueKind.Null or JsonValueKind.Undefined) } value)
        {
            if (value.ValueKind != JsonValueKind.Object)
            {
                throw new BuiltInConfigException($"{extensionId}: config must be a JSON object, not {Describe(value.ValueKind)}");
            }

            _config = value;
        }
    }

    /// <summary>The value of <paramref name="name"/>, or false when absent or null.</summary>
    public bool TryGet(string name, out JsonElement value)
    {
        if (_config.ValueKind == JsonValueKind.Object && _config.TryGetProperty(name, out value) && value.ValueKind != JsonValueKind.Null)
        {
            return true;
        }

        value = default;
        return false;
    }

    public bool GetBoolean(string name, bool defaultValue)
    {
        if (!TryGet(name, out var value))
        {
            return defaultValue;
        }

        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Invalid(name, "true or false", value),
        };
    }

    public string? GetString(string name)
    {
        if (!TryGet(name, out var value))
        {
            return null;
        }

        return value.ValueKind == JsonValueKind.String ? value.GetString() : throw Invalid(name, "a string", value);
    }

    /// <summary>An array of strings, or null when absent.</summary>
    public List<string>? GetStringArray(string name)
    {
        if (!TryGet(name, out var value))
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Array)
        {
            throw Invalid(name, "an array of strings", value);
        }

        var items = new List<string>(value.GetArrayLength());
        int index = 0;
        foreach (var item in value.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String)
            {
                throw Error($"'{name}[{index}]' must be a string, not {Describe(item.ValueKind)}");
            }

            items.Add(item.GetString()!);
            index++;
        }

        return items;
    }

    /// <summary>An object, or null when absent.</summary>
    public JsonElement? GetObject(string name)
    {
        if (!TryGet(name, out var value))
        {
            return null;
        }

        return value.ValueKind == JsonValueKind.Object ? value : throw Invalid(name, "an object", value);
    }

    /// <summary>
    /// An object read as reply metadata: string values as they are, other JSON values as their
    /// JSON text; null when absent or empty.
    /// </summary>
    public Dictionary<string, string>? GetMetadata(string name)
    {
        if (GetObject(name) is not { } metadata)
        {
            return null;
        }

        Dictionary<string, string>? result = null;
        foreach (var property in metadata.EnumerateObject())
        {
            (result ??= new Dictionary<string, string>(StringComparer.Ordinal))[property.Name] =
                property.Value.ValueKind == JsonValueKind.String ? property.Value.GetString()! : property.Value.GetRawText();
        }

        return result;
    }

    /// <summary>A config error of this extension.</summary>
    public BuiltInConfigException Error(string message) => new($"{_extensionId}: config {message}");

    private BuiltInConfigException Invalid(string name, string expected, JsonElement value) =>
        Error($"'{name}' must be {expected}, not {Describe(value.ValueKind)}");

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => "null",
    };
}
