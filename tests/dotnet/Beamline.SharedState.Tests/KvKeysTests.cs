namespace Beamline.SharedState.Tests;

public sealed class KvKeysTests
{
    [Theory]
    [InlineData("tenant_abc-123", "tenant_abc-123")]
    [InlineData("a.b:c", "=a=2Eb=3Ac")]
    [InlineData("", "=")]
    [InlineData("ü", "==C3=BC")]
    public void Token_PlainIdsStay_OthersAreEscapedAndComeBack(string id, string token)
    {
        Assert.Equal(token, KvKeys.Token(id));
        Assert.Equal(id, KvKeys.Id(token));
    }
}
