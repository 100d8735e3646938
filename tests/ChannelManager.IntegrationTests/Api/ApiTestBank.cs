using System.Net.Http.Headers;
using System.Text.Json;
using ChannelManager.Core.Channels;
using ChannelManager.Core.Modems;
using ChannelManager.Core.Protocols.Modbus;
using ChannelManager.Core.Scheduling;
using ChannelManager.Core.Transport;
using ChannelManager.HardwareSim.Exchange;
using ChannelManager.HardwareSim.Modems;
using ChannelManager.HardwareSim.Outstations;
using ChannelManager.Host.Api;
using ChannelManager.Persistence.Sqlite;

namespace ChannelManager.IntegrationTests.Api;

/// <summary>
/// The API's test composition (independent of the host's config code): two simulated modems (M2 has no dial tone),
/// a simulated exchange with a Modbus outstation that answers and a busy line, the real AT engine, Channel Manager,
/// repeat-call book and scheduler on a SQLite file, and the API on Kestrel at 127.0.0.1 on a free port.
/// </summary>
public sealed class ApiTestBank : IAsyncDisposable
{
    public const string Token = "test-token-0123456789abcdef";
    public const string OkName = "RTU-OK";
    public const string OkNumber = "01632960001";
    public const string BusyName = "RTU-BUSY";
    public const string BusyNumber = "01632960002";

    private readonly CancellationTokenSource _stopScheduler = new();
    private readonly CancellationTokenSource _simulator;
    private readonly DirectoryInfo _dir;
    private Task _schedulerRun = Task.CompletedTask;
    private MeteredStateStore? _store;
    private ChannelManagerMetrics? _metrics;

    private ApiTestBank(DirectoryInfo dir, CancellationTokenSource simulator, PstnExchange exchange, ModemChannelManager channels)
    {
        _dir = dir;
        _simulator = simulator;
        Exchange = exchange;
        Channels = channels;
    }

    public PstnExchange Exchange { get; }

    public ModemChannelManager Channels { get; }

    public DashboardServices Services { get; private set; } = null!; // set in StartAsync before the bank is returned.

    public DashboardHost Host { get; private set; } = null!; // set in StartAsync before the bank is returned.

    public HttpClient Client { get; private set; } = null!; // set in StartAsync before the bank is returned.

    public static JsonSerializerOptions Json { get; } = new(JsonSerializerDefaults.Web);

