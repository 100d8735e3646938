using ChannelManager.HardwareSim.Exchange;
using Microsoft.Extensions.Time.Testing;

namespace ChannelManager.Tests.Demo;

/// <summary>The exchange rule the demo uses for "works only from another modem" (hardware-sim Exchange/ByCallingModem).</summary>
public sealed class ByCallingModemTests
{
    [Fact]
    public void BeginCall_FromTheListedModem_GetsItsBehaviourAndOthersGetTheDefault()
    {
        var exchange = new PstnExchange(new FakeTimeProvider());
        var refused = new LineBehaviour.NoCarrier(TimeSpan.FromMilliseconds(200));
        var otherwise = new LineBehaviour.Busy();
        exchange.AddLine("01632960009", new ByCallingModem(otherwise, new Dictionary<string, LineBehaviour> { ["M1"] = refused }));

        var fromM1 = exchange.BeginCall("M1", "01632960009");
        fromM1.Fail(CallResult.NoCarrier);
        var fromM3 = exchange.BeginCall("M3", "01632960009");
        fromM3.Fail(CallResult.Busy);

        Assert.Same(refused, fromM1.Behaviour);
        Assert.Same(otherwise, fromM3.Behaviour);
    }

    [Fact]
    public void BeginCall_SequenceInsideTheRule_ResolvesBothByCallCount()
    {
        var exchange = new PstnExchange(new FakeTimeProvider());
        var first = new LineBehaviour.NoAnswer();
        var then = new LineBehaviour.Busy();
        exchange.AddLine("01632960009", new ByCallingModem(new LineBehaviour.Sequence(first, then), new Dictionary<string, LineBehaviour>()));

        var a = exchange.BeginCall("M3", "01632960009");
        a.Fail(CallResult.NoAnswer);
        var b = exchange.BeginCall("M5", "01632960009");
        b.Fail(CallResult.Busy);

        Assert.Same(first, a.Behaviour);
        Assert.Same(then, b.Behaviour);
        Assert.Empty(exchange.Violations);
    }
}
