using System.Buffers.Text;
using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text;
using Beamline.Tenancy.ApiKeys;
using Beamline.Tenancy.Configuration;
using Beamline.Tenancy.Replication;
using Beamline.Tenancy.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace Beamline.Tenancy;

/// <summary>
/// Tenancy backed by SQLite: the database is the record, an immutable <see cref="TenancySnapshot"/>
/// serves reads. Changes (admin API) are written, the snapshot rebuilt from the database and
/// swapped in atomically, so a new key authenticates and a revoked one fails at once.
/// </summary>
public sealed partial class TenantDirectory : ITenantDirectory
{
    private const string PepperMetaKey = "pepper";

    private readonly TenancyOptions _options;
    private readonly IPolicyValidator _policyValidator;
    private readonly IProviderValidator? _providerValidator;
    private readonly TimeProvider _time;
    private readonly ILogger<TenantDirectory> _logger;
    private readonly TenancyStore _store;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private TenancySnapshot _snapshot = TenancySnapshot.Empty;
    private CancellationTokenSource _changed = new();
    private ApiKeyHasher? _hasher;
    private ITenancyReplica? _replica;
    private Dictionary<string, string> _exported = new(StringComparer.Ordinal);

    /// <summary>
    /// Tenancy over the database <see cref="TenancyOptions.ResolvedDatabasePath"/>; call <see cref="InitializeAsync"/> before use.
    /// Provider entries put through the admin API must pass <paramref name="providerValidator"/> when one is given.
    /// </summary>
    public TenantDirectory(IOptions<TenancyOptions> options, IPolicyValidator policyValidator, TimeProvider time, ILogger<TenantDirectory> logger,
        IProviderValidator? providerValidator = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(policyValidator);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        _options = options.Value;
        _policyValidator = policyValidator;
        _providerValidator = providerValidator;
        _time = time;
        _logger = logger;
        _store = new TenancyStore(_options.ResolvedDatabasePath);
    }

    /// <summary>The SQLite database file.</summary>
    public string DatabasePath => _store.DatabasePath;

    /// <inheritdoc />
    public TenancySnapshot Snapshot => Volatile.Read(ref _snapshot);

    /// <inheritdoc />
    public ImmutableArray<ProviderEntry> Providers => Snapshot.Providers;

    internal TenancyStore Store => _store;

