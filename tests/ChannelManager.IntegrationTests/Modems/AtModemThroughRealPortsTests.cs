using ChannelManager.Core;
using ChannelManager.Core.Modems;
using ChannelManager.Core.Transport;

namespace ChannelManager.IntegrationTests.Modems;

/// <summary>
/// Issue 3 acceptance: the AT engine drives the simulated-modem process in real time through a socat pty
/// pair with the serial adapter, and through ser2net raw TCP with the TCP adapter. Every case runs on both
/// links; every await is bounded; outcomes are asserted, durations only with generous upper bounds
/// (the CI machine has 2 loaded cores).
/// </summary>
public sealed class AtModemThroughRealPortsTests
{
    private static readonly TimeSpan Slack = TimeSpan.FromSeconds(3);

    [Theory]
    [InlineData(RigLink.Serial)]
    [InlineData(RigLink.Ser2Net)]
    public async Task InitializeAndIdentify_HealthyModem_SucceedWithScenarioAtiLine(RigLink link)
    {
        await using var rig = await AtModemRig.StartAsync(link, "M1");

        var init = await rig.Modem.InitializeAsync(CancellationToken.None).WaitAsync(AtModemRig.Bound);
        var ati = await rig.Modem.IdentifyAsync(CancellationToken.None).WaitAsync(AtModemRig.Bound);

        Assert.True(init.IsSuccess, Describe("init", init, rig));
        Assert.Equal(ModemState.Ready, rig.Modem.State);
        Assert.True(ati.IsSuccess, Describe("ATI", ati, rig));
        // The identification comes from the scenario file, so it proves the bytes crossed the real link.
        Assert.Contains("RIGMODEM-0", ati.RawReply, StringComparison.Ordinal);
        Assert.Equal(ModemReplyKind.Ok, ati.FinalReply?.Kind);
    }

    [Theory]
    [InlineData(RigLink.Serial)]
    [InlineData(RigLink.Ser2Net)]
    public async Task DialAsync_BusyLine_BusyCountedAgainstOutstationModemReady(RigLink link)
    {
        await using var rig = await AtModemRig.StartAsync(link, "M1");
        await InitializeAsync(rig);

        var dial = await rig.Modem.DialAsync(AtModemRig.BusyNumber, CancellationToken.None).WaitAsync(AtModemRig.Bound);

        Assert.Equal(OutcomeCode.Busy, dial.Code);
        Assert.Equal(OutcomeCategory.ConnectionEstablishment, dial.Category);
        Assert.Equal(FaultAttribution.Outstation, dial.Code.CountedAgainst());
        Assert.Equal(ModemReplyKind.Busy, dial.FinalReply?.Kind);
        Assert.Equal(ModemState.Ready, rig.Modem.State);
        // Still in command state and answering.
        var check = await rig.Modem.CheckAsync(CancellationToken.None).WaitAsync(AtModemRig.Bound);
        Assert.True(check.IsSuccess, Describe("AT after BUSY", check, rig));
    }

    [Theory]
    [InlineData(RigLink.Serial)]
    [InlineData(RigLink.Ser2Net)]
    public async Task DialAsync_EchoLine_ConnectsEchoesDataAndHangsUpByEscape(RigLink link)
    {
        await using var rig = await AtModemRig.StartAsync(link, "M1");
        await InitializeAsync(rig);

        var dial = await rig.Modem.DialAsync(AtModemRig.EchoNumber, CancellationToken.None).WaitAsync(AtModemRig.Bound);
        Assert.True(dial.IsSuccess, Describe("dial", dial, rig));
        Assert.Equal(ModemReplyKind.Connect, dial.FinalReply?.Kind);
        Assert.Equal(ModemState.Online, rig.Modem.State);

        // A Modbus-like frame with CR, LF and bytes that look like result-code text: data state passes them through.
        byte[] frame = [0x01, 0x03, 0x0D, 0x0A, (byte)'O', (byte)'K', 0x0D, 0x0A, 0x00, 0xFF];
        await rig.Modem.DataChannel.WriteAsync(frame, CancellationToken.None).AsTask().WaitAsync(AtModemRig.Bound);
        Assert.Equal(frame, await ReadExactlyAsync(rig.Modem.DataChannel, frame.Length));

        // Neither adapter has control lines here (pty, raw TCP): the engine must use guard time + "+++" + ATH.
        var hangUp = await rig.Modem.HangUpAsync(CancellationToken.None).WaitAsync(AtModemRig.Bound);
        Assert.True(hangUp.IsSuccess, Describe("hang-up", hangUp, rig));
        Assert.Contains("OK", hangUp.RawReply, StringComparison.Ordinal);
        Assert.Equal(ModemState.Ready, rig.Modem.State);

        // On-hook and in command state: a second call works on the same link.
        var again = await rig.Modem.DialAsync(AtModemRig.BusyNumber, CancellationToken.None).WaitAsync(AtModemRig.Bound);
        Assert.Equal(OutcomeCode.Busy, again.Code);
    }

