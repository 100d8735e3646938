using ChannelManager.Core.Channels;
using ChannelManager.Core.Modems;
using ChannelManager.HardwareSim.Exchange;
using ChannelManager.HardwareSim.Modems;

namespace ChannelManager.IntegrationTests.Channels;

/// <summary>
/// The real AT engine and Channel Manager over in-process simulated modems and one simulated exchange,
/// in real time with short timings (as DemoWorld wires it). S12 = 10 (0.2 s) with a 0.3 s engine
/// guard time: the engine's guard must exceed the modem's (helper brief, lesson learned).
/// </summary>
internal sealed class SimulatedBank : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();

    public SimulatedBank(IReadOnlyList<(ModemBehaviour Behaviour, ModemRole Role)> modems, ChannelManagerOptions? options = null)
    {
        Exchange = new PstnExchange(TimeProvider.System);
        var ports = SimulatedModemBank.StartInProcess(modems.Select(m => m.Behaviour), Exchange, TimeProvider.System, _stop.Token);
        Modems = ports.Select(p => p.Modem).ToArray();
        var devices = ports.Select((p, i) => ((IModemDevice)new AtModem(p.HostEnd, ownsTransport: true, AtOptions(p.Modem.Name), TimeProvider.System), modems[i].Role)).ToList();
        Manager = new ModemChannelManager(devices, options ?? Options(), TimeProvider.System);
    }

    public PstnExchange Exchange { get; }

    public IReadOnlyList<SimulatedModem> Modems { get; }

    public ModemChannelManager Manager { get; }

    public static ModemBehaviour Modem(string name, ModemFault fault = ModemFault.None) => new() { Name = name, Fault = fault, SRegisters = { [12] = 10 } };

    public static AtModemOptions AtOptions(string name) => new()
    {
        Name = name,
        CommandTimeout = TimeSpan.FromSeconds(1),
        ResetTimeout = TimeSpan.FromSeconds(2),
        DialTimeout = TimeSpan.FromSeconds(8),
        EscapeGuardTime = TimeSpan.FromMilliseconds(300),
        DtrDropTime = TimeSpan.FromMilliseconds(100),
    };

    /// <summary>Short pool timings; bounds stay generous for a loaded 2-core machine (assert outcomes, not durations).</summary>
    public static ChannelManagerOptions Options(TimeSpan? maxQueue = null) => new()
    {
        MaxQueueTime = maxQueue ?? TimeSpan.FromSeconds(60),
        MinOnHookTime = TimeSpan.FromMilliseconds(100),
        HangUpTimeout = TimeSpan.FromSeconds(5),
        QuarantineInitial = TimeSpan.FromSeconds(1),
        QuarantineMax = TimeSpan.FromSeconds(2),
        HealthCheckInterval = TimeSpan.FromSeconds(1),
    };

    /// <summary>Writes a few bytes on the call and reads the echo back (EchoCallee on the far end).</summary>
    public static async Task<bool> EchoAsync(Core.Transport.IChannelTransport link, byte[] data, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await link.WriteAsync(data, cts.Token);
        var got = new byte[data.Length];
        var n = 0;
        while (n < got.Length)
        {
            var r = await link.ReadAsync(got.AsMemory(n), cts.Token);
            if (r == 0)
            {
                return false;
            }

            n += r;
        }

        return got.AsSpan().SequenceEqual(data);
    }

    /// <summary>Runs health passes until <paramref name="done"/> holds (bounded; a hang fails the test).</summary>
    public Task CheckUntilAsync(Func<bool> done, TimeSpan timeout) => CheckUntilAsync(Manager, done, timeout);

    /// <summary>Runs health passes of <paramref name="manager"/> until <paramref name="done"/> holds (bounded; a hang fails the test).</summary>
    public static async Task CheckUntilAsync(ModemChannelManager manager, Func<bool> done, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (!done())
        {
            await manager.CheckIdleModemsAsync(cts.Token);
            await Task.Delay(TimeSpan.FromMilliseconds(200), TimeProvider.System, cts.Token);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Manager.DisposeAsync();
        await _stop.CancelAsync();
        _stop.Dispose();
    }
}
