using Beamline.Tenancy.ApiKeys;

namespace Beamline.Tenancy.Tests.ApiKeys;

public sealed class ApiKeyFormatTests
{
    [Fact]
    public void Create_NewKey_ParsesBackToItsIdWithA43CharacterSecret()
    {
        var keyId = ApiKeyFormat.NewKeyId();
        var key = ApiKeyFormat.Create(keyId);

        Assert.StartsWith("bl_" + keyId + "_", key, StringComparison.Ordinal);
        Assert.True(ApiKeyFormat.TryParse(key, out var parsedId, out var secret));
        Assert.Equal(keyId, parsedId.ToString());
        Assert.Equal(ApiKeyFormat.SecretLength, secret.Length);
    }

    [Fact]
    public void Create_TwoKeys_HaveDifferentSecrets()
    {
        Assert.NotEqual(ApiKeyFormat.Create("same"), ApiKeyFormat.Create("same"));
    }

    [Fact]
    public void TryParse_SecretContainingUnderscores_SplitsAtTheFirstUnderscoreAfterThePrefix()
    {
        const string key = "bl_demo__B9QZ5BatrxHUNc99ZQtJ0zB5HG9o95EqZ18Ed-31U8";

        Assert.True(ApiKeyFormat.TryParse(key, out var keyId, out var secret));
        Assert.Equal("demo", keyId.ToString());
        Assert.Equal("_B9QZ5BatrxHUNc99ZQtJ0zB5HG9o95EqZ18Ed-31U8", secret.ToString());
    }

    [Theory]
    [InlineData("")]
    [InlineData("bl_")]
    [InlineData("bl__HzkXZldHOaTv1OlnmftTNg7Q5-gMLaD0_zPsB7etegw")]
    [InlineData("sk_demo_HzkXZldHOaTv1OlnmftTNg7Q5-gMLaD0_zPsB7etegw")]
    [InlineData("BL_demo_HzkXZldHOaTv1OlnmftTNg7Q5-gMLaD0_zPsB7etegw")]
    [InlineData("bl_demo_HzkXZldHOaTv1OlnmftTNg7Q5-gMLaD0_zPsB7eteg")]
    [InlineData("bl_demo_HzkXZldHOaTv1OlnmftTNg7Q5-gMLaD0_zPsB7etegwX")]
    [InlineData("bl_demo_HzkXZldHOaTv1OlnmftTNg7Q5+gMLaD0/zPsB7etegw")]
    [InlineData("bl_demo_HzkXZldHOaTv1OlnmftTNg7Q5-gMLaD0_zPsB7eteg=")]
    [InlineData("bl_de mo_HzkXZldHOaTv1OlnmftTNg7Q5-gMLaD0_zPsB7etegw")]
    [InlineData("bl_démo_HzkXZldHOaTv1OlnmftTNg7Q5-gMLaD0_zPsB7etegw")]
    [InlineData("bl_demo")]
    [InlineData("Bearer bl_demo_HzkXZldHOaTv1OlnmftTNg7Q5-gMLaD0_zPsB7etegw")]
    public void TryParse_MalformedKey_ReturnsFalse(string key)
    {
        Assert.False(ApiKeyFormat.TryParse(key, out _, out _));
    }

    [Fact]
    public void TryParse_ArbitraryInput_NeverThrows()
    {
        var random = new Random(1234);
        const string alphabet = "bl_-abcXYZ019 \0\u00e9=+/";
        for (var i = 0; i < 20_000; i++)
        {
            var chars = new char[random.Next(0, 160)];
            for (var j = 0; j < chars.Length; j++)
            {
                chars[j] = alphabet[random.Next(alphabet.Length)];
            }
            if (random.Next(2) == 0 && chars.Length > 3)
            {
                "bl_".CopyTo(chars);
            }
            _ = ApiKeyFormat.TryParse(chars, out _, out _);
        }
    }
}
