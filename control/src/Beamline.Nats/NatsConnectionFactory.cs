using Microsoft.Extensions.Logging;
using NATS.Client.Core;

namespace Beamline.Nats;

/// <summary>Turns <see cref="NatsClientOptions"/> into NATS.Net's <see cref="NatsOpts"/>.</summary>
public static class NatsConnectionFactory
{
    /// <summary>
    /// The client options. <paramref name="retryInitialConnect"/>: a server keeps trying until NATS
    /// is there (and reports it on <c>/healthz</c>); a one-shot command fails at once.
    /// </summary>
    public static NatsOpts CreateOpts(NatsClientOptions options, ILoggerFactory loggerFactory, bool retryInitialConnect)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        var url = options.Url ?? throw new ArgumentException("Beamline:Nats:Url is not set.", nameof(options));
        var tls = options.Tls;
        var tlsWanted = tls.Required || tls.CaFile is { Length: > 0 } || tls.CertFile is { Length: > 0 };
        return NatsOpts.Default with
        {
            Url = url,
            Name = options.ConnectionName,
            InboxPrefix = options.InboxPrefix,
            LoggerFactory = loggerFactory,
            AuthOpts = new NatsAuthOpts
            {
                CredsFile = Blank(options.CredsFile),
                NKeyFile = Blank(options.NKeySeedFile),
                Username = Blank(options.User),
                Password = Blank(options.Password),
                Token = Blank(options.Token),
            },
            TlsOpts = new NatsTlsOpts
            {
                CaFile = Blank(tls.CaFile),
                CertFile = Blank(tls.CertFile),
                KeyFile = Blank(tls.KeyFile),
                Mode = tlsWanted ? TlsMode.Require : TlsMode.Auto,
            },
            MaxReconnectRetry = options.MaxReconnectAttempts,
            ReconnectWaitMin = options.ReconnectWaitMin,
            ReconnectWaitMax = options.ReconnectWaitMax,
            ConnectTimeout = options.ConnectTimeout,
            RetryOnInitialConnect = retryInitialConnect,
            // Replies to requesters that timed out are harmless; a bounded backlog beats blocking.
            SubPendingChannelCapacity = 16_384,
        };
    }

    private static string? Blank(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