    [Theory]
    [InlineData(RigLink.Serial)]
    [InlineData(RigLink.Ser2Net)]
    public async Task InitializeAsync_HungModem_ModemNotRespondingWithinCommandTimeout(RigLink link)
    {
        await using var rig = await AtModemRig.StartAsync(link, "HUNG");
        var options = rig.Modem.Options;

        var started = TimeProvider.System.GetTimestamp();
        var init = await rig.Modem.InitializeAsync(CancellationToken.None).WaitAsync(AtModemRig.Bound);
        var elapsed = TimeProvider.System.GetElapsedTime(started);

        Assert.Equal(OutcomeCode.ModemNotResponding, init.Code);
        Assert.Equal(FaultAttribution.Modem, init.Code.CountedAgainst());
        Assert.Null(init.FinalReply);
        Assert.Equal(ModemState.Faulted, rig.Modem.State);
        // The first command (ATZ) times out; the engine must not go on to the init string and wait again.
        var configured = options.ResetTimeout;
        Assert.True(elapsed < configured + Slack, $"took {elapsed}, configured {configured}");
        Assert.True(elapsed >= configured - TimeSpan.FromMilliseconds(100), $"gave up after {elapsed}, before the configured {configured}");
    }

    [Theory]
    [InlineData(RigLink.Serial)]
    [InlineData(RigLink.Ser2Net)]
    public async Task InitializeAsync_GarbageReply_ModemErrorCarryingRawBytes(RigLink link)
    {
        await using var rig = await AtModemRig.StartAsync(link, "GARBAGE");

        var init = await rig.Modem.InitializeAsync(CancellationToken.None).WaitAsync(AtModemRig.Bound);

        Assert.Equal(OutcomeCode.ModemError, init.Code);
        Assert.Equal(ModemReplyKind.Garbage, init.FinalReply?.Kind);
        // The simulator's noise starts 00 FF 8E 1B: the outcome names the bytes (escaped), not a made-up text.
        Assert.Contains(@"\x00\xFF\x8E\x1B", init.RawReply, StringComparison.Ordinal);
        Assert.Equal(ModemState.Faulted, rig.Modem.State);
    }

    [Theory]
    [InlineData(RigLink.Serial)]
    [InlineData(RigLink.Ser2Net)]
    public async Task DialAsync_NoDialTone_NoDialToneCountedAgainstModem(RigLink link)
    {
        await using var rig = await AtModemRig.StartAsync(link, "NODIALTONE");
        await InitializeAsync(rig);

        var dial = await rig.Modem.DialAsync(AtModemRig.EchoNumber, CancellationToken.None).WaitAsync(AtModemRig.Bound);

        Assert.Equal(OutcomeCode.NoDialTone, dial.Code);
        Assert.Equal(OutcomeCategory.ChannelAllocation, dial.Category);
        Assert.Equal(FaultAttribution.Modem, dial.Code.CountedAgainst());
        Assert.Equal(ModemReplyKind.NoDialTone, dial.FinalReply?.Kind);
        // Seed 004: a modem that cannot dial is faulted until re-initialised.
        Assert.Equal(ModemState.Faulted, rig.Modem.State);
    }

