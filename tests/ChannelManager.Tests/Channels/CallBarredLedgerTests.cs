using ChannelManager.Core;
using ChannelManager.Core.Channels;
using Microsoft.Extensions.Time.Testing;

namespace ChannelManager.Tests.Channels;

/// <summary>CallRequest.MayTryNextModem: after BLACKLISTED/DELAYED the next modem dials only if the pool-wide ledger allows.</summary>
public sealed class CallBarredLedgerTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 23, 8, 0, 0, TimeSpan.Zero));

    private ModemChannelManager Manager(params FakeModem[] modems) =>
        new(modems.Select(m => ((IModemDevice)m, ModemRole.Default)), new ChannelManagerOptions { MinOnHookTime = TimeSpan.Zero }, _time);

    [Fact]
    public async Task ConnectAsync_CallBarredAndLedgerRefuses_NoSecondDialAndCallBarredReturned()
    {
        var m1 = new FakeModem("M1") { OnDial = (_, _) => FakeModem.Result(OutcomeCode.CallBarredByModem, "BLACKLISTED") };
        var m2 = new FakeModem("M2");
        await using var manager = Manager(m1, m2);
        var asked = new List<OutcomeCode>();

        var result = await manager.ConnectAsync(new CallRequest("RTU-9", "0999") { MayTryNextModem = c => { asked.Add(c); return false; } }, CancellationToken.None);

        Assert.Equal(OutcomeCode.CallBarredByModem, result.Outcome.Code);
        Assert.Null(result.Lease);
        Assert.Equal([OutcomeCode.CallBarredByModem], asked);
        Assert.Empty(m2.Dials);
        Assert.Equal(1, manager.Modems.Single(m => m.Name == "M1").Statistics.Errors);
        Assert.Equal(0, manager.Outstations.GetValueOrDefault("RTU-9")?.Errors ?? 0);
    }

    [Fact]
    public async Task ConnectAsync_CallBarredAndLedgerAllows_CompletesOnNextModem()
    {
        var m1 = new FakeModem("M1") { OnDial = (_, _) => FakeModem.Result(OutcomeCode.CallBarredByModem, "DELAYED") };
        var m2 = new FakeModem("M2");
        await using var manager = Manager(m1, m2);

        var result = await manager.ConnectAsync(new CallRequest("RTU-9", "0999") { MayTryNextModem = _ => true }, CancellationToken.None);

        Assert.Equal(OutcomeCode.Success, result.Outcome.Code);
        Assert.Equal("M2", result.Outcome.Modem);
        Assert.Equal(["0999"], m2.Dials);
        await result.Lease!.DisposeAsync();
    }

    [Fact]
    public async Task ConnectAsync_NoDialToneWithRefusingLedger_LedgerNotAskedAndNextModemUsed()
    {
        // Only a call-barring refusal concerns the number; NO DIALTONE is the modem's line alone.
        var m1 = new FakeModem("M1") { OnDial = (_, _) => FakeModem.Result(OutcomeCode.NoDialTone, "NO DIALTONE") };
        var m2 = new FakeModem("M2");
        await using var manager = Manager(m1, m2);
        var asked = 0;

        var result = await manager.ConnectAsync(new CallRequest("RTU-9", "0999") { MayTryNextModem = _ => { asked++; return false; } }, CancellationToken.None);

        Assert.Equal(OutcomeCode.Success, result.Outcome.Code);
        Assert.Equal(0, asked);
        await result.Lease!.DisposeAsync();
    }
}
