using System.Globalization;
using ChannelManager.IntegrationTests.Api;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;

namespace ChannelManager.IntegrationTests.Dashboard;

/// <summary>
/// Issue 8 item 6: the dashboard in a real headless Chromium (Debian's chromium + chromium-driver, installed by
/// test.sh) against Kestrel on 127.0.0.1 running the simulated bank: the modem rows appear, then update after a poll.
/// </summary>
public sealed class DashboardBrowserTests : IAsyncLifetime, IDisposable
{
    private const string ChromiumPath = "/usr/bin/chromium";
    private const string ChromeDriverPath = "/usr/bin/chromedriver";
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(45);

    private readonly DirectoryInfo _profile = Directory.CreateTempSubdirectory("cm-chromium-");
    private ApiTestBank _bank = null!; // set by InitializeAsync.
    private ChromeDriverService _service = null!; // set by InitializeAsync.
    private ChromeDriver _driver = null!; // set by InitializeAsync.

    public async Task InitializeAsync()
    {
        Assert.True(File.Exists(ChromiumPath) && File.Exists(ChromeDriverPath), "chromium and chromium-driver must be installed (test.sh installs them)");
        _bank = await ApiTestBank.StartAsync();
        _service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(ChromeDriverPath)!, Path.GetFileName(ChromeDriverPath)); // a rooted constant path has a directory.
        _service.HideCommandPromptWindow = true;
        _service.SuppressInitialDiagnosticInformation = true;
        var options = new ChromeOptions { BinaryLocation = ChromiumPath };
        options.AddArguments(
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--window-size=1400,1100",
            $"--user-data-dir={_profile.FullName}");
        _driver = new ChromeDriver(_service, options, TimeSpan.FromSeconds(60));
        _driver.Manage().Timeouts().PageLoad = TimeSpan.FromSeconds(30);
    }

    public async Task DisposeAsync()
    {
        // The browser first: its open event stream would otherwise hold the server's shutdown.
        Dispose();
        if (_bank is not null)
            await _bank.DisposeAsync();
    }

    /// <summary>Ends Chromium and chromedriver; safe to call twice (xunit also calls it after <see cref="DisposeAsync"/>).</summary>
    public void Dispose()
    {
        _driver?.Quit();
        _driver?.Dispose();
        _driver = null!;
        _service?.Dispose();
        _service = null!;
        if (Directory.Exists(_profile.FullName))
            _profile.Delete(recursive: true);
    }

    [Fact]
    public async Task Dashboard_LiveStream_ModemRowsAppearThenUpdateAfterAPoll()
    {
        _driver.Navigate().GoToUrl(_bank.Host.BaseAddress);

        var rows = await WaitForAsync(() => ModemRows() is { Count: 2 } r ? r : null, "two modem rows");
        Assert.Equal(["M1", "M2"], rows.Select(r => r.Name));
        await WaitForAsync(() => Mode() == "live" ? "live" : null, "the server-sent event stream to connect");
        await WaitForAsync(() => _driver.FindElements(By.CssSelector("#outstations tbody tr")).Count == 2 ? "ok" : null, "two outstation rows");
        var callsBefore = rows.Single(r => r.Name == "M1").Calls;
        var eventsBefore = _driver.FindElements(By.CssSelector("#events tbody tr")).Count;

        using (var poll = await _bank.Client.SendAsync(ApiTestBank.Post($"/api/outstations/{ApiTestBank.OkName}/poll?wait=false")))
            Assert.Equal(System.Net.HttpStatusCode.Accepted, poll.StatusCode);

        // The page changes by itself (no reload): M1's call count goes up and the event log grows.
        var after = await WaitForAsync(() => ModemRows().SingleOrDefault(r => r.Name == "M1") is { } m1 && m1.Calls > callsBefore ? m1 : null, "M1's call count to update");
        Assert.Equal(callsBefore + 1, after.Calls);
        await WaitForAsync(() => _driver.FindElements(By.CssSelector("#events tbody tr")).Count > eventsBefore ? "ok" : null, "a new event-log row");
        Assert.Equal("live", Mode());
        var okRow = _driver.FindElement(By.CssSelector($"#outstations tbody tr[data-outstation='{ApiTestBank.OkName}']"));
        Assert.Contains("Success", okRow.Text, StringComparison.Ordinal);
        Assert.Equal("M2", _driver.FindElement(By.CssSelector("#modems tbody tr.faulted")).GetAttribute("data-modem"));

        var shot = Path.Combine(AppContext.BaseDirectory, "dashboard.png");
        _driver.GetScreenshot().SaveAsFile(shot);
        Assert.True(new FileInfo(shot).Length > 10_000, "the screenshot should hold a rendered page");
    }

    [Fact]
    public async Task Dashboard_NoEventSource_FallsBackToPollingAndStillUpdates()
    {
        // A browser (or proxy) without server-sent events: the page must poll /api/snapshot instead.
        _driver.ExecuteCdpCommand("Page.addScriptToEvaluateOnNewDocument", new Dictionary<string, object?> { ["source"] = "delete window.EventSource;" });
        _driver.Navigate().GoToUrl(_bank.Host.BaseAddress);

        var rows = await WaitForAsync(() => ModemRows() is { Count: 2 } r ? r : null, "two modem rows");
        await WaitForAsync(() => Mode() == "polling" ? "polling" : null, "polling mode");
        var callsBefore = rows.Single(r => r.Name == "M1").Calls;

        using (var poll = await _bank.Client.SendAsync(ApiTestBank.Post($"/api/outstations/{ApiTestBank.OkName}/poll?wait=false")))
            Assert.Equal(System.Net.HttpStatusCode.Accepted, poll.StatusCode);

        await WaitForAsync(() => ModemRows().SingleOrDefault(r => r.Name == "M1") is { } m1 && m1.Calls > callsBefore ? m1 : null, "M1's call count to update by polling");
        Assert.Equal("polling", Mode());
    }

    private string? Mode() => _driver.FindElement(By.Id("connection")).GetAttribute("data-mode");

    private List<ModemRow> ModemRows()
    {
        try
        {
            return [.. _driver.FindElements(By.CssSelector("#modems tbody tr")).Select(r => new ModemRow(
                r.GetAttribute("data-modem") ?? string.Empty,
                r.GetAttribute("data-state") ?? string.Empty,
                long.Parse(r.GetAttribute("data-calls") ?? "-1", CultureInfo.InvariantCulture)))];
        }
        catch (StaleElementReferenceException)
        {
            // The page replaced the rows while they were read: a live update, read again next time.
            return [];
        }
    }

    /// <summary>Polls the page (bounded) until <paramref name="probe"/> returns a value; a timeout fails with what was awaited and the page text.</summary>
    private async Task<T> WaitForAsync<T>(Func<T?> probe, string what)
        where T : class
    {
        using var bound = new CancellationTokenSource(Bound);
        while (true)
        {
            if (probe() is { } value)
                return value;
            if (bound.IsCancellationRequested)
                Assert.Fail($"Timed out waiting for {what}. Page text:\n{_driver.FindElement(By.TagName("body")).Text}");
            await Task.Delay(TimeSpan.FromMilliseconds(100), TimeProvider.System, CancellationToken.None);
        }
    }

    private sealed record ModemRow(string Name, string State, long Calls);
}
