using ChannelManager.Core.Channels;
using ChannelManager.Core.Modems;
using ChannelManager.Core.Transport;
using ChannelManager.HardwareSim.Exchange;
using ChannelManager.HardwareSim.Modems;
using ChannelManager.IntegrationTests.Support;
using ChannelManager.Transport.Serial;
using ChannelManager.Transport.Tcp;

namespace ChannelManager.IntegrationTests.Channels;

/// <summary>
/// Simulated modems behind real pseudo-terminals (design.md §7): each modem runs in-process on one end
/// of a socat pty pair, so ONE <see cref="PstnExchange"/> logs every modem's calls; the AT engine opens
/// the other end through the serial adapter, or — for a modem marked <c>viaSer2Net</c> — that end is
/// exported by ser2net and the AT engine connects through the TCP adapter.
/// </summary>
internal sealed class PtyBank : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly List<IAsyncDisposable> _owned = [];
    private readonly List<Task> _modemRuns = [];

    private PtyBank()
    {
    }

    public PstnExchange Exchange { get; } = new(TimeProvider.System);

    public List<SimulatedModem> Modems { get; } = [];

    public Dictionary<string, Ser2NetServer> Ser2Net { get; } = [];

    public ModemChannelManager Manager { get; private set; } = null!; // set by StartAsync before the bank is returned

    /// <summary>The bank as configuration would describe it: Port = pty end A, or Endpoint = ser2net's tcp://.</summary>
    public List<ModemOptions> Config { get; } = [];

    /// <param name="factory">Null: AtModem on adapters built here; else builds the manager from <see cref="Config"/> (the host's path).</param>
    public static async Task<PtyBank> StartAsync(IReadOnlyList<(ModemBehaviour Behaviour, bool ViaSer2Net)> modems, ChannelManagerOptions options, Func<IReadOnlyList<ModemOptions>, ModemChannelManager>? factory = null)
    {
        var bank = new PtyBank();
        try
        {
            var devices = new List<(IModemDevice, ModemRole)>();
            foreach (var (behaviour, viaSer2Net) in modems)
            {
                var pty = await SocatPtyPair.StartAsync();
                bank._owned.Add(pty);

                // The modem's side: pty B, the simulated modem as the DCE.
                var modemPort = new SerialChannelTransport(new SerialTransportOptions { PortName = pty.B, BaudRate = 19200 }, TimeProvider.System);
                bank._owned.Add(modemPort);
                await modemPort.OpenAsync(CancellationToken.None);
                var modem = new SimulatedModem(behaviour, bank.Exchange, TimeProvider.System);
                bank.Modems.Add(modem);
                bank._modemRuns.Add(modem.RunAsync(modemPort, bank._stop.Token));

                // The host's side: pty A, directly or through ser2net.
                IChannelTransport hostLink;
                if (viaSer2Net)
                {
                    var ser2net = await Ser2NetServer.StartAsync(pty.A);
                    bank._owned.Add(ser2net);
                    bank.Ser2Net[behaviour.Name] = ser2net;
                    bank.Config.Add(Configured(behaviour.Name, port: null, ser2net.Endpoint));
                    if (factory is null)
                    {
                        hostLink = new TcpChannelTransport(TcpTransportOptions.Parse(ser2net.Endpoint), TimeProvider.System);
                        devices.Add((new AtModem(hostLink, ownsTransport: true, SimulatedBank.AtOptions(behaviour.Name), TimeProvider.System), ModemRole.Default));
                    }
                }
                else
                {
                    bank.Config.Add(Configured(behaviour.Name, pty.A, endpoint: null));
                    if (factory is null)
                    {
                        hostLink = new SerialChannelTransport(new SerialTransportOptions { PortName = pty.A, BaudRate = 19200 }, TimeProvider.System);
                        devices.Add((new AtModem(hostLink, ownsTransport: true, SimulatedBank.AtOptions(behaviour.Name), TimeProvider.System), ModemRole.Default));
                    }
                }
            }

            bank.Manager = factory is null ? new ModemChannelManager(devices, options, TimeProvider.System) : factory(bank.Config);
            return bank;
        }
        catch
        {
            await bank.DisposeAsync();
            throw;
        }
    }

    private static ModemOptions Configured(string name, string? port, string? endpoint) => new()
    {
        Name = name,
        Port = port,
        Endpoint = endpoint,
        BaudRate = 19200,
        CommandTimeout = TimeSpan.FromSeconds(1),
        DialTimeout = TimeSpan.FromSeconds(8),
        EscapeGuardTime = TimeSpan.FromMilliseconds(300),
    };

    public async ValueTask DisposeAsync()
    {
        if (Manager is not null)
        {
            await Manager.DisposeAsync();
        }

        await _stop.CancelAsync();
        await Task.WhenAll(_modemRuns).WaitAsync(TimeSpan.FromSeconds(10));
        for (var i = _owned.Count - 1; i >= 0; i--)
        {
            await _owned[i].DisposeAsync();
        }

        _stop.Dispose();
    }
}
