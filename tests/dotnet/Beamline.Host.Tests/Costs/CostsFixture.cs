using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Beamline.Testing;

namespace Beamline.Host.Tests.Costs;

/// <summary>
/// A real <c>beamline serve</c> (embedded default) whose tenants pay for a priced in-process
/// <c>mock</c> provider: <c>spend</c> (no budget; a key in team <c>red</c>, a key without team),
/// <c>crowd</c> (a small monthly budget, alerts to a webhook) and <c>other</c> (to check isolation);
/// and a real HTTP listener on loopback receiving the signed budget alerts.
/// </summary>
public sealed class CostsFixture : IAsyncLifetime
{
    public const string AdminKey = "test-admin-key-0123456789";
    public const string RedKey = "bl_spendred_AScwL0is5kdmjI-Ic5CK7VwGHXzqgwpKdzZzYmDlgKM";
    public const string PlainKey = "bl_spendplain_PcYK7WPjINtrxvqWdQlm3xkMWsB4Lfr5py9fgu0wATY";
    public const string CrowdKey = "bl_crowd_ENEPPfCT_YANb7VMYm1r9CZVHmBkiVMI3h3BIriZur4";
    public const string OtherKey = "bl_other_S0nfRAooo0XHA8AcxkgPnO494pmkM_uDE8JDUxcaz-c";
    public const string WebhookSecret = "whsec-test-5b0e7f1c9a";

    /// <summary>The crowd's monthly budget, in dollars.</summary>
    public const decimal CrowdBudgetUsd = 0.20m;

    /// <summary>The mock's answer.</summary>
    public const string Reply = "Hello from the priced mock";

    // $100 per million input tokens, $200 per million output: a request costs about a fifth of a cent.
    public const decimal InputPerMTok = 100m;
    public const decimal OutputPerMTok = 200m;
    public const int DefaultMaxTokens = 20;

    private const string SecretVariable = "BEAMLINE_TEST_WEBHOOK_SECRET";
    private readonly string _configFile = Path.Combine(Path.GetTempPath(), $"beamline-costs-{Guid.NewGuid():N}.json");
    private HttpListener _listener = null!;
    private Task _listening = Task.CompletedTask;

    public ControlPlaneProcess Process { get; private set; } = null!;

    /// <summary>The budget alerts the webhook received (JSON bodies whose signature checked out).</summary>
    public ConcurrentQueue<JsonElement> Alerts { get; } = new();

    /// <summary>Deliveries whose signature did not check out (must stay empty).</summary>
    public ConcurrentQueue<string> BadSignatures { get; } = new();

    public async Task InitializeAsync()
    {
        // A port picked free can be taken before the listener binds it (parallel tests): try again.
        int port;
        for (var attempt = 1; ; attempt++)
        {
            port = FreePort();
            _listener = new HttpListener();
            _listener.Prefixes.Add($"http://127.0.0.1:{port}/");
            try
            {
                _listener.Start();
                break;
            }
            catch (HttpListenerException) when (attempt < 3)
            {
                _listener.Close();
            }
        }
        _listening = Task.Run(ListenAsync);
        await File.WriteAllTextAsync(_configFile, Config($"http://127.0.0.1:{port}/alerts"));
        Process = await ControlPlaneProcess.StartAsync(new Dictionary<string, string> { [SecretVariable] = WebhookSecret }, "--config", _configFile);
    }

    public async Task DisposeAsync()
    {
        if (Process is not null)
        {
            await Process.DisposeAsync();
        }
        _listener.Stop();
        _listener.Close();
        await _listening.ContinueWith(_ => { }, TaskScheduler.Default);
        File.Delete(_configFile);
    }

    // A receiver as the docs tell users to write one: recompute the HMAC over timestamp "." body.
    private async Task ListenAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }
            using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
            var body = await reader.ReadToEndAsync();
            var timestamp = context.Request.Headers["X-Beamline-Timestamp"] ?? "";
            var signature = context.Request.Headers["X-Beamline-Signature"] ?? "";
            var expected = "sha256=" + Convert.ToHexStringLower(System.Security.Cryptography.HMACSHA256.HashData(
                Encoding.UTF8.GetBytes(WebhookSecret), Encoding.UTF8.GetBytes(timestamp + "." + body)));
            if (signature == expected)
            {
                Alerts.Enqueue(JsonDocument.Parse(body).RootElement.Clone());
            }
            else
            {
                BadSignatures.Enqueue(signature);
            }
            context.Response.StatusCode = 204;
            context.Response.Close();
        }
    }

    private static int FreePort()
    {
        using var socket = new TcpListener(IPAddress.Loopback, 0);
        socket.Start();
        return ((IPEndPoint)socket.LocalEndpoint).Port;
    }

    private static JsonObject Chat(string id) => new()
    {
        ["id"] = id,
        ["json"] = JsonNode.Parse("""{"version":"1.0","providers":[{"name":"priced_mock","weight":100}]}"""),
    };

    private static string Config(string webhook) => new JsonObject
    {
        ["Beamline"] = new JsonObject
        {
            ["Budgets"] = new JsonObject
            {
                ["Webhooks"] = new JsonArray(new JsonObject { ["url"] = webhook, ["secret_env"] = SecretVariable }),
            },
            ["Tenancy"] = new JsonObject
            {
                ["AdminKey"] = AdminKey,
                ["Pepper"] = "test-pepper-0123456789abcdef",
                ["tenants"] = new JsonArray(
                    new JsonObject
                    {
                        ["id"] = "spend",
                        ["default_policy"] = "chat",
                        ["teams"] = new JsonArray(new JsonObject { ["id"] = "red" }),
                        ["keys"] = new JsonArray(
                            new JsonObject { ["key"] = RedKey, ["team_id"] = "red" },
                            new JsonObject { ["key"] = PlainKey }),
                        ["policies"] = new JsonArray(Chat("chat"),
                            new JsonObject
                            {
                                ["id"] = "blocks",
                                ["json"] = JsonNode.Parse("""{"version":"1.0","providers":[{"name":"priced_echo","weight":100}]}"""),
                            }),
                    },
                    new JsonObject
                    {
                        ["id"] = "crowd",
                        ["default_policy"] = "chat",
                        ["limits"] = new JsonObject { ["monthly_budget_usd"] = CrowdBudgetUsd },
                        ["keys"] = new JsonArray(new JsonObject { ["key"] = CrowdKey }),
                        ["policies"] = new JsonArray(Chat("chat")),
                    },
                    new JsonObject
                    {
                        ["id"] = "other",
                        ["default_policy"] = "chat",
                        ["keys"] = new JsonArray(new JsonObject { ["key"] = OtherKey }),
                        ["policies"] = new JsonArray(Chat("chat")),
                    }),
                ["providers"] = new JsonArray(
                    new JsonObject
                    {
                        ["id"] = "priced_mock",
                        ["kind"] = "mock",
                        ["model"] = "mock-priced-1",
                        ["reply"] = Reply,
                        ["default_max_tokens"] = DefaultMaxTokens,
                        ["prices"] = new JsonObject { ["input_per_mtok"] = InputPerMTok, ["output_per_mtok"] = OutputPerMTok },
                    },
                    new JsonObject
                    {
                        ["id"] = "priced_echo",
                        ["kind"] = "block",
                        ["block_type"] = "echo",
                        ["prices"] = new JsonObject { ["input_per_mtok"] = InputPerMTok, ["output_per_mtok"] = OutputPerMTok },
                    }),
            },
        },
    }.ToJsonString();
}
