using ChannelManager.Core;
using ChannelManager.Core.Channels;
using ChannelManager.Core.Modems;
using ChannelManager.Core.Protocols;
using ChannelManager.Core.Protocols.Modbus;
using ChannelManager.Core.Scheduling;
using ChannelManager.Tests.Channels;
using ChannelManager.Tests.Support;
using Microsoft.Extensions.Time.Testing;
using NSubstitute;

namespace ChannelManager.Tests.Modems;

/// <summary>
/// Issue 10 item 3: <see cref="DialString"/> is enforced at every entry a number can take towards <c>ATD</c> —
/// schedule construction (a <see cref="ConfigError"/> naming <c>Outstations[i].Number</c>), the Channel Manager's
/// <see cref="ModemChannelManager.ConnectAsync"/> and <see cref="AtModem.DialAsync"/> (an
/// <see cref="ArgumentException"/> naming the field) — and an injection attempt never puts a byte on the wire.
/// </summary>
public sealed class DialStringEnforcementTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 23, 8, 0, 0, TimeSpan.Zero);
    private readonly FakeTimeProvider _time = new(T0);

    /// <summary>The two acceptance numbers, plus the '+' in the middle the old AtModem check let through.</summary>
    public static TheoryData<string, string> Injections => new()
    {
        { "0123;ATH", "';'" },
        { "0123\r+++", "carriage return" },
        { "0123+++", "'+' at position 5" },
        { "0123\nATZ", "line feed" },
        { "0123 ATH", "'A' at position 6" },
    };

    [Theory]
    [MemberData(nameof(Injections))]
    public async Task DialAsync_InjectionAttempt_ThrowsNamingNumberAndWritesNothing(string number, string why)
    {
        var wire = new ScriptedTransport().WithInit();
        await using var modem = new AtModem(wire, false, ModemTestKit.Options(), _time);
        Assert.Equal(OutcomeCode.Success, (await modem.InitializeAsync(CancellationToken.None).Bounded()).Code);
        var writtenAfterInit = wire.Written.Count;

        var ex = await Assert.ThrowsAsync<ArgumentException>(() => modem.DialAsync(number, CancellationToken.None));

        Assert.Equal("dialString", ex.ParamName);
        Assert.StartsWith("Number '", ex.Message, StringComparison.Ordinal);
        Assert.Contains(why, ex.Message, StringComparison.Ordinal);
        Assert.Equal(writtenAfterInit, wire.Written.Count);
        Assert.DoesNotContain("ATD", wire.WrittenText(), StringComparison.Ordinal);
        wire.AssertScriptDone();
        Assert.Equal(ModemState.Ready, modem.State);
    }

    [Fact]
    public async Task DialAsync_ValidNumberWithSeparators_SentAsWritten()
    {
        var wire = new ScriptedTransport().WithInit().ExpectText("ATD+44 (1632) 960-123\r").ReplyText("\r\nBUSY\r\n");
        await using var modem = new AtModem(wire, false, ModemTestKit.Options(), _time);
        await modem.InitializeAsync(CancellationToken.None).Bounded();

        var result = await modem.DialAsync("+44 (1632) 960-123", CancellationToken.None).Bounded();

        Assert.Equal(OutcomeCode.Busy, result.Code);
        wire.AssertScriptDone();
    }

    [Theory]
    [MemberData(nameof(Injections))]
    public async Task ConnectAsync_InjectionAttemptThroughRealAtModem_ThrowsBeforeAnyModemIsTouched(string number, string why)
    {
        // No script at all: any byte the manager or the modem wrote would be an unmatched write.
        var wire = new ScriptedTransport();
        await using var modem = new AtModem(wire, false, ModemTestKit.Options(), _time);
        await using var manager = new ModemChannelManager([(modem, ModemRole.Default)], new ChannelManagerOptions(), _time);

        var ex = await Assert.ThrowsAsync<ArgumentException>(() => manager.ConnectAsync(new CallRequest("RTU-7", number), CancellationToken.None));

        Assert.Equal("request", ex.ParamName);
        Assert.StartsWith("CallRequest.Number '", ex.Message, StringComparison.Ordinal);
        Assert.Contains(why, ex.Message, StringComparison.Ordinal);
        Assert.Empty(wire.Written);
        Assert.Empty(wire.Failures);
        var snapshot = Assert.Single(manager.Modems);
        Assert.Equal(0, snapshot.Statistics.Errors);
        Assert.False(snapshot.Faulted);
        Assert.False(manager.Outstations.ContainsKey("RTU-7"));
    }

    [Fact]
    public async Task ConnectAsync_InjectionAttempt_NoModemInitialisedOrDialledAndPoolStillServes()
    {
        var m1 = new FakeModem("M1");
        var initialised = 0;
        m1.OnInitialize = _ =>
        {
            initialised++;
            return FakeModem.Result(OutcomeCode.Success, "OK");
        };
        await using var manager = new ModemChannelManager([(m1, ModemRole.Default)], new ChannelManagerOptions(), _time);

        await Assert.ThrowsAsync<ArgumentException>(() => manager.ConnectAsync(new CallRequest("RTU-1", "0123;ATH"), CancellationToken.None));
        Assert.Equal(0, initialised);
        Assert.Empty(m1.Dials);

        // The refused request took no modem: a valid one right after gets M1.
        var ok = await manager.ConnectAsync(new CallRequest("RTU-1", "0123"), CancellationToken.None);
        Assert.Equal(OutcomeCode.Success, ok.Outcome.Code);
        Assert.Equal(["0123"], m1.Dials);
        await ok.Lease!.DisposeAsync();
    }

    [Theory]
    [MemberData(nameof(Injections))]
    public void PollSchedulerConstructor_InjectionInScheduleNumber_ConfigErrorNamesThePath(string number, string why)
    {
        var ex = Assert.Throws<ArgumentException>(() => new PollScheduler(
            [Schedule("RTU-A", "01632960100"), Schedule("RTU-B", number)],
            Substitute.For<IPollExecutor>(),
            new RepeatCallBook(CountryProfiles.UK),
            null,
            new SchedulerOptions(),
            _time,
            () => 0.5));

        Assert.Contains("Outstations[1].Number: ", ex.Message, StringComparison.Ordinal);
        Assert.Contains(why, ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("Outstations[0]", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void OutstationScheduleValidate_BadAndGoodNumbers_OnlyBadOnesReported()
    {
        Assert.Empty(Schedule("RTU", "9W01632 960123").Validate("Outstations[0]"));
        var error = Assert.Single(Schedule("RTU", new string('1', DialString.MaxLength + 1)).Validate("Outstations[4]"));
        Assert.Equal("Outstations[4].Number", error.Path);
        Assert.Contains("41 characters", error.Message, StringComparison.Ordinal);
        Assert.Equal("Outstations[2].Number", Assert.Single(Schedule("RTU", "").Validate("Outstations[2]")).Path);
    }

    private static OutstationSchedule Schedule(string name, string number) => new(
        name,
        number,
        Substitute.For<IProtocolDriver>(),
        [new ReadHoldingRegisters(0, 4)],
        TimeSpan.FromMinutes(15),
        BackoffPolicy.From(new BackoffOptions()));
}
