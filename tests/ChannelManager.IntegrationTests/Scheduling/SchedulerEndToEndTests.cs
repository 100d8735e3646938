using ChannelManager.Core;
using ChannelManager.Core.Channels;
using ChannelManager.Core.Modems;
using ChannelManager.Core.Protocols.Modbus;
using ChannelManager.Core.Scheduling;
using ChannelManager.Core.Transport;
using ChannelManager.HardwareSim.Exchange;
using ChannelManager.HardwareSim.Modems;
using ChannelManager.HardwareSim.Outstations;
using ChannelManager.Persistence.Sqlite;

namespace ChannelManager.IntegrationTests.Scheduling;

/// <summary>
/// The scheduler on the real stack, in real time: PollTransaction → ModemChannelManager → AT engine → simulated
/// modems and PSTN exchange → Modbus RTU outstation, with the ledger and log in a SQLite file.
/// </summary>
public sealed class SchedulerEndToEndTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("cm-sched-e2e-");

    public void Dispose() => _dir.Delete(recursive: true);

    [Fact]
    public async Task RunAsync_HealthyAndBusyOutstationsOnSimulatedBank_PollsRepeatAndBusyLineIsNotRedialledEarly()
    {
        var time = TimeProvider.System;
        using var stopSim = new CancellationTokenSource();
        var exchange = new PstnExchange(time);
        var map = new ModbusRegisterMap();
        map.SetHoldingRegisters(0, 1001, 2317);
        var rtu = new ModbusRtuOutstation(1, time, map);
        exchange.AddLine("01632960001", new LineBehaviour.Answer(TimeSpan.FromMilliseconds(200), rtu.ServeAsync));
        exchange.AddLine("01632960002", new LineBehaviour.Busy(TimeSpan.FromMilliseconds(200)));

        // M2 has no dial tone: a set-up fault the Channel Manager retries on the next modem, never the outstation's.
        var behaviours = new[]
        {
            new ModemBehaviour { Name = "M1", SRegisters = { [12] = 10 } },
            new ModemBehaviour { Name = "M2", Fault = ModemFault.NoDialTone, SRegisters = { [6] = 1, [12] = 10 } },
        };
        var ports = SimulatedModemBank.StartInProcess(behaviours, exchange, time, stopSim.Token);
        var modems = ports.Select(p => ((IModemDevice)new AtModem(p.HostEnd, ownsTransport: true, new AtModemOptions
        {
            Name = p.Modem.Name, CommandTimeout = TimeSpan.FromSeconds(1), DialTimeout = TimeSpan.FromSeconds(5), EscapeGuardTime = TimeSpan.FromMilliseconds(300),
        }, time), ModemRole.Default));
        await using var channels = new ModemChannelManager(modems, new ChannelManagerOptions
        {
            MaxQueueTime = TimeSpan.FromSeconds(10), MinOnHookTime = TimeSpan.FromMilliseconds(300), HangUpTimeout = TimeSpan.FromSeconds(5),
        }, time);
        await using var store = await SqliteStateStore.OpenAsync(new SqliteStateStoreOptions { Path = Path.Combine(_dir.FullName, "state.db") }, CancellationToken.None);
        var book = new RepeatCallBook(CountryProfiles.UK, store);
        var backoff = BackoffPolicy.From(new BackoffOptions { Initial = TimeSpan.FromSeconds(1), Max = TimeSpan.FromSeconds(1) });
        OutstationSchedule Schedule(string name, string number) =>
            new(name, number, new ModbusRtuMaster(new ModbusRtuOptions { UnitId = 1, BaudRate = 19200, Parity = SerialParity.None, ResponseTimeout = TimeSpan.FromMilliseconds(400) }, time), [new ReadHoldingRegisters(0, 2)], TimeSpan.FromSeconds(3), backoff);
        var scheduler = new PollScheduler(
            [Schedule("RTU-OK", "01632960001"), Schedule("RTU-BUSY", "01632960002")],
            new PollTransaction(channels, book, time),
            book,
            store,
            new SchedulerOptions { MaxConcurrency = 2, MaxQueueTime = TimeSpan.FromSeconds(20) },
            time,
            Random.Shared.NextDouble);

        using var stop = new CancellationTokenSource();
        var run = scheduler.RunAsync(stop.Token);
        using (var bound = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
        {
            while ((await store.ReadTransactionsAsync(10, "RTU-OK", bound.Token)).Count(t => t.Code == OutcomeCode.Success) < 2)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100), time, bound.Token);
            }
        }

        await stop.CancelAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(30));
        await stopSim.CancelAsync();

        var log = await store.ReadTransactionsAsync(100, null, CancellationToken.None);
        Assert.True(log.Count(t => t.Outstation == "RTU-OK" && t.Code == OutcomeCode.Success) >= 2, string.Join("; ", log.Select(t => $"{t.Outstation} {t.Code}")));

        // The busy line was dialled once: the back-off asked for 1 s, the UK guard moved the retry to 2 min after on-hook.
        var busy = Assert.Single(log, t => t.Outstation == "RTU-BUSY");
        Assert.Equal(OutcomeCode.Busy, busy.Code);
        Assert.Single(exchange.CallLog, c => c.Number == "01632960002");
        var status = scheduler.Status.Single(s => s.Name == "RTU-BUSY");
        Assert.Equal(book.LedgerOf("01632960002").NextAllowedAt, status.PendingRetry);
        Assert.Equal(busy.EndedAt.AddMinutes(2), status.PendingRetry.GetValueOrDefault(), TimeSpan.FromSeconds(1));
        Assert.Empty(exchange.Violations);
        Assert.Empty(scheduler.Alarms);
    }
}
