using ChannelManager.Core;
using ChannelManager.Core.Channels;
using ChannelManager.Core.Modems;
using Microsoft.Extensions.Time.Testing;

namespace ChannelManager.Tests.Channels;

/// <summary>
/// A modem that faults mid-call and cannot hang up (no OK to the escape/ATH, reset fails, no DTR line) may still hold
/// the outstation's line. The Channel Manager then dials that number on no modem until the faulted one proves on-hook
/// (a successful reset by the health check, or a successful init), instead of dialling into an engaged line (BUSY, a
/// wasted counted attempt — the soak's "line already in a call" signature).
/// </summary>
public sealed class HeldLineTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 5, 9, 0, 0, TimeSpan.Zero);
    private readonly FakeTimeProvider _time = new(T0);

    [Fact]
    public async Task ConnectAsync_NumberHeldByModemWhoseHangUpFailed_NotDialledUntilHealthCheckResetProvesOnHook()
    {
        var m1 = new FakeModem("M1");
        var m2 = new FakeModem("M2");
        await using var manager = Manager(m1, m2);
        var first = await manager.ConnectAsync(new CallRequest("RTU-1", "0111"), CancellationToken.None);
        Assert.Equal("M1", first.Outcome.Modem);

        // M1 hangs mid-call: neither ATH nor the recovery sequence gets an answer.
        var resets = 0;
        m1.OnHangUp = _ => FakeModem.Result(OutcomeCode.ModemNotResponding, "(no reply)");
        m1.OnReset = _ =>
        {
            resets++;
            return FakeModem.Result(OutcomeCode.ModemNotResponding, "(no reply)");
        };
        await first.Lease!.DisposeAsync();
        Assert.Equal(1, resets);

        // Another number goes out on M2 at once; the held number waits although M2 is free.
        var other = await manager.ConnectAsync(new CallRequest("RTU-2", "0222"), CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("M2", other.Outcome.Modem);
        await other.Lease!.DisposeAsync();
        var redial = manager.ConnectAsync(new CallRequest("RTU-1", "0111"), CancellationToken.None);
        await Task.Yield();
        Assert.False(redial.IsCompleted);
        Assert.Equal(["0111"], m1.Dials);
        Assert.Equal(["0222"], m2.Dials);

        // Quarantine over, but M1 still cannot reset: the health check must not take an answer to "AT" as on-hook.
        var checksBefore = m1.Checks;
        _time.Advance(TimeSpan.FromSeconds(11));
        await manager.CheckIdleModemsAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(checksBefore, m1.Checks);
        Assert.True(resets >= 2);
        Assert.False(redial.IsCompleted);

        // The modem recovers: its reset (ATH, ATZ) proves it on-hook and the waiting request dials.
        m1.OnReset = _ =>
        {
            resets++;
            return FakeModem.Ok();
        };
        _time.Advance(TimeSpan.FromSeconds(30));
        await manager.CheckIdleModemsAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        var result = await redial.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(OutcomeCode.Success, result.Outcome.Code);
        Assert.Equal(2, m1.Dials.Count(d => d == "0111") + m2.Dials.Count(d => d == "0111"));
        await result.Lease!.DisposeAsync();
    }

    [Fact]
    public async Task ConnectAsync_HangUpFailsButRecoveryResets_NumberDialledAgainAtOnce()
    {
        var m1 = new FakeModem("M1") { OnHangUp = _ => FakeModem.Result(OutcomeCode.ModemNotResponding, "(no reply)") };
        await using var manager = Manager(m1);
        var first = await manager.ConnectAsync(new CallRequest("RTU-1", "0111"), CancellationToken.None);
        await first.Lease!.DisposeAsync();

        var again = await manager.ConnectAsync(new CallRequest("RTU-1", "0111"), CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(OutcomeCode.Success, again.Outcome.Code);
        Assert.Equal(["0111", "0111"], m1.Dials);
        await again.Lease!.DisposeAsync();
    }

    private ModemChannelManager Manager(params FakeModem[] modems) =>
        new(modems.Select(m => ((IModemDevice)m, ModemRole.Default)), new ChannelManagerOptions
        {
            MinOnHookTime = TimeSpan.Zero,
            QuarantineInitial = TimeSpan.FromSeconds(10),
            MaxQueueTime = TimeSpan.FromHours(1),
        }, _time);
}