    [Theory]
    [InlineData(RigLink.Serial)]
    [InlineData(RigLink.Ser2Net)]
    public async Task DialAsync_ThirdDialToBlacklistingModem_CallBarredByModem(RigLink link)
    {
        await using var rig = await AtModemRig.StartAsync(link, "BLACKLIST");
        await InitializeAsync(rig);

        var first = await rig.Modem.DialAsync(AtModemRig.BusyNumber, CancellationToken.None).WaitAsync(AtModemRig.Bound);
        var second = await rig.Modem.DialAsync(AtModemRig.BusyNumber, CancellationToken.None).WaitAsync(AtModemRig.Bound);
        var third = await rig.Modem.DialAsync(AtModemRig.BusyNumber, CancellationToken.None).WaitAsync(AtModemRig.Bound);

        Assert.Equal(OutcomeCode.Busy, first.Code);
        Assert.Equal(OutcomeCode.Busy, second.Code);
        Assert.Equal(OutcomeCode.CallBarredByModem, third.Code);
        Assert.Equal(ModemReplyKind.Blacklisted, third.FinalReply?.Kind);
        Assert.Equal(OutcomeCategory.ChannelAllocation, third.Category);
    }

    [Theory]
    [InlineData(RigLink.Serial)]
    [InlineData(RigLink.Ser2Net)]
    public async Task DialAsync_SilentLineAndSilentModem_DialTimeoutThenAbortedAndReady(RigLink link)
    {
        await using var rig = await AtModemRig.StartAsync(link, "M1");
        await InitializeAsync(rig);
        var options = rig.Modem.Options;

        var started = TimeProvider.System.GetTimestamp();
        var dial = await rig.Modem.DialAsync(AtModemRig.SilentNumber, CancellationToken.None).WaitAsync(AtModemRig.Bound);
        var elapsed = TimeProvider.System.GetElapsedTime(started);

        Assert.Equal(OutcomeCode.DialTimeout, dial.Code);
        Assert.Equal(FaultAttribution.Outstation, dial.Code.CountedAgainst());
        // Dial timeout, then the abort character and at most one command timeout for the modem's NO CARRIER.
        var configured = options.EffectiveDialTimeout + options.CommandTimeout;
        Assert.True(elapsed < configured + Slack, $"took {elapsed}, configured at most {configured}");
        Assert.True(elapsed >= options.EffectiveDialTimeout - TimeSpan.FromMilliseconds(100), $"gave up after {elapsed}, before the dial timeout {options.EffectiveDialTimeout}");
        // V.250 §6.3.1: the abort made the modem answer NO CARRIER, so it is back in command state.
        Assert.Contains("NO CARRIER", dial.RawReply, StringComparison.Ordinal);
        Assert.Equal(ModemState.Ready, rig.Modem.State);
        var check = await rig.Modem.CheckAsync(CancellationToken.None).WaitAsync(AtModemRig.Bound);
        Assert.True(check.IsSuccess, Describe("AT after aborted dial", check, rig));
    }

    [Theory]
    [InlineData(RigLink.Serial)]
    [InlineData(RigLink.Ser2Net)]
    public async Task DataChannel_ModemUnpluggedMidCall_ReadEndsWriteFailsNextOperationFailsTyped(RigLink link)
    {
        await using var rig = await AtModemRig.StartAsync(link, "M1");
        await InitializeAsync(rig);
        var dial = await rig.Modem.DialAsync(AtModemRig.EchoNumber, CancellationToken.None).WaitAsync(AtModemRig.Bound);
        Assert.True(dial.IsSuccess, Describe("dial", dial, rig));
        var data = rig.Modem.DataChannel;
        var pendingRead = data.ReadAsync(new byte[16], CancellationToken.None).AsTask();

        rig.Pty.Unplug();

        // The data channel's contract: carrier gone (here, the whole port) is a read of 0, not a hang or an exception.
        Assert.Equal(0, await pendingRead.WaitAsync(AtModemRig.Bound));
        await Assert.ThrowsAsync<TransportFailureException>(async () => await data.WriteAsync(new byte[] { 0x01 }, CancellationToken.None).AsTask().WaitAsync(AtModemRig.Bound));

        var hangUp = await rig.Modem.HangUpAsync(CancellationToken.None).WaitAsync(AtModemRig.Bound);
        AssertPortGone("hang-up after unplug", hangUp, link, rig);
        Assert.Equal(ModemState.Faulted, rig.Modem.State);
        // Recovery is refused typed as well while the port stays gone.
        var reset = await rig.Modem.ResetAsync(CancellationToken.None).WaitAsync(AtModemRig.Bound);
        AssertPortGone("reset after unplug", reset, link, rig);
    }

