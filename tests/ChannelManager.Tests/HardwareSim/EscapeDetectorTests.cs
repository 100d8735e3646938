using ChannelManager.HardwareSim.Modems;

namespace ChannelManager.Tests.HardwareSim;

public sealed class EscapeDetectorTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 23, 9, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(1);

    [Fact]
    public void Feed_PlusesAfterGuard_HeldAndArmed()
    {
        var d = new EscapeDetector((byte)'+', Guard, enabled: true, T0);
        var forward = new List<byte>();
        d.Feed("+++"u8, T0 + Guard, forward);
        Assert.Empty(forward);
        Assert.True(d.Armed);
        Assert.False(d.CompleteAt(T0 + Guard + TimeSpan.FromMilliseconds(999)));
        Assert.True(d.CompleteAt(T0 + Guard + Guard));
    }

    [Fact]
    public void Feed_PlusesSpreadWiderThanGuard_NotAnEscape()
    {
        var d = new EscapeDetector((byte)'+', Guard, enabled: true, T0);
        var forward = new List<byte>();
        d.Feed("+"u8, T0 + Guard, forward);
        d.Feed("+"u8, T0 + (Guard * 2.5), forward);   // too late to continue: starts a new sequence
        Assert.False(d.Armed);
        Assert.Equal("+"u8.ToArray(), forward);
    }

    [Fact]
    public void Feed_FourthByteWhileArmed_FlushesPlusesAsData()
    {
        var d = new EscapeDetector((byte)'+', Guard, enabled: true, T0);
        var forward = new List<byte>();
        d.Feed("+++"u8, T0 + Guard, forward);
        d.Feed("+"u8, T0 + Guard + TimeSpan.FromMilliseconds(10), forward);
        Assert.False(d.Armed);
        Assert.Equal("++++"u8.ToArray(), forward);
    }

    [Fact]
    public void Feed_Disabled_EverythingIsData()
    {
        var d = new EscapeDetector((byte)'+', Guard, enabled: false, T0);
        var forward = new List<byte>();
        d.Feed("+++"u8, T0 + Guard, forward);
        Assert.False(d.Armed);
        Assert.Equal(3, forward.Count);
    }
}
