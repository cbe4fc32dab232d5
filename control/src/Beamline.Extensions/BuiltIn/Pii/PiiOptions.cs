using Beamline.Extensions.BuiltIn.Internal;

namespace Beamline.Extensions.BuiltIn.Pii;

/// <summary>The config of <c>pii_guard</c> and <c>mask_pii</c>: <c>types</c> and (masking) <c>replacement</c>.</summary>
internal sealed class PiiOptions
{
    /// <summary>Every type, the default tokens.</summary>
    public static PiiOptions Default { get; } = new(PiiTypes.All, DefaultTokens());

    private PiiOptions(PiiTypes types, string[] tokens)
    {
        Types = types;
        Tokens = tokens;
    }

    /// <summary>The types detected.</summary>
    public PiiTypes Types { get; }

    /// <summary>The mask token of each type, indexed by <see cref="PiiTypeNames.IndexOf"/>.</summary>
    public string[] Tokens { get; }

    /// <summary>
    /// Reads <c>types</c> (default all), the per-type switches <c>mask_&lt;type&gt;</c> (masking) or
    /// <c>detect_&lt;type&gt;</c> (detecting), and, when <paramref name="masking"/>, <c>replacement</c>.
    /// </summary>
    public static PiiOptions Read(BuiltInConfig config, bool masking)
    {
        var types = PiiTypes.All;
        if (config.GetStringArray("types") is { } names)
        {
            types = PiiTypes.None;
            for (int i = 0; i < names.Count; i++)
            {
                types |= PiiTypeNames.TryParse(names[i], out var type)
                    ? type
                    : throw config.Error($"'types[{i}]' is '{names[i]}', not one of email, phone, card, iban, ssn, ip");
            }
        }

        // The upstream per-type switches (`mask_email: false`, `detect_phone: false`, as in the CP1
        // fixture policies) turn a type off; true keeps it on (every type is on by default).
        foreach (var type in PiiTypeNames.Ordered)
        {
            if (!config.GetBoolean((masking ? "mask_" : "detect_") + PiiTypeNames.NameOf(type), true))
            {
                types &= ~type;
            }
        }

        string[]? tokens = null;
        if (masking && config.GetObject("replacement") is { } replacement)
        {
            tokens = DefaultTokens();
            foreach (var property in replacement.EnumerateObject())
            {
                if (!PiiTypeNames.TryParse(property.Name, out var type))
                {
                    throw config.Error($"'replacement' names '{property.Name}', not one of email, phone, card, iban, ssn, ip");
                }

                tokens[PiiTypeNames.IndexOf(type)] = property.Value.ValueKind == System.Text.Json.JsonValueKind.String
                    ? property.Value.GetString()!
                    : throw config.Error($"'replacement.{property.Name}' must be a string");
            }
        }

        return types == PiiTypes.All && tokens is null ? Default : new PiiOptions(types, tokens ?? Default.Tokens);
    }

    private static string[] DefaultTokens()
    {
        var tokens = new string[PiiTypeNames.Ordered.Length];
        foreach (var type in PiiTypeNames.Ordered)
        {
            tokens[PiiTypeNames.IndexOf(type)] = PiiTypeNames.DefaultToken(type);
        }

        return tokens;
    }
}