    [Fact]
    public async Task ResetAsync_Ser2NetDropsSessionMidCall_ReconnectsEscapesModemStillOnlineAndReinitialises()
    {
        await using var rig = await AtModemRig.StartAsync(RigLink.Ser2Net, "M1");
        await InitializeAsync(rig);
        var dial = await rig.Modem.DialAsync(AtModemRig.EchoNumber, CancellationToken.None).WaitAsync(AtModemRig.Bound);
        Assert.True(dial.IsSuccess, Describe("dial", dial, rig));
        var pendingRead = rig.Modem.DataChannel.ReadAsync(new byte[16], CancellationToken.None).AsTask();

        // The serial server resets the TCP session; the modem behind it never saw DTR drop and stays in data state.
        await rig.Ser2Net!.DisconnectClientAsync().WaitAsync(AtModemRig.Bound);

        Assert.Equal(0, await pendingRead.WaitAsync(AtModemRig.Bound));
        var reset = await rig.Modem.ResetAsync(CancellationToken.None).WaitAsync(AtModemRig.Bound);
        Assert.True(reset.IsSuccess, Describe("reset after session drop", reset, rig));
        // OK to "+++" (only a modem still in data state answers it; E0 V1 in command state says nothing), then to ATH, ATZ and the init string.
        Assert.Equal(["OK", "OK", "OK", "OK"], reset.RawReply.Split('\n'));
        Assert.Equal(ModemState.Ready, rig.Modem.State);
        var again = await rig.Modem.DialAsync(AtModemRig.BusyNumber, CancellationToken.None).WaitAsync(AtModemRig.Bound);
        Assert.Equal(OutcomeCode.Busy, again.Code);
    }

    /// <summary>
    /// Serial: reopening the vanished pty fails, a TransportFailure. ser2net accepts the reconnect, prints
    /// "Device open failure: …" and closes; the engine cannot tell that text from a modem's, so it is an
    /// unexpected reply (ModemError) carrying the text. Either way the failure is the modem's (seed 004 row 1).
    /// </summary>
    private static void AssertPortGone(string what, ModemResult result, RigLink link, AtModemRig rig)
    {
        var expected = link == RigLink.Serial
            ? [OutcomeCode.TransportFailure]
            : new[] { OutcomeCode.TransportFailure, OutcomeCode.ModemError };
        Assert.True(expected.Contains(result.Code), Describe(what, result, rig));
        Assert.Equal(FaultAttribution.Modem, result.Code.CountedAgainst());
        Assert.False(string.IsNullOrEmpty(result.RawReply), $"{what}: the outcome must say what failed");
    }

    private static async Task InitializeAsync(AtModemRig rig)
    {
        var init = await rig.Modem.InitializeAsync(CancellationToken.None).WaitAsync(AtModemRig.Bound);
        Assert.True(init.IsSuccess, Describe("init", init, rig));
    }

    private static async Task<byte[]> ReadExactlyAsync(IChannelTransport channel, int count)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        var buffer = new byte[count];
        var got = 0;
        while (got < count)
        {
            var n = await channel.ReadAsync(buffer.AsMemory(got), cts.Token);
            Assert.True(n > 0, $"data channel ended after {got} of {count} bytes");
            got += n;
        }

        return buffer;
    }

    private static string Describe(string what, ModemResult result, AtModemRig rig) =>
        $"{what}: {result.Code} after {result.Elapsed}, raw '{result.RawReply}'; simulator output:\n{rig.SimulatorOutput}";
}
