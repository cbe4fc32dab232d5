using System.Net.Http.Headers;
using System.Text;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Beamline.Host.Tests.Dashboard;

/// <summary>The dashboard's experiments panel in a real headless Chromium, over a real experiment and real traffic.</summary>
[Collection(DashboardCollection.Name)]
public sealed class DashboardExperimentsTests(DashboardFixture fixture)
{
    [Fact]
    public async Task ExperimentsPanel_ShowsEachArmWithItsTraffic()
    {
        using (var create = new HttpRequestMessage(HttpMethod.Post, fixture.Url("admin/v1/tenants/beta/experiments")))
        {
            create.Content = new StringContent("""
                {"id":"dash-exp","policy_id":"chat","metric":"latency",
                 "arms":[{"name":"control","provider":"mock_chat","weight":50},{"name":"twin","provider":"mock_chat","weight":50}]}
                """, Encoding.UTF8, "application/json");
            create.Headers.Authorization = new AuthenticationHeaderValue("Bearer", DashboardFixture.AdminKey);
            using var created = await fixture.Http.SendAsync(create);
            Assert.Equal(201, (int)created.StatusCode);
        }
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(200, await fixture.ChatAsync(DashboardFixture.BetaKey));
        }

        await using var context = await fixture.Browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1440, Height = 1100 } });
        var page = await context.NewPageAsync();
        var problems = new List<string>();
        page.PageError += (_, error) => problems.Add(error);
        await page.GotoAsync(fixture.Url("ui").ToString());
        await page.FillAsync("#key", DashboardFixture.AdminKey);
        await page.ClickAsync("#login-submit");

        var rows = page.Locator("#experiment-rows tr");
        await Expect(rows.Filter(new() { HasText = "dash-exp" })).ToContainTextAsync("running");
        await Expect(rows.Filter(new() { HasText = "twin" })).ToContainTextAsync("50%");
        await Expect(rows.Filter(new() { HasText = "control (control)" })).ToContainTextAsync("mock_chat");
        Assert.Equal(2, await rows.Filter(new() { HasText = "mock_chat" }).CountAsync());
        Assert.Empty(problems);
    }
}
