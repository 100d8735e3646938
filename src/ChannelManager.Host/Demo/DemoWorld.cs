using ChannelManager.Core.Channels;
using ChannelManager.Core.Modems;
using ChannelManager.Core.Protocols;
using ChannelManager.Core.Protocols.Modbus;
using ChannelManager.Core.Scheduling;
using ChannelManager.Core.Transport;
using ChannelManager.HardwareSim.Exchange;
using ChannelManager.HardwareSim.Modems;
using ChannelManager.HardwareSim.Outstations;

namespace ChannelManager.Host.Demo;

/// <summary>One outstation of the demo: its line behaviour in the simulated exchange and how it is polled.</summary>
internal sealed record DemoOutstation(string Name, string Number, string Behaviour, byte UnitId, IProtocolDriver Driver, IReadOnlyList<ProtocolCommand> Commands);

/// <summary>
/// The embedded demo bank: simulated modems on in-memory ports, a simulated PSTN exchange with
/// outstations behind it, and the real AT engine, Channel Manager, Modbus master and repeat-call
/// guard on top — nothing but the hardware is simulated.
/// </summary>
internal sealed class DemoWorld : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop;

    private DemoWorld(PstnExchange exchange, ModemChannelManager channels, RepeatCallBook ledger, IReadOnlyList<DemoOutstation> outstations, TimeProvider time, CancellationTokenSource stop)
    {
        _stop = stop;
        Exchange = exchange;
        Channels = channels;
        Ledger = ledger;
        Outstations = outstations;
        Transactions = new PollTransaction(channels, ledger, time);
    }

    public PstnExchange Exchange { get; }

    public ModemChannelManager Channels { get; }

    public RepeatCallBook Ledger { get; }

    public PollTransaction Transactions { get; }

    public IReadOnlyList<DemoOutstation> Outstations { get; }

    public static DemoWorld Create(TimeProvider time)
    {
        var exchange = new PstnExchange(time);
        var stop = new CancellationTokenSource();
        var answerDelay = TimeSpan.FromMilliseconds(300);
        var outstations = new List<DemoOutstation>();

        void Add(string name, string number, string behaviour, LineBehaviour line, byte unit = 1)
        {
            exchange.AddLine(number, line);
            var driver = new ModbusRtuMaster(new ModbusRtuOptions { UnitId = unit, BaudRate = 19200, Parity = SerialParity.None, ResponseTimeout = TimeSpan.FromMilliseconds(400), TimeoutRetries = 2 }, time);
            outstations.Add(new DemoOutstation(name, number, behaviour, unit, driver, [new ReadHoldingRegisters(0, 4)]));
        }

        LineBehaviour Rtu(byte unit, OutstationFault? fault = null)
        {
            var map = new ModbusRegisterMap();
            map.SetHoldingRegisters(0, (ushort)(1000 + unit), 2317, 48, 1);
            var rtu = new ModbusRtuOutstation(unit, time, map) { Fault = fault };
            return new LineBehaviour.Answer(answerDelay, rtu.ServeAsync);
        }

        Add("RTU-01 Reservoir", "01632960001", "answers, Modbus OK", Rtu(1));
        Add("RTU-02 Pump stn", "01632960002", "line busy", new LineBehaviour.Busy(TimeSpan.FromMilliseconds(200)));
        Add("RTU-03 Borehole", "01632960003", "rings out, no answer", new LineBehaviour.NoAnswer(TimeSpan.FromMilliseconds(400)));
        Add("RTU-04 Sewage PS", "01632960004", "answers, no carrier", new LineBehaviour.NoCarrier(TimeSpan.FromMilliseconds(300)));
        Add("RTU-05 Valve ch.", "01632960005", "silent line (dial timeout)", new LineBehaviour.Silent());
        Add("RTU-06 Tower", "01632960006", "answers, RTU mute", Rtu(6, OutstationFault.NoReply), unit: 6);
        Add("RTU-07 Booster", "01632960007", "answers, exception 02", Rtu(7, OutstationFault.Exception(ModbusExceptionCode.IllegalDataAddress)), unit: 7);

        // M2 fails its init string, M4 has no dial tone: both are channel set-up faults, retried on the next modem.
        // S12 = 10 (0.2 s escape guard, V.250 §6.3.x) so hang-ups are quick; the AT engine's guard time
        // must be at least the modem's, or the modem treats "+++" as data — as a real one would.
        var behaviours = new[]
        {
            new ModemBehaviour { Name = "M1", SRegisters = { [12] = 10 } },
            new ModemBehaviour { Name = "M2", Fault = ModemFault.InitError, SRegisters = { [12] = 10 } },
            new ModemBehaviour { Name = "M3", SRegisters = { [12] = 10 } },
            new ModemBehaviour { Name = "M4", Fault = ModemFault.NoDialTone, SRegisters = { [6] = 1, [12] = 10 } },
        };
        var ports = SimulatedModemBank.StartInProcess(behaviours, exchange, time, stop.Token);
        var modems = ports.Select(p => ((IModemDevice)new AtModem(p.HostEnd, ownsTransport: true, new AtModemOptions
        {
            Name = p.Modem.Name,
            CommandTimeout = TimeSpan.FromSeconds(1),
            DialTimeout = TimeSpan.FromSeconds(5),
            EscapeGuardTime = TimeSpan.FromMilliseconds(300),
        }, time), ModemRole.Default));
        var channels = new ModemChannelManager(modems, new ChannelManagerOptions
        {
            MaxQueueTime = TimeSpan.FromSeconds(10),
            MinOnHookTime = TimeSpan.FromMilliseconds(500),
            HangUpTimeout = TimeSpan.FromSeconds(5),
        }, time);

        return new DemoWorld(exchange, channels, new RepeatCallBook(CountryProfiles.UK), outstations, time, stop);
    }

    public async ValueTask DisposeAsync()
    {
        await Channels.DisposeAsync().ConfigureAwait(false);
        await _stop.CancelAsync().ConfigureAwait(false);
        _stop.Dispose();
    }
}
