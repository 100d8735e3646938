using System.Text.Json;
using ChannelManager.IntegrationTests.Support;

namespace ChannelManager.IntegrationTests.Host;

/// <summary><c>channelmanager demo --dashboard</c> as a process: the API and dashboard serve the demo's live bank while it runs, and after its summary until SIGTERM.</summary>
public sealed class DemoDashboardTests
{
    [Fact]
    public async Task DemoDashboard_WhileAndAfterTheRun_ServesTheDemoBankAndTheDashboardPage()
    {
        var port = Loopback.FreeTcpPort();
        await using var demo = HostProcess.Start("demo", "--hours", "0.5", "--dashboard", "--dashboard-urls", $"http://127.0.0.1:{port}");
        await demo.WaitForLineAsync("Dashboard:", TimeSpan.FromSeconds(90));

        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(20) };
        using var modems = JsonDocument.Parse(await http.GetStringAsync(new Uri("/api/modems", UriKind.Relative)));
        var names = modems.RootElement.EnumerateArray().Select(m => m.GetProperty("name").GetString()).ToList();
        Assert.Equal(["M1", "M2", "M3", "M4", "M5"], names);

        var page = await http.GetStringAsync(new Uri("/", UriKind.Relative));
        Assert.Contains("<html", page, StringComparison.OrdinalIgnoreCase);

        // After the summary the dashboard stays up (for the operator to look at) and reflects the finished run.
        await demo.WaitForLineAsync("press Ctrl+C to exit", TimeSpan.FromSeconds(120));
        using var events = JsonDocument.Parse(await http.GetStringAsync(new Uri("/api/events?max=500", UriKind.Relative)));
        Assert.NotEmpty(events.RootElement.EnumerateArray());

        await HostProcess.TerminateAsync(demo);
        Assert.Equal(0, await demo.WaitForExitAsync(TimeSpan.FromSeconds(30)));
    }
}
