using ChannelManager.Core.Transport;
using ChannelManager.HardwareSim.Exchange;

namespace ChannelManager.HardwareSim.Modems;

/// <summary>Starts simulated modems in-process, each on an in-memory "serial port".</summary>
public static class SimulatedModemBank
{
    /// <summary>
    /// Starts one modem per behaviour on its own in-memory pair. HostEnd is the end the host's AT
    /// engine uses (as it would a COM port); the modems run until <paramref name="ct"/> is
    /// cancelled or the host end is closed. Each modem's <see cref="SimulatedModem.WhenIdleAsync"/>
    /// counts what is written on its HostEnd.
    /// </summary>
    public static IReadOnlyList<(SimulatedModem Modem, IChannelTransport HostEnd)> StartInProcess(
        IEnumerable<ModemBehaviour> modems, PstnExchange exchange, TimeProvider time, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(modems);
        var started = new List<(SimulatedModem, IChannelTransport)>();
        foreach (var behaviour in modems)
        {
            var (hostEnd, modemEnd) = InMemoryTransport.CreatePair($"sim:{behaviour.Name}", $"sim:{behaviour.Name}:modem");
            var counted = new CountingTransport(hostEnd);
            var modem = new SimulatedModem(behaviour, exchange, time);
            modem.CountHostBytesWith(() => counted.BytesWritten);
            modem.Completion = modem.RunAsync(modemEnd, ct);
            started.Add((modem, counted));
        }

        return started;
    }

    /// <summary>The host's end: an in-memory port that counts the bytes the host wrote, so tests can wait until the modem has seen them.</summary>
    private sealed class CountingTransport(InMemoryTransport inner) : IChannelTransport
    {
        private long _written;

        public long BytesWritten => Interlocked.Read(ref _written);

        public string Endpoint => inner.Endpoint;

        public bool IsOpen => inner.IsOpen;

        public IModemControlLines? ControlLines => inner.ControlLines;

        public Task OpenAsync(CancellationToken cancellationToken) => inner.OpenAsync(cancellationToken);

        public Task CloseAsync(CancellationToken cancellationToken) => inner.CloseAsync(cancellationToken);

        public ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken) => inner.ReadAsync(buffer, cancellationToken);

        public async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
        {
            await inner.WriteAsync(data, cancellationToken);
            Interlocked.Add(ref _written, data.Length);
        }

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
