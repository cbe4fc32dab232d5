using System.Text;
using Beamline.Tenancy.ApiKeys;

namespace Beamline.Tenancy.Tests.ApiKeys;

public sealed class ApiKeyHasherTests
{
    private static readonly ApiKeyHasher Hasher = new(Encoding.UTF8.GetBytes("pepper-one-0123456789"));

    [Fact]
    public void Verify_SameKey_ReturnsTrue()
    {
        var key = ApiKeyFormat.Create("k1");
        var hash = new byte[ApiKeyHasher.HashSize];
        Assert.True(Hasher.TryHash(key, hash));

        Assert.True(Hasher.Verify(key, hash));
    }

    [Fact]
    public void Verify_OtherSecretSameKeyId_ReturnsFalse()
    {
        var hash = new byte[ApiKeyHasher.HashSize];
        Hasher.TryHash(ApiKeyFormat.Create("k1"), hash);

        Assert.False(Hasher.Verify(ApiKeyFormat.Create("k1"), hash));
    }

    [Fact]
    public void Verify_SameSecretUnderAnotherKeyId_ReturnsFalse()
    {
        var key = ApiKeyFormat.Create("k1");
        var hash = new byte[ApiKeyHasher.HashSize];
        Hasher.TryHash(key, hash);

        Assert.False(Hasher.Verify("bl_k2_" + key["bl_k1_".Length..], hash));
    }

    [Fact]
    public void TryHash_DifferentPepper_GivesADifferentHash()
    {
        var key = ApiKeyFormat.Create("k1");
        var other = new ApiKeyHasher(Encoding.UTF8.GetBytes("pepper-two-0123456789"));

        Assert.NotEqual(Hasher.HashToString(key), other.HashToString(key));
    }

    [Fact]
    public void HashToString_KnownKeyAndPepper_IsHmacSha256OfTheWholeKeyInBase64Url()
    {
        // The documented recipe, so that operators can pre-hash keys with any HMAC tool.
        const string key = "bl_demo_HzkXZldHOaTv1OlnmftTNg7Q5-gMLaD0_zPsB7etegw";
        var expected = System.Security.Cryptography.HMACSHA256.HashData(
            Encoding.UTF8.GetBytes("pepper-one-0123456789"), Encoding.ASCII.GetBytes(key));

        Assert.Equal(System.Buffers.Text.Base64Url.EncodeToString(expected), Hasher.HashToString(key));
    }

    [Fact]
    public void TryHash_MalformedKey_ReturnsFalse()
    {
        Assert.False(Hasher.TryHash("bl_nope", new byte[ApiKeyHasher.HashSize]));
    }
}
