using Beamline.Extensions.BuiltIn;
using Beamline.Pipeline.Extensions;

namespace Beamline.Extensions.Tests.BuiltIn;

public sealed class BuiltInExtensionsTests
{
    [Fact]
    public void All_HasEachBuiltInOnceWithItsType()
    {
        var byId = BuiltInExtensions.All.ToDictionary(e => e.Id, e => e.Type);
        Assert.Equal(
            new Dictionary<string, ExtensionType>
            {
                ["normalize_text"] = ExtensionType.Pre,
                ["pii_guard"] = ExtensionType.Validator,
                ["mask_pii"] = ExtensionType.Post,
                ["content_filter"] = ExtensionType.Validator,
                ["add_context"] = ExtensionType.Pre,
                ["add_metadata"] = ExtensionType.Pre,
            },
            byId);
        Assert.IsType<IStreamingPostExtension>(BuiltInExtensions.All.Single(e => e.Id == "mask_pii"), exactMatch: false);
    }

    [Fact]
    public void Invoke_ConcurrentRequests_GiveTheSameAnswers()
    {
        var mask = BuiltInExtensions.All.Single(e => e.Id == "mask_pii");
        var filter = BuiltInExtensions.All.Single(e => e.Id == "content_filter");
        Parallel.For(0, 2000, i =>
        {
            string text = $"user{i}@example.com said word{i % 7}";
            Assert.Equal("[EMAIL] said word" + (i % 7), Inputs.PayloadOf(mask.Invoke(Inputs.Text(text))));
            var reply = filter.Invoke(Inputs.Text(text, $$"""{"words":["word{{i % 7}}"]}"""));
            Assert.True(reply.Rejected);
        });
    }
}
