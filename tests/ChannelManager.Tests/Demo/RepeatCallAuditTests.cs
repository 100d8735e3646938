using ChannelManager.Core.Scheduling;
using ChannelManager.HardwareSim.Exchange;
using ChannelManager.Host.Demo;

namespace ChannelManager.Tests.Demo;

public sealed class RepeatCallAuditTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 5, 6, 0, 0, TimeSpan.Zero);

    private static CallRecord Call(double minute, CallResult result, string number = "01632960010", string modem = "M1") =>
        new(T0.AddMinutes(minute), modem, number, result) { EndedAt = T0.AddMinutes(minute).AddSeconds(1) };

    [Fact]
    public void Check_FourUnansweredDialsWithTheUkGaps_NoViolation()
    {
        // UK: after failure 1 wait 2 min, after 2 wait 4, after 3 wait 6 (from on-hook, 1 s after each dial here).
        var log = new[] { Call(0, CallResult.NoAnswer), Call(2.1, CallResult.Busy), Call(6.2, CallResult.NoCarrier), Call(12.3, CallResult.Aborted) };

        Assert.Empty(RepeatCallAudit.Check(log, CountryProfiles.UK));
    }

    [Fact]
    public void Check_FifthUnansweredDialInARow_ReportsTheAttemptLimit()
    {
        var log = new[] { Call(0, CallResult.NoAnswer), Call(3, CallResult.NoAnswer), Call(8, CallResult.NoAnswer), Call(15, CallResult.NoAnswer), Call(60, CallResult.NoAnswer) };

        var violation = Assert.Single(RepeatCallAudit.Check(log, CountryProfiles.UK));
        Assert.Contains("unanswered dial 5 in a row", violation, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_RetryInsideTheGap_ReportsTheGap()
    {
        var log = new[] { Call(0, CallResult.Busy), Call(2.1, CallResult.Busy), Call(5, CallResult.Busy) };

        var violation = Assert.Single(RepeatCallAudit.Check(log, CountryProfiles.UK));
        Assert.Contains("needs 240 s after failure 2", violation, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_AnsweredCallBetween_StartsANewRun()
    {
        var log = new[] { Call(0, CallResult.NoAnswer), Call(3, CallResult.NoAnswer), Call(8, CallResult.NoAnswer), Call(15, CallResult.Connected), Call(15.5, CallResult.NoAnswer), Call(18, CallResult.NoAnswer) };

        Assert.Empty(RepeatCallAudit.Check(log, CountryProfiles.UK));
    }

    [Fact]
    public void Check_ModemRefusedDialsAndOtherNumbers_AreNotCountedAgainstTheNumber()
    {
        // NO DIALTONE never reached the line; a different number has its own run.
        var log = new[] { Call(0, CallResult.NoAnswer), Call(0.5, CallResult.NoDialTone), Call(0.6, CallResult.NoAnswer, number: "01632960011"), Call(2.1, CallResult.NoAnswer) };

        Assert.Empty(RepeatCallAudit.Check(log, CountryProfiles.UK));
    }
}
