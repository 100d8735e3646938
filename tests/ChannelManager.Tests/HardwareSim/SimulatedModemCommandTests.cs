using ChannelManager.HardwareSim.Modems;

namespace ChannelManager.Tests.HardwareSim;

/// <summary>Command state (V.250 §5): framing, echo, result formats, S-registers, identification.</summary>
public sealed class SimulatedModemCommandTests
{
    [Fact]
    public async Task CommandLine_E0V1WithEchoOn_EchoesLineThenVerboseOk()
    {
        await using var h = ModemHarness.Start();
        await h.SendAsync("ATE0V1\r");
        // The line is echoed as it arrives (E1 was in force), the OK is framed CR LF … CR LF.
        await h.ExpectAsync("ATE0V1\r\r\nOK\r\n");
        await h.SendAsync("AT\r");
        await h.ExpectAsync("\r\nOK\r\n");
        await h.ExpectSilenceAsync();
    }

    [Fact]
    public async Task CommandLine_NumericMode_RepliesDigitAndCr()
    {
        await using var h = await ModemHarness.StartQuietEchoAsync();
        await h.SendAsync("ATV0\r");
        await h.ExpectAsync("0\r");
        await h.SendAsync("ATX9\r");
        await h.ExpectAsync("4\r");
        await h.SendAsync("ATV1\r");
        await h.ExpectAsync("\r\nOK\r\n");
    }

    [Fact]
    public async Task CommandLine_Quiet_SendsNoResultCodes()
    {
        await using var h = await ModemHarness.StartQuietEchoAsync();
        await h.SendAsync("ATQ1\r");
        await h.SendAsync("ATE0\r");
        await h.ExpectSilenceAsync();
        await h.SendAsync("ATQ0\r");
        await h.ExpectAsync("\r\nOK\r\n");
    }

    [Fact]
    public async Task CommandLine_LowerCaseSpacesAndNoiseBeforeAt_AreAccepted()
    {
        await using var h = await ModemHarness.StartQuietEchoAsync();
        await h.SendAsync("\nxx at e0 v1\r");
        await h.ExpectAsync("\r\nOK\r\n");
    }

    [Fact]
    public async Task CommandLine_Backspace_DeletesPreviousCharacter()
    {
        await using var h = await ModemHarness.StartQuietEchoAsync();
        await h.SendAsync("ATX9\bX3\r");
        await h.ExpectAsync("\r\nOK\r\n");
    }

    [Fact]
    public async Task CommandLine_UnknownCommand_Error()
    {
        await using var h = await ModemHarness.StartQuietEchoAsync();
        await h.SendAsync("ATK\r");
        await h.ExpectAsync("\r\nERROR\r\n");
        await h.SendAsync("ATE2\r");
        await h.ExpectAsync("\r\nERROR\r\n");
    }

    [Fact]
    public async Task SRegister_SetThenQuery_ReturnsThreeDigits()
    {
        await using var h = await ModemHarness.StartQuietEchoAsync();
        await h.SendAsync("ATS7=30\r");
        await h.ExpectAsync("\r\nOK\r\n");
        await h.SendAsync("ATS7?\r");
        await h.ExpectAsync("\r\n030\r\n\r\nOK\r\n");
        await h.SendAsync("ATS7=300\r");
        await h.ExpectAsync("\r\nERROR\r\n");
    }

    [Fact]
    public async Task Reset_Z_RestoresStoredProfile()
    {
        await using var h = await ModemHarness.StartQuietEchoAsync(new ModemBehaviour { Name = "M1", SRegisters = { [7] = 45 } });
        await h.SendAsync("ATS7=10V0\r");
        await h.ExpectAsync("0\r");
        await h.SendAsync("ATZ\r");
        // The profile has E1: the next line is echoed again, verbose.
        await h.ExpectAsync("\r\nOK\r\n");
        await h.SendAsync("ATS7?\r");
        await h.ExpectAsync("ATS7?\r\r\n045\r\n\r\nOK\r\n");
    }

    [Fact]
    public async Task Identification_I0AndI1_PrintBehaviourLinesAndUnknownIndexErrors()
    {
        await using var h = await ModemHarness.StartQuietEchoAsync(new ModemBehaviour { Name = "M1", Identification = ["56000", "Westermo TD-36"] });
        await h.SendAsync("ATI\r");
        await h.ExpectAsync("\r\n56000\r\n\r\nOK\r\n");
        await h.SendAsync("ATI1\r");
        await h.ExpectAsync("\r\nWestermo TD-36\r\n\r\nOK\r\n");
        await h.SendAsync("ATI7\r");
        await h.ExpectAsync("\r\nERROR\r\n");
    }

    [Fact]
    public async Task RepeatLastLine_ASlash_RunsPreviousCommandAgain()
    {
        await using var h = await ModemHarness.StartQuietEchoAsync(new ModemBehaviour { Name = "M1", Identification = ["x", "second"] });
        await h.SendAsync("ATI1\r");
        await h.ExpectAsync("\r\nsecond\r\n\r\nOK\r\n");
        await h.SendAsync("A/");
        await h.ExpectAsync("\r\nsecond\r\n\r\nOK\r\n");
        Assert.Equal(["ATE0", "ATI1", "ATI1"], h.Modem.CommandLog);
    }

    [Fact]
    public async Task InitString_TypicalHostInit_Ok()
    {
        await using var h = await ModemHarness.StartQuietEchoAsync();
        await h.SendAsync("AT&FE0V1Q0X4&C1&D2S0=0S7=60\\N3%C0+CLIP=1\r");
        // &F restores factory E1, then E0 turns echo off again within the same line.
        await h.ExpectAsync("\r\nOK\r\n");
        await h.SendAsync("AT&W\r");
        await h.ExpectAsync("\r\nOK\r\n");
    }

    [Fact]
    public async Task ResultLevel_X0_ConnectWithoutSpeed()
    {
        await using var h = await ModemHarness.StartQuietEchoAsync();
        h.Exchange.AddLine("123", new ChannelManager.HardwareSim.Exchange.LineBehaviour.Answer(TimeSpan.Zero, ChannelManager.HardwareSim.Exchange.EchoCallee.ServeAsync));
        await h.SendAsync("ATX0D123\r");
        await h.ExpectAsync("\r\nCONNECT\r\n");
    }
}
