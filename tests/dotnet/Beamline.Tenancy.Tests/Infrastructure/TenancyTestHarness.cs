using Beamline.Tenancy;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Beamline.Tenancy.Tests.Infrastructure;

/// <summary>A temporary folder for a test's database; removed afterwards.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = Directory.CreateTempSubdirectory("beamline-tenancy-").FullName;
    }

    public string Path { get; }

    public string DatabasePath => System.IO.Path.Combine(Path, "tenancy.db");

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>A clock the test moves.</summary>
public sealed class ManualTimeProvider(DateTimeOffset now) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = now;

    public override DateTimeOffset GetUtcNow() => Now;
}

/// <summary>Collects log messages, to check that warnings are given.</summary>
public sealed class ListLoggerProvider : ILoggerProvider
{
    private readonly List<(LogLevel Level, string Message)> _messages = [];

    public IReadOnlyList<(LogLevel Level, string Message)> Messages
    {
        get
        {
            lock (_messages)
            {
                return [.. _messages];
            }
        }
    }

    public ILogger CreateLogger(string categoryName) => new ListLogger(this);

    public void Dispose()
    {
    }

    private sealed class ListLogger(ListLoggerProvider owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (owner._messages)
            {
                owner._messages.Add((logLevel, formatter(state, exception)));
            }
        }
    }
}

public static class Directories
{
    public const string Pepper = "test-pepper-0123456789abcdef";

    /// <summary>A real <see cref="TenantDirectory"/> over a SQLite file, initialized.</summary>
    public static async Task<TenantDirectory> OpenAsync(string databasePath, string? file = null, TimeProvider? time = null,
        ILoggerProvider? logs = null, string? pepper = Pepper)
    {
        var options = Options.Create(new TenancyOptions { DatabasePath = databasePath, File = file, Pepper = pepper });
        ILogger<TenantDirectory> logger = logs is null
            ? NullLogger<TenantDirectory>.Instance
            : new Logger<TenantDirectory>(new LoggerFactory([logs]));
        var directory = new TenantDirectory(options, new JsonObjectPolicyValidator(), time ?? TimeProvider.System, logger);
        await directory.InitializeAsync(CancellationToken.None);
        return directory;
    }
}
