using System.Text.Json;
using System.Text.Json.Nodes;

namespace Beamline.Dispatch.InProcess;

/// <summary>Builds the executor configuration JSON handed to the in-process runtime.</summary>
internal static class ExecutorConfigJson
{
    /// <summary>
    /// <paramref name="configJson"/> (the configuration file's text, or null) with
    /// <paramref name="credentials"/> added under <c>"http"."credentials"</c>; an entry the file
    /// already has is kept as it is. Null when there is neither a file nor a credential.
    /// </summary>
    /// <exception cref="JsonException">The file is not a JSON object of objects where credentials go.</exception>
    public static string? WithCredentials(string? configJson, IEnumerable<ExecutorCredential> credentials)
    {
        ArgumentNullException.ThrowIfNull(credentials);
        using var enumerator = credentials.GetEnumerator();
        if (!enumerator.MoveNext())
        {
            return configJson;
        }
        var root = configJson is null ? new JsonObject() : JsonNode.Parse(configJson) as JsonObject
            ?? throw new JsonException("the executor configuration must be a JSON object");
        var http = Section(root, "http", "the executor configuration's \"http\" must be an object");
        var entries = Section(http, "credentials", "the executor configuration's \"http\".\"credentials\" must be an object");
        do
        {
            var credential = enumerator.Current;
            if (entries.ContainsKey(credential.Name))
            {
                continue;
            }
            var entry = new JsonObject
            {
                ["header"] = credential.Header,
                ["prefix"] = credential.Prefix,
                ["value_env"] = credential.ValueEnvironmentVariable,
            };
            if (!credential.Hosts.IsDefaultOrEmpty)
            {
                var hosts = new JsonArray();
                foreach (var host in credential.Hosts)
                {
                    hosts.Add(host);
                }
                entry["hosts"] = hosts;
            }
            entries[credential.Name] = entry;
        }
        while (enumerator.MoveNext());
        return root.ToJsonString();
    }

    /// <summary>
    /// <paramref name="configJson"/> (the configuration file's text, or null) with
    /// <paramref name="providers"/> added under <c>"http"."providers"</c>; an entry the file
    /// already has is kept as it is (it may add <c>allow_private</c>, say). Null when there is
    /// neither a file nor a provider.
    /// </summary>
    /// <exception cref="JsonException">The file is not a JSON object of objects where providers go.</exception>
    public static string? WithProviders(string? configJson, IEnumerable<ExecutorProvider> providers)
    {
        ArgumentNullException.ThrowIfNull(providers);
        using var enumerator = providers.GetEnumerator();
        if (!enumerator.MoveNext())
        {
            return configJson;
        }
        var root = configJson is null ? new JsonObject() : JsonNode.Parse(configJson) as JsonObject
            ?? throw new JsonException("the executor configuration must be a JSON object");
        var http = Section(root, "http", "the executor configuration's \"http\" must be an object");
        var entries = Section(http, "providers", "the executor configuration's \"http\".\"providers\" must be an object");
        do
        {
            var provider = enumerator.Current;
            if (entries.ContainsKey(provider.Id))
            {
                continue;
            }
            var hosts = new JsonArray();
            foreach (var host in provider.Hosts)
            {
                hosts.Add(host);
            }
            entries[provider.Id] = new JsonObject { ["hosts"] = hosts };
        }
        while (enumerator.MoveNext());
        return root.ToJsonString();
    }

    private static JsonObject Section(JsonObject parent, string name, string error)
    {
        if (!parent.TryGetPropertyValue(name, out var node) || node is null)
        {
            var created = new JsonObject();
            parent[name] = created;
            return created;
        }
        return node as JsonObject ?? throw new JsonException(error);
    }
}
