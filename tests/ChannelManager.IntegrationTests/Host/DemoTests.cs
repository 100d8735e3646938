using ChannelManager.Core;
using ChannelManager.Host.Demo;
using Spectre.Console;

namespace ChannelManager.IntegrationTests.Host;

/// <summary>
/// Runs `channelmanager demo` in-process (real AT engine, Channel Manager, Modbus master and guard over the
/// simulated bank, real time) and checks what each row claims, so the README's first command stays honest.
/// </summary>
public sealed class DemoTests
{
    [Fact]
    public async Task Demo_ScriptedBank_EveryRowHasTheExpectedOutcomeAndAttribution()
    {
        var output = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output), Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors });
        console.Profile.Width = 200;
        using var bound = new CancellationTokenSource(TimeSpan.FromMinutes(2));

        var rows = await DemoRunner.RunAsync(console, TimeProvider.System, bound.Token);

        Assert.Equal(
            [
                OutcomeCode.Success, OutcomeCode.Busy, OutcomeCode.NoAnswer, OutcomeCode.NoCarrier, OutcomeCode.DialTimeout,
                OutcomeCode.CommandTimeout, OutcomeCode.ExceptionResponse, OutcomeCode.RepeatCallLimit, OutcomeCode.Success,
            ],
            rows.Select(r => r.Code));
        Assert.Equal([1001, 2317, 48, 1], rows[0].Protocol!.Commands.Single().Registers.Select(v => (int)v));

        // M2 fails its init string: the busy call went out on the next modem, and the fault is M2's, not RTU-02's.
        Assert.Equal(OutcomeCode.ModemError, rows[1].ModemsTried[0].Code);
        Assert.Equal("M2", rows[1].ModemsTried[0].ModemName);
        Assert.Equal(2, rows[1].ModemsTried.Count);
        Assert.Equal(FaultAttribution.Outstation, rows[1].CountedAgainst);

        // M4 has no dial tone: a set-up failure retried on the next modem.
        Assert.Equal(OutcomeCode.NoDialTone, rows[2].ModemsTried[0].Code);
        Assert.Equal(OutcomeCode.NoAnswer, rows[2].ModemsTried[^1].Code);

        // The guard refuses the immediate redial of the busy number, and no modem is touched.
        Assert.Empty(rows[7].ModemsTried);
        Assert.NotNull(rows[7].NextAllowedAt);

        var text = output.ToString();
        Assert.Contains("RTU-07 Booster", text, StringComparison.Ordinal);
        Assert.Contains("Violations seen by the exchange: 0", text, StringComparison.Ordinal);
    }
}
