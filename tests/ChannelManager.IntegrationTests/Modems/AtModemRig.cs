using ChannelManager.Core.Modems;
using ChannelManager.Core.Transport;
using ChannelManager.IntegrationTests.Support;
using ChannelManager.Transport.Serial;
using ChannelManager.Transport.Tcp;

namespace ChannelManager.IntegrationTests.Modems;

/// <summary>How the host reaches the simulated modem's serial port (design.md §7).</summary>
public enum RigLink
{
    /// <summary>SerialChannelTransport on one end of a socat pty pair; the simulator process holds the other end.</summary>
    Serial,

    /// <summary>ser2net exports the host's pty end as raw TCP; TcpChannelTransport connects to it.</summary>
    Ser2Net,
}

/// <summary>
/// One AT engine wired to one simulated-modem PROCESS through real parts: socat pty pair, the simulator
/// (`channelmanager-sim modem --port`), optionally ser2net, and the real adapter. Disposal ends every
/// process it started, in reverse order, whatever state the test left them in.
/// </summary>
internal sealed class AtModemRig : IAsyncDisposable
{
    /// <summary>The scenario (hardware-sim/scenarios/at-engine-rig.json) numbers.</summary>
    public const string EchoNumber = "01632960201";
    public const string BusyNumber = "01632960202";
    public const string SilentNumber = "01632960203";

    /// <summary>Upper bound on anything a test waits for (process start, one modem operation): a hang fails, never blocks CI.</summary>
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    private readonly SocatPtyPair _pty;
    private readonly ExternalProcess _simulator;
    private readonly Ser2NetServer? _ser2net;

    private AtModemRig(SocatPtyPair pty, ExternalProcess simulator, Ser2NetServer? ser2net, AtModem modem)
    {
        _pty = pty;
        _simulator = simulator;
        _ser2net = ser2net;
        Modem = modem;
    }

    public AtModem Modem { get; }

    public SocatPtyPair Pty => _pty;

    /// <summary>The serial server, for <see cref="RigLink.Ser2Net"/> rigs (null on the serial link).</summary>
    public Ser2NetServer? Ser2Net => _ser2net;

    /// <summary>
    /// Short real-time timings. Escape guard 400 ms exceeds the scenario's S12 = 10 (0.2 s); the dial timeout
    /// is the minimum the options allow (5 s). ATZ gets the plain command timeout so a hung modem fails fast.
    /// </summary>
    public static AtModemOptions Options(string name) => new()
    {
        Name = name,
        CommandTimeout = TimeSpan.FromMilliseconds(1500),
        ResetTimeout = TimeSpan.FromMilliseconds(1500),
        DialTimeout = TimeSpan.FromSeconds(5),
        EscapeGuardTime = TimeSpan.FromMilliseconds(400),
    };

    /// <summary>Starts socat, the simulator running scenario modem <paramref name="modemName"/>, ser2net if asked, and an AtModem that owns its transport.</summary>
    public static async Task<AtModemRig> StartAsync(RigLink link, string modemName, bool kickOldUser = true)
    {
        var pty = await SocatPtyPair.StartAsync().WaitAsync(Bound);
        ExternalProcess? simulator = null;
        Ser2NetServer? ser2net = null;
        try
        {
            simulator = ExternalProcess.StartSimulator("modem", "--port", pty.B, "--scenario", ScenarioPath(), "--modem", modemName, "--baud", "19200");
            await simulator.WaitForLineAsync("READY", Bound);
            IChannelTransport transport;
            if (link == RigLink.Ser2Net)
            {
                ser2net = await Ser2NetServer.StartAsync(pty.A, kickOldUser: kickOldUser).WaitAsync(Bound);
                transport = TcpLink(ser2net);
            }
            else
            {
                transport = new SerialChannelTransport(
                    new SerialTransportOptions
                    {
                        PortName = pty.A,
                        BaudRate = 19200,
                        WriteTimeout = TimeSpan.FromSeconds(1),
                        CloseTimeout = TimeSpan.FromSeconds(1),
                    },
                    TimeProvider.System);
            }

            var modem = new AtModem(transport, ownsTransport: true, Options(modemName), TimeProvider.System);
            return new AtModemRig(pty, simulator, ser2net, modem);
        }
        catch
        {
            if (ser2net is not null)
            {
                await ser2net.DisposeAsync();
            }

            if (simulator is not null)
            {
                await simulator.DisposeAsync();
            }

            await pty.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Another AT engine on the same ser2net port, as a second host sees the shared modem (active/active); the caller
    /// disposes it.
    /// </summary>
    public AtModem SecondHostModem(string name) =>
        new(TcpLink(_ser2net ?? throw new InvalidOperationException("Only a ser2net rig has a port a second host can reach.")), ownsTransport: true, Options(name), TimeProvider.System);

    private static TcpChannelTransport TcpLink(Ser2NetServer ser2net)
    {
        var tcp = TcpTransportOptions.Parse(ser2net.Endpoint);
        tcp.ConnectTimeout = TimeSpan.FromSeconds(3);
        tcp.WriteTimeout = TimeSpan.FromSeconds(1);
        return new TcpChannelTransport(tcp, TimeProvider.System);
    }

    /// <summary>For assertion messages: what the simulator process printed.</summary>
    public string SimulatorOutput => _simulator.Output;

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Modem.DisposeAsync().AsTask().WaitAsync(Bound);
        }
        finally
        {
            if (_ser2net is not null)
            {
                await _ser2net.DisposeAsync();
            }

            await _simulator.DisposeAsync();
            await _pty.DisposeAsync();
        }
    }

    private static string ScenarioPath()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "ChannelManager.sln")))
        {
            dir = dir.Parent;
        }

        return dir is null
            ? throw new InvalidOperationException("repository root not found above " + AppContext.BaseDirectory)
            : Path.Combine(dir.FullName, "hardware-sim", "scenarios", "at-engine-rig.json");
    }
}
