using System.Collections;
using System.Runtime.InteropServices;

namespace Beamline.Interop.Nats;

/// <summary>
/// NATS message headers: each key maps to one or more values, in the order they were added.
/// Keys are case-sensitive, as in nats.c 3.x and the NATS protocol.
/// </summary>
public sealed class NatsHeaders : IEnumerable<KeyValuePair<string, IReadOnlyList<string>>>
{
    private readonly Dictionary<string, List<string>> _values = new(StringComparer.Ordinal);

    /// <summary>The number of distinct keys.</summary>
    public int Count => _values.Count;

    /// <summary>The distinct keys.</summary>
    public IEnumerable<string> Keys => _values.Keys;

    /// <summary>The first value of <paramref name="key"/>, or <see langword="null"/>.</summary>
    public string? this[string key] => TryGetValue(key, out string? value) ? value : null;

    /// <summary>Adds a value to <paramref name="key"/>, keeping those it already has.</summary>
    public void Add(string key, string value)
    {
        ValidateKey(key);
        ArgumentNullException.ThrowIfNull(value);
        if (!_values.TryGetValue(key, out List<string>? list))
        {
            list = new List<string>(1);
            _values.Add(key, list);
        }

        list.Add(value);
    }

    /// <summary>Replaces every value of <paramref name="key"/> with <paramref name="value"/>.</summary>
    public void Set(string key, string value)
    {
        ValidateKey(key);
        ArgumentNullException.ThrowIfNull(value);
        _values[key] = [value];
    }

    /// <summary>Removes <paramref name="key"/> and its values.</summary>
    public bool Remove(string key) => _values.Remove(key);

    /// <summary>Whether <paramref name="key"/> is present.</summary>
    public bool ContainsKey(string key) => _values.ContainsKey(key);

    /// <summary>The first value of <paramref name="key"/>.</summary>
    public bool TryGetValue(string key, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? value)
    {
        if (_values.TryGetValue(key, out List<string>? list) && list.Count > 0)
        {
            value = list[0];
            return true;
        }

        value = null;
        return false;
    }

    /// <summary>Every value of <paramref name="key"/>; empty when absent.</summary>
    public IReadOnlyList<string> GetValues(string key) =>
        _values.TryGetValue(key, out List<string>? list) ? list : [];

    /// <inheritdoc />
    public IEnumerator<KeyValuePair<string, IReadOnlyList<string>>> GetEnumerator()
    {
        foreach (KeyValuePair<string, List<string>> pair in _values)
        {
            yield return new KeyValuePair<string, IReadOnlyList<string>>(pair.Key, pair.Value);
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private static void ValidateKey(string key)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        foreach (char c in key)
        {
            // RFC 7230 field names: visible ASCII without ':'; the NATS protocol uses the same rule.
            if (c <= ' ' || c >= 127 || c == ':')
            {
                throw new ArgumentException($"'{key}' is not a valid header name.", nameof(key));
            }
        }
    }

    /// <summary>Adds every header to a message being built. Returns the first failing status.</summary>
    internal int CopyTo(nint msg)
    {
        foreach (KeyValuePair<string, List<string>> pair in _values)
        {
            foreach (string value in pair.Value)
            {
                int status = NativeMethods.MsgHeaderAdd(msg, pair.Key, value);
                if (status != 0)
                {
                    return status;
                }
            }
        }

        return 0;
    }

    /// <summary>Reads a received message's headers; <see langword="null"/> when it has none.</summary>
    internal static unsafe NatsHeaders? FromMessage(nint msg)
    {
        byte** keys = null;
        int keyCount = 0;
        if (NativeMethods.MsgHeaderKeys(msg, &keys, &keyCount) != 0 || keys is null)
        {
            return null;
        }

        try
        {
            var headers = new NatsHeaders();
            for (int i = 0; i < keyCount; i++)
            {
                string key = Utf8Z(keys[i]);
                byte** values = null;
                int valueCount = 0;
                if (NativeMethods.MsgHeaderValues(msg, keys[i], &values, &valueCount) != 0 || values is null)
                {
                    continue;
                }

                try
                {
                    var list = new List<string>(valueCount);
                    for (int j = 0; j < valueCount; j++)
                    {
                        list.Add(Utf8Z(values[j]));
                    }

                    headers._values[key] = list;
                }
                finally
                {
                    // The array is the caller's; the strings stay the message's.
                    NativeMemory.Free(values);
                }
            }

            return headers;
        }
        finally
        {
            NativeMemory.Free(keys);
        }
    }

    internal static unsafe string Utf8Z(byte* text) =>
        text is null ? string.Empty : System.Text.Encoding.UTF8.GetString(MemoryMarshal.CreateReadOnlySpanFromNullTerminated(text));
}
