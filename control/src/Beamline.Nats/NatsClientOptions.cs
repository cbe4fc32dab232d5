using Microsoft.Extensions.Options;

namespace Beamline.Nats;

/// <summary>
/// The control plane's NATS connection, bound from <c>Beamline:Nats</c>. Without <see cref="Url"/>
/// there is no connection: blocks run in-process and the NATS faces are off.
/// </summary>
public sealed class NatsClientOptions
{
    /// <summary>The configuration section these options bind to.</summary>
    public const string SectionName = "Beamline:Nats";

    /// <summary>
    /// The servers: one URL or a comma-separated list (<c>nats://a:4222,nats://b:4222</c>);
    /// <c>tls://</c> requires TLS. Defaults to none.
    /// </summary>
    public string? Url { get; set; }

    /// <summary>The connection name the server shows. Defaults to "beamline-control".</summary>
    public string ConnectionName { get; set; } = "beamline-control";

    /// <summary>A NATS credentials file (JWT and NKey seed). Defaults to none.</summary>
    public string? CredsFile { get; set; }

    /// <summary>A file holding an NKey seed (<c>SU...</c>). Defaults to none.</summary>
    public string? NKeySeedFile { get; set; }

    /// <summary>User name for user/password authentication. Defaults to none.</summary>
    public string? User { get; set; }

    /// <summary>Password for <see cref="User"/>. Never logged. Defaults to none.</summary>
    public string? Password { get; set; }

    /// <summary>Token authentication. Never logged. Defaults to none.</summary>
    public string? Token { get; set; }

    /// <summary>TLS: the CA that signs the server's certificate, and the client's own certificate.</summary>
    public NatsTlsSettings Tls { get; set; } = new();

    /// <summary>
    /// The prefix of this control plane's reply subjects (<c>&lt;prefix&gt;.&lt;unique&gt;</c>), so that
    /// NATS permissions can let workers answer only the control plane's requests
    /// (docs/operations.md, "NATS permissions"). Defaults to "_INBOX", the NATS clients' own.
    /// </summary>
    public string InboxPrefix { get; set; } = "_INBOX";

    /// <summary>Reconnect attempts after a lost connection; -1 is unlimited. Defaults to -1.</summary>
    public int MaxReconnectAttempts { get; set; } = -1;

    /// <summary>The shortest wait between reconnect attempts. Defaults to 100 ms.</summary>
    public TimeSpan ReconnectWaitMin { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>The longest wait between reconnect attempts (the wait backs off up to it). Defaults to 2 s.</summary>
    public TimeSpan ReconnectWaitMax { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How long one connection attempt may take. Defaults to 2 s.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(2);
}

/// <summary>TLS files for the NATS connection (PEM).</summary>
public sealed class NatsTlsSettings
{
    /// <summary>The CA certificate(s) that verify the server. Defaults to the system's trust store.</summary>
    public string? CaFile { get; set; }

    /// <summary>The client certificate, for servers that verify clients. Defaults to none.</summary>
    public string? CertFile { get; set; }

    /// <summary>The client certificate's private key. Defaults to none.</summary>
    public string? KeyFile { get; set; }

    /// <summary>Whether TLS is required even with a <c>nats://</c> URL. Defaults to false (on when a file is set or the URL is <c>tls://</c>).</summary>
    public bool Required { get; set; }
}

/// <summary>Validates <see cref="NatsClientOptions"/> at start: one clear message per problem.</summary>
public sealed class NatsClientOptionsValidator : IValidateOptions<NatsClientOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, NatsClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (options.Url is { Length: > 0 } urls)
        {
            foreach (var url in urls.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("nats" or "tls"))
                {
                    failures.Add($"Beamline:Nats:Url '{url}' is not a nats:// or tls:// URL.");
                }
            }
        }
        CheckFile(failures, "Beamline:Nats:CredsFile", options.CredsFile);
        CheckFile(failures, "Beamline:Nats:NKeySeedFile", options.NKeySeedFile);
        CheckFile(failures, "Beamline:Nats:Tls:CaFile", options.Tls.CaFile);
        CheckFile(failures, "Beamline:Nats:Tls:CertFile", options.Tls.CertFile);
        CheckFile(failures, "Beamline:Nats:Tls:KeyFile", options.Tls.KeyFile);
        if (options.Tls.CertFile is { Length: > 0 } != options.Tls.KeyFile is { Length: > 0 })
        {
            failures.Add("Beamline:Nats:Tls:CertFile and Beamline:Nats:Tls:KeyFile go together: set both or neither.");
        }
        if (options.Password is { Length: > 0 } && options.User is not { Length: > 0 })
        {
            failures.Add("Beamline:Nats:Password needs Beamline:Nats:User.");
        }
        if (!IsSubjectPrefix(options.InboxPrefix))
        {
            failures.Add($"Beamline:Nats:InboxPrefix '{options.InboxPrefix}' must be subject tokens of letters, digits, '-' and '_' joined by dots (e.g. _INBOX_control).");
        }
        if (options.MaxReconnectAttempts < -1)
        {
            failures.Add("Beamline:Nats:MaxReconnectAttempts must be -1 (unlimited) or more.");
        }
        if (options.ReconnectWaitMin <= TimeSpan.Zero || options.ReconnectWaitMax < options.ReconnectWaitMin)
        {
            failures.Add("Beamline:Nats:ReconnectWaitMin must be positive and at most ReconnectWaitMax.");
        }
        if (options.ConnectTimeout <= TimeSpan.Zero)
        {
            failures.Add("Beamline:Nats:ConnectTimeout must be positive.");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    // Whole subject tokens: no wildcards, whitespace or empty tokens.
    private static bool IsSubjectPrefix(string? prefix)
        => prefix is { Length: > 0 and <= 128 }
           && prefix.Split('.').All(static token => token.Length > 0 && token.All(static c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'));

    private static void CheckFile(List<string> failures, string key, string? path)
    {
        if (path is { Length: > 0 } && !File.Exists(path))
        {
            failures.Add($"{key} '{path}' does not exist.");
        }
    }
}
