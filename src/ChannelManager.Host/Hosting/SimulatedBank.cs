using ChannelManager.Core.Transport;
using ChannelManager.HardwareSim.Exchange;
using ChannelManager.HardwareSim.Modems;
using ChannelManager.HardwareSim.Outstations;

namespace ChannelManager.Host.Hosting;

/// <summary>
/// The <c>Simulation</c> section made real: simulated modems (hardware-sim) on in-memory ports and a simulated
/// exchange whose lines answer with Modbus RTU outstations or fail as configured. The host's real AT engine,
/// Channel Manager, guard and scheduler run on top, exactly as on a real bank (the demo's wiring, DemoWorld).
/// </summary>
internal sealed class SimulatedBank : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop;

    private SimulatedBank(PstnExchange exchange, IReadOnlyDictionary<string, IChannelTransport> hostEnds, CancellationTokenSource stop)
    {
        Exchange = exchange;
        HostEnds = hostEnds;
        _stop = stop;
    }

    public PstnExchange Exchange { get; }

    /// <summary>The "serial port" of each simulated modem, by name, for the AT engine.</summary>
    public IReadOnlyDictionary<string, IChannelTransport> HostEnds { get; }

    /// <summary>Starts the modems and adds the lines; the settings must have passed <see cref="SettingsValidator"/>.</summary>
    public static SimulatedBank Start(SimulationSettings settings, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var exchange = new PstnExchange(time);
        foreach (var line in settings.Lines)
        {
            exchange.AddLine(line.Number, ToBehaviour(line, time));
        }

        var stop = new CancellationTokenSource();
        var behaviours = settings.Modems.Select(m =>
        {
            // S12 = 10 (0.2 s escape guard, V.250 §6.3.x) unless configured: the host's EscapeGuardTime must exceed it.
            var b = new ModemBehaviour { Name = m.Name, Fault = m.Fault, SRegisters = { [12] = 10 } };
            foreach (var (register, value) in m.SRegisters)
            {
                b.SRegisters[register] = value;
            }

            return b;
        });
        var started = SimulatedModemBank.StartInProcess(behaviours, exchange, time, stop.Token);
        return new SimulatedBank(exchange, started.ToDictionary(s => s.Modem.Name, s => s.HostEnd, StringComparer.Ordinal), stop);
    }

    private static LineBehaviour ToBehaviour(SimulatedLineSettings line, TimeProvider time)
    {
        switch (line.Behaviour)
        {
            case SimulatedLineBehaviour.Busy:
                return new LineBehaviour.Busy(line.After);
            case SimulatedLineBehaviour.NoAnswer:
                return new LineBehaviour.NoAnswer(line.After);
            case SimulatedLineBehaviour.NoCarrier:
                return new LineBehaviour.NoCarrier(line.After);
            case SimulatedLineBehaviour.Silent:
                return new LineBehaviour.Silent();
            default:
                var map = new ModbusRegisterMap();
                var values = line.Registers.Select(v => (ushort)v).ToArray();
                map.SetHoldingRegisters(0, values);
                map.SetInputRegisters(0, values);
                var rtu = new ModbusRtuOutstation((byte)line.UnitId, time, map) { Fault = line.Fault is { } f ? OutstationFault.Parse(f) : null };
                return new LineBehaviour.Answer(line.After, rtu.ServeAsync);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _stop.Dispose();
    }
}