    /// <summary>
    /// Opens (creating or migrating) the database, applies the configuration file and builds the
    /// first snapshot. Safe to call more than once.
    /// </summary>
    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_hasher is not null)
            {
                return;
            }
            await _store.InitializeAsync(cancellationToken).ConfigureAwait(false);
            _hasher = new ApiKeyHasher(await GetPepperAsync(cancellationToken).ConfigureAwait(false));
            if (_options.File is { Length: > 0 } file)
            {
                var definitions = TenancyDefinitionsReader.Load(file, _policyValidator);
                foreach (var tenant in definitions.Tenants)
                {
                    foreach (var key in tenant.Keys)
                    {
                        if (key.PlaintextKey is not null)
                        {
                            LogPlaintextKey(key.Id, tenant.Id, definitions.Path);
                        }
                    }
                }
                await _store.SeedAsync(definitions, HashDefinition, NowMs(), cancellationToken).ConfigureAwait(false);
                LogSeeded(definitions.Path, definitions.Tenants.Length, definitions.Providers.Length);
            }
            await ReloadAsync(routingChanged: true, cancellationToken).ConfigureAwait(false);
            LogOpened(_store.DatabasePath, Snapshot.Tenants.Count, Snapshot.Keys.Count);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <inheritdoc />
    public bool TryAuthenticate(ReadOnlySpan<char> apiKey, [MaybeNullWhen(false)] out TenantPrincipal principal)
    {
        var status = Authenticate(apiKey, out var found);
        principal = found;
        return status == ApiKeyStatus.Authenticated;
    }

    /// <inheritdoc />
    public ApiKeyStatus Authenticate(ReadOnlySpan<char> apiKey, out TenantPrincipal? principal)
    {
        principal = null;
        if (!ApiKeyFormat.TryParse(apiKey, out var keyId, out _))
        {
            return ApiKeyStatus.Malformed;
        }
        var snapshot = Volatile.Read(ref _snapshot);
        if (!snapshot.KeysBySpan.TryGetValue(keyId, out var entry) || snapshot.Hasher is not { } hasher)
        {
            return ApiKeyStatus.UnknownKey;
        }
        // The secret is checked first: revoked or expired is only said to whoever holds the key.
        if (!hasher.Verify(apiKey, entry.Hash))
        {
            return ApiKeyStatus.WrongSecret;
        }
        if (entry.Info.RevokedAt is not null)
        {
            return ApiKeyStatus.Revoked;
        }
        if (entry.Info.ExpiresAt is { } expires && _time.GetUtcNow() >= expires)
        {
            return ApiKeyStatus.Expired;
        }
        principal = entry.Principal;
        return ApiKeyStatus.Authenticated;
    }

    /// <inheritdoc />
    public bool TryGetTenant(string tenantId, [MaybeNullWhen(false)] out TenantSnapshot tenant)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        return Snapshot.Tenants.TryGetValue(tenantId, out tenant);
    }

    /// <inheritdoc />
    public bool TryGetPolicyJson(string tenantId, string policyId, [MaybeNullWhen(false)] out string json)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        ArgumentNullException.ThrowIfNull(policyId);
        if (Snapshot.Tenants.TryGetValue(tenantId, out var tenant))
        {
            return tenant.Policies.TryGetValue(policyId, out json);
        }
        json = null;
        return false;
    }

    /// <inheritdoc />
    public IChangeToken GetChangeToken() => new CancellationChangeToken(Volatile.Read(ref _changed).Token);

    /// <summary>Rebuilds the snapshot from the database and swaps it in; the caller holds the write lock.</summary>
    private async Task ReloadAsync(bool routingChanged, CancellationToken cancellationToken)
    {
        var rows = await _store.LoadAsync(cancellationToken).ConfigureAwait(false);
        _exported = TenancyEntities.Export(rows);
        var previous = Volatile.Read(ref _snapshot);
        var next = TenancySnapshot.Build(rows, _hasher!, previous.Version + 1,
            routingChanged ? previous.RoutingVersion + 1 : previous.RoutingVersion);
        Volatile.Write(ref _snapshot, next);
        // Not disposed: a consumer may still register on the old token, which then fires at once.
        var fired = Interlocked.Exchange(ref _changed, new CancellationTokenSource());
        try
        {
            fired.Cancel();
        }
#pragma warning disable CA1031 // A failing change callback must not fail the change that was already committed.
        catch (Exception error)
#pragma warning restore CA1031
        {
            LogChangeCallbackFailed(error);
        }
    }

    private async Task<byte[]> GetPepperAsync(CancellationToken cancellationToken)
    {
        if (_options.Pepper is { Length: > 0 } configured)
        {
            return Encoding.UTF8.GetBytes(configured);
        }
        var generated = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
        var stored = await _store.GetOrAddMetaAsync(PepperMetaKey, generated, cancellationToken).ConfigureAwait(false);
        LogGeneratedPepper(_store.DatabasePath);
        return Encoding.UTF8.GetBytes(stored);
    }

    private byte[] HashDefinition(KeyDefinition key)
    {
        if (key.Hash is not null)
        {
            return key.Hash;
        }
        var hash = new byte[ApiKeyHasher.HashSize];
        _hasher!.TryHash(key.PlaintextKey, hash);
        return hash;
    }

    /// <summary>Now, by the directory's clock (the one expiry is judged by).</summary>
    internal DateTimeOffset UtcNow() => _time.GetUtcNow();

    private long NowMs() => _time.GetUtcNow().ToUnixTimeMilliseconds();
}
