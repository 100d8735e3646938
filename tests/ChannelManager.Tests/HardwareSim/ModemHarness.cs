using System.Text;
using ChannelManager.Core.Transport;
using ChannelManager.HardwareSim.Exchange;
using ChannelManager.HardwareSim.Modems;
using Microsoft.Extensions.Time.Testing;

namespace ChannelManager.Tests.HardwareSim;

/// <summary>
/// Drives one simulated modem through its in-memory port with raw bytes, on a fake clock. Every
/// wait is bounded by <see cref="Guard"/> of real time so a broken modem fails the test instead of
/// hanging it; the fake clock is only moved after the modem has handled all input
/// (<see cref="SimulatedModem.WhenIdleAsync"/>), so the timers that input started already exist.
/// </summary>
internal sealed class ModemHarness : IAsyncDisposable
{
    public static readonly TimeSpan Guard = TimeSpan.FromSeconds(5);

    private readonly CancellationTokenSource _stop = new();
    private readonly List<byte> _unread = [];

    private ModemHarness(ModemBehaviour behaviour)
    {
        Time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 23, 9, 0, 0, TimeSpan.Zero));
        Exchange = new PstnExchange(Time);
        var (modem, host) = SimulatedModemBank.StartInProcess([behaviour], Exchange, Time, _stop.Token)[0];
        Modem = modem;
        Host = host;
    }

    public FakeTimeProvider Time { get; }

    public PstnExchange Exchange { get; }

    public SimulatedModem Modem { get; }

    public IChannelTransport Host { get; }

    public static ModemHarness Start(ModemBehaviour? behaviour = null) => new(behaviour ?? new ModemBehaviour { Name = "M1" });

    /// <summary>Starts with echo off (ATE0 handled and its reply consumed), as a host's init string would.</summary>
    public static async Task<ModemHarness> StartQuietEchoAsync(ModemBehaviour? behaviour = null)
    {
        var harness = Start(behaviour);
        await harness.SendAsync("ATE0\r");
        Assert.Equal("ATE0\r\r\nOK\r\n", await harness.ReadAsync("ATE0\r\r\nOK\r\n".Length));
        return harness;
    }

    public async Task SendAsync(string text) => await SendAsync(Encoding.ASCII.GetBytes(text));

    public async Task SendAsync(byte[] bytes)
    {
        using var guard = new CancellationTokenSource(Guard);
        await Host.WriteAsync(bytes, guard.Token);
        await Modem.WhenIdleAsync(guard.Token);
    }

    /// <summary>Moves the fake clock once the modem is idle, then waits for it to settle again.</summary>
    public async Task AdvanceAsync(TimeSpan by)
    {
        using var guard = new CancellationTokenSource(Guard);
        await Modem.WhenIdleAsync(guard.Token);
        Time.Advance(by);
        await Modem.WhenIdleAsync(guard.Token);
    }

    /// <summary>Reads exactly <paramref name="count"/> bytes (as ASCII/Latin-1 text); fails after <see cref="Guard"/>.</summary>
    public async Task<string> ReadAsync(int count)
    {
        using var guard = new CancellationTokenSource(Guard);
        var buffer = new byte[4096];
        while (_unread.Count < count)
        {
            int n;
            try
            {
                n = await Host.ReadAsync(buffer, guard.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"expected {count} bytes, got {_unread.Count}: '{Escape(Encoding.Latin1.GetString(_unread.ToArray()))}'");
                throw;
            }

            Assert.True(n > 0, "modem closed its port");
            _unread.AddRange(buffer.AsSpan(0, n).ToArray());
        }

        var text = Encoding.Latin1.GetString(_unread.GetRange(0, count).ToArray());
        _unread.RemoveRange(0, count);
        return text;
    }

    /// <summary>Reads the length of <paramref name="expected"/> and asserts it is exactly that.</summary>
    public async Task ExpectAsync(string expected) => Assert.Equal(Escape(expected), Escape(await ReadAsync(expected.Length)));

    /// <summary>Asserts the modem has sent nothing more once idle (waits a short real time for stragglers).</summary>
    public async Task ExpectSilenceAsync()
    {
        using (var guard = new CancellationTokenSource(Guard))
        {
            await Modem.WhenIdleAsync(guard.Token);
        }

        if (_unread.Count > 0)
        {
            Assert.Fail($"unexpected bytes: '{Escape(Encoding.Latin1.GetString(_unread.ToArray()))}'");
        }

        using var shortWait = new CancellationTokenSource(TimeSpan.FromMilliseconds(150));
        var buffer = new byte[256];
        try
        {
            var n = await Host.ReadAsync(buffer, shortWait.Token);
            Assert.Fail($"unexpected bytes: '{Escape(Encoding.Latin1.GetString(buffer, 0, n))}'");
        }
        catch (OperationCanceledException)
        {
            // Nothing arrived: as expected.
        }
    }

    public static string Escape(string s) => s.Replace("\r", "\\r", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (Modem.Completion is { } run)
        {
            await run.WaitAsync(Guard);
        }

        _stop.Dispose();
    }
}
