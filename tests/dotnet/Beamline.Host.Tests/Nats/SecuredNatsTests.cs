using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Beamline.Testing;
using NATS.Client.Core;

namespace Beamline.Host.Tests.Nats;

/// <summary>
/// A nats-server that requires TLS (a CA this test makes) and user/password: the control plane and
/// the worker both connect with their configured credentials and serve blocks; a client without
/// credentials is refused.
/// </summary>
public sealed class SecuredNatsTests : IAsyncLifetime
{
    private const string User = "beamline";
    private const string Password = "s3cret-Pa55word";
    private readonly string _dir = Directory.CreateTempSubdirectory("beamline-nats-tls-").FullName;
    private NatsServer _nats = null!;

    private string CaFile => Path.Combine(_dir, "ca.pem");

    public async Task InitializeAsync()
    {
        WriteCertificates();
        var config = Path.Combine(_dir, "nats.conf");
        await File.WriteAllTextAsync(config, $$"""
            tls {
              cert_file: "{{Path.Combine(_dir, "server.pem")}}"
              key_file: "{{Path.Combine(_dir, "server-key.pem")}}"
              timeout: 5
            }
            authorization {
              users = [ { user: "{{User}}", password: "{{Password}}" } ]
            }
            """);
        _nats = await NatsServer.StartAsync("-c", config);
    }

    public async Task DisposeAsync()
    {
        await _nats.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task ControlPlaneAndWorker_WithTlsAndPassword_ServeBlocks_AnonymousClientRefused()
    {
        await using var worker = await WorkerProcess.StartAsync(_nats.Url, WorkerProcess.NewId("tls"), ["cpu=2"],
            "--user", User, "--password", Password, "--tls-ca", CaFile);
        var config = await NatsTestConfig.WriteAsync(new JsonObject
        {
            ["User"] = User,
            ["Password"] = Password,
            ["Tls"] = new JsonObject { ["CaFile"] = CaFile },
        });
        try
        {
            await using var controlPlane = await ControlPlaneProcess.StartAsync("--config", config, "--nats", _nats.Url);
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };

            var health = JsonDocument.Parse(await http.GetStringAsync(new Uri(controlPlane.BaseAddress, "healthz"))).RootElement;
            Assert.Equal("connected", health.GetProperty("nats").GetString());

            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(controlPlane.BaseAddress, "v1/blocks"))
            {
                Content = new StringContent("""{"type":"echo","tenant_id":"tenant_nats","payload":{"tls":true}}""", Encoding.UTF8, "application/json"),
            };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", NatsTestConfig.Key);
            using var response = await http.SendAsync(request);
            var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(worker.WorkerId, body.GetProperty("result").GetProperty("worker_id").GetString());

            // Neither the password nor the token of the configuration reaches the logs.
            Assert.DoesNotContain(Password, controlPlane.Process.Output, StringComparison.Ordinal);
            Assert.DoesNotContain(Password, worker.Process.Output, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(config);
        }

        // The same TLS, no credentials: refused by the server.
        var tls = new NatsTlsOpts { CaFile = CaFile, Mode = TlsMode.Require };
        await Assert.ThrowsAnyAsync<NatsException>(async () =>
        {
            await using var anonymous = await NatsTestClient.ConnectAsync(_nats.Url, NatsOpts.Default with { TlsOpts = tls });
        });
        // With them: accepted.
        await using var authorized = await NatsTestClient.ConnectAsync(_nats.Url, NatsOpts.Default with
        {
            TlsOpts = tls,
            AuthOpts = new NatsAuthOpts { Username = User, Password = Password },
        });
        Assert.Equal(NatsConnectionState.Open, authorized.Connection.ConnectionState);
    }

    // A CA, and a server certificate it signs for 127.0.0.1 and localhost, as PEM files.
    private void WriteCertificates()
    {
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=Beamline Test CA", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        using var ca = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));

        using var serverKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var serverRequest = new CertificateRequest("CN=127.0.0.1", serverKey, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        serverRequest.CertificateExtensions.Add(names.Build());
        serverRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        serverRequest.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var server = serverRequest.Create(ca, DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddHours(12),
            RandomNumberGenerator.GetBytes(8));

        File.WriteAllText(CaFile, ca.ExportCertificatePem());
        File.WriteAllText(Path.Combine(_dir, "server.pem"), server.ExportCertificatePem());
        File.WriteAllText(Path.Combine(_dir, "server-key.pem"), serverKey.ExportPkcs8PrivateKeyPem());
    }
}