    /// <summary>Starts the bank, the scheduler and the API, and waits for the first scheduled poll of each outstation.</summary>
    public static async Task<ApiTestBank> StartAsync(ApiOptions? options = null)
    {
        var time = TimeProvider.System;
        var dir = Directory.CreateTempSubdirectory("cm-api-");
        var exchange = new PstnExchange(time);
        var map = new ModbusRegisterMap();
        map.SetHoldingRegisters(0, 1001, 2317);
        var rtu = new ModbusRtuOutstation(1, time, map);
        exchange.AddLine(OkNumber, new LineBehaviour.Answer(TimeSpan.FromMilliseconds(200), rtu.ServeAsync));
        exchange.AddLine(BusyNumber, new LineBehaviour.Busy(TimeSpan.FromMilliseconds(200)));

        var behaviours = new[]
        {
            new ModemBehaviour { Name = "M1", SRegisters = { [12] = 10 } },
            new ModemBehaviour { Name = "M2", Fault = ModemFault.NoDialTone, SRegisters = { [6] = 1, [12] = 10 } },
        };
        var stopSim = new CancellationTokenSource();
        var ports = SimulatedModemBank.StartInProcess(behaviours, exchange, time, stopSim.Token);
        var modems = ports.Select(p => ((IModemDevice)new AtModem(p.HostEnd, ownsTransport: true, new AtModemOptions
        {
            Name = p.Modem.Name,
            CommandTimeout = TimeSpan.FromSeconds(1),
            DialTimeout = TimeSpan.FromSeconds(5),
            EscapeGuardTime = TimeSpan.FromMilliseconds(300),
        }, time), ModemRole.Default));
        var channels = new ModemChannelManager(modems, new ChannelManagerOptions
        {
            MaxQueueTime = TimeSpan.FromSeconds(20),
            MinOnHookTime = TimeSpan.FromMilliseconds(300),
            HangUpTimeout = TimeSpan.FromSeconds(5),
        }, time);
        var bank = new ApiTestBank(dir, stopSim, exchange, channels);

        var raw = await SqliteStateStore.OpenAsync(new SqliteStateStoreOptions { Path = Path.Combine(dir.FullName, "state.db") }, CancellationToken.None);
        var metrics = new ChannelManagerMetrics();
        var store = new MeteredStateStore(raw, metrics, ownsInner: true);
        var backoff = BackoffPolicy.From(new BackoffOptions { Initial = TimeSpan.FromSeconds(1), Max = TimeSpan.FromSeconds(1) });
        OutstationSchedule Schedule(string name, string number) =>
            new(name, number, new ModbusRtuMaster(new ModbusRtuOptions { UnitId = 1, BaudRate = 19200, Parity = SerialParity.None, ResponseTimeout = TimeSpan.FromMilliseconds(400) }, time), [new ReadHoldingRegisters(0, 2)], TimeSpan.FromHours(1), backoff);

        // Two polls at once whatever the bank's state (followUsableModems: false), as this bank always ran.
        var chain = PollingChain.Build(
            channels,
            [Schedule(OkName, OkNumber), Schedule(BusyName, BusyNumber)],
            CountryProfiles.UK,
            store,
            new SchedulerOptions { MaxConcurrency = 2, MaxQueueTime = TimeSpan.FromSeconds(30) },
            time,
            followUsableModems: false);
        bank._store = store;
        bank._metrics = metrics;
        bank.Services = new DashboardServices(channels, chain.Scheduler, chain.Book, store, time, metrics);
        try
        {
            // The host (and its metrics exporter) first, so the first polls are already counted — as in the service.
            bank.Host = await DashboardHost.StartAsync(bank.Services, options ?? new ApiOptions { Urls = "http://127.0.0.1:0", Token = Token, StreamInterval = TimeSpan.FromMilliseconds(200) }, CancellationToken.None);
            bank.Client = new HttpClient { BaseAddress = bank.Host.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
            bank._schedulerRun = chain.Scheduler.RunAsync(bank._stopScheduler.Token);
            await bank.WaitForTransactionsAsync(2, TimeSpan.FromSeconds(60));
        }
        catch
        {
            await bank.DisposeAsync();
            throw;
        }

        return bank;
    }

    /// <summary>A client for another host (e.g. one started with different options) on the same bank.</summary>
    public static HttpClient ClientFor(DashboardHost host) => new() { BaseAddress = host.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };

    public static HttpRequestMessage Post(string path, string? json = null, string? token = Token)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path);
        if (json is not null)
            request.Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json");
        if (token is not null)
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return request;
    }

    public async Task<int> TransactionCountAsync(string? outstation = null) =>
        (await Services.Store.ReadTransactionsAsync(1000, outstation, CancellationToken.None)).Count;

    /// <summary>Waits (bounded) until the event log holds at least <paramref name="count"/> transactions.</summary>
    public async Task WaitForTransactionsAsync(int count, TimeSpan timeout, string? outstation = null)
    {
        using var bound = new CancellationTokenSource(timeout);
        while (await TransactionCountAsync(outstation) < count)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(100), TimeProvider.System, bound.Token);
        }
    }

    public static async Task<JsonElement> JsonOfAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    public async ValueTask DisposeAsync()
    {
        Client?.Dispose();
        if (Host is not null)
            await Host.DisposeAsync();
        await _stopScheduler.CancelAsync();
        try
        {
            await _schedulerRun.WaitAsync(TimeSpan.FromSeconds(30));
        }
        catch (OperationCanceledException)
        {
            // The scheduler ends by cancellation.
        }

        await Channels.DisposeAsync();
        await _simulator.CancelAsync();
        _simulator.Dispose();

        if (_store is not null)
            await _store.DisposeAsync();
        _metrics?.Dispose();
        _stopScheduler.Dispose();
        _dir.Delete(recursive: true);
    }
}

/// <summary>One bank for a test class (starting one costs a few seconds of modem set-up and first polls).</summary>
public sealed class ApiBankFixture : IAsyncLifetime
{
    public ApiTestBank Bank { get; private set; } = null!; // set by InitializeAsync before any test runs.

    public async Task InitializeAsync() => Bank = await ApiTestBank.StartAsync();

    public async Task DisposeAsync() => await Bank.DisposeAsync();
}
