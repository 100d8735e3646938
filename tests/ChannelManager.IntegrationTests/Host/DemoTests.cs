using ChannelManager.Core;
using ChannelManager.Core.Scheduling;
using ChannelManager.HardwareSim.Modems;
using ChannelManager.Host.Demo;
using Spectre.Console;

namespace ChannelManager.IntegrationTests.Host;

/// <summary>
/// Runs `channelmanager demo` in-process to completion — the real PollScheduler, PollTransaction, Channel Manager,
/// AT engine, Modbus master and repeat-call book (UK) on SQLite, over the simulated bank, on the skip-ahead clock
/// paced by real time — and checks that every scripted behaviour produced its outcome, attributed as seed 004 says,
/// so the README's first command stays honest.
/// </summary>
public sealed class DemoTests
{
    [Fact]
    public async Task RunAsync_ThreeSimulatedHours_EveryScriptedBehaviourEndsAsScriptedAndIsAttributedCorrectly()
    {
        var output = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output), Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors, Interactive = InteractionSupport.No });
        console.Profile.Width = 200;
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var options = new DemoOptions { Live = false, RealTimeLimit = TimeSpan.FromSeconds(60) };

        var report = await DemoRunner.RunAsync(console, TimeProvider.System, options, bound.Token);

        // The whole timeline ran, within the CI budget.
        Assert.True(report.Completed, report.StoppedBecause);
        Assert.True(report.Simulated >= options.Duration, $"simulated only {report.Simulated}");
        Assert.True(report.Real < TimeSpan.FromSeconds(60), $"took {report.Real}");

        foreach (var o in report.Outstations)
        {
            var polls = report.Polls.Where(p => p.Outstation == o.Name).ToList();
            Assert.NotEmpty(polls);
            var failures = polls.Where(p => !p.IsSuccess).ToList();
            if (o.ScriptedFailure is not { } scripted)
            {
                Assert.All(polls, p => Assert.Equal(OutcomeCode.Success, p.Code));
                continue;
            }

            // The scripted failure happened, it is the only failure the outstation had, and it is the outstation's.
            Assert.True(failures.Any(p => p.Code == scripted), $"{o.Name} never had its scripted {scripted}; its polls: {string.Join("; ", polls.Select(p => $"{p.Code} via {p.Modem ?? "-"} tried [{string.Join(",", p.ModemsTried.Select(t => $"{t.ModemName}:{t.Code}"))}]"))}\n{output}");
            Assert.All(failures, p => Assert.Equal(scripted, p.Code));
            Assert.All(failures, p => Assert.Equal(FaultAttribution.Outstation, p.CountedAgainst));
            Assert.Equal(failures.Count, report.FailuresAgainstOutstations[o.Name][scripted]);
            if (o.Recovers)
            {
                Assert.Equal(OutcomeCode.Success, polls[^1].Code);
            }
        }

        // Faulty modems: their set-up failures are theirs (errors counted, failures attributed to them), they never
        // carried a call, and no outstation failure ever came from them; the healthy modems have no failure at all.
        foreach (var m in report.BankModems)
        {
            var snapshot = report.Modems.Single(s => s.Name == m.Name);
            Assert.DoesNotContain(report.Polls, p => p.Modem == m.Name && p.CountedAgainst == FaultAttribution.Outstation && m.Fault != ModemFault.None);
            if (m.Fault == ModemFault.None)
            {
                Assert.False(report.FailuresAgainstModems.ContainsKey(m.Name), $"{m.Name} is healthy but has failures counted against it");
                Assert.Equal(0, snapshot.Statistics.Errors);
                continue;
            }

            var expected = m.Fault == ModemFault.InitError ? OutcomeCode.ModemError : OutcomeCode.NoDialTone;
            Assert.True(snapshot.Statistics.Errors > 0, $"{m.Name} has no errors");
            Assert.Equal(0, snapshot.Statistics.Connects);
            Assert.Equal([expected], report.FailuresAgainstModems[m.Name].Keys);
            Assert.DoesNotContain(report.Polls, p => p.Modem == m.Name);
        }

        // A poll that passed over a faulty modem still ended on a healthy one, and was not counted against the outstation for it.
        var passedOver = report.Polls.Where(p => p.ModemsTried.Any(t => t.Code.CountedAgainst() == FaultAttribution.Modem)).ToList();
        Assert.NotEmpty(passedOver);
        Assert.All(passedOver, p => Assert.Contains(p.Modem, report.BankModems.Where(b => b.Fault == ModemFault.None).Select(b => b.Name)));

        // The outstation M1's line cannot reach: every call from M1 fails on the line, it succeeds via another modem.
        var hilltop = report.Polls.Where(p => p.Outstation == DemoWorld.SecondModemOutstation).ToList();
        Assert.Contains(hilltop, p => p.Modem == DemoWorld.UnroutedModem);
        Assert.All(hilltop.Where(p => p.Modem == DemoWorld.UnroutedModem), p => Assert.Equal(OutcomeCode.NoCarrier, p.Code));
        Assert.Contains(hilltop, p => p.IsSuccess);
        Assert.All(hilltop.Where(p => p.IsSuccess), p => Assert.NotEqual(DemoWorld.UnroutedModem, p.Modem));

        // The guard: the dead outstation is dialled exactly the UK maximum, then locked (alarm), its scheduled polls
        // are deferred, and the operator's poll-now is refused without touching a modem.
        var lagoon = report.Polls.Where(p => p.Outstation == DemoWorld.GuardOutstation).ToList();
        Assert.Equal(CountryProfiles.UK.MaxAttempts, lagoon.Count);
        Assert.Contains(report.Alarms, a => a.Outstation == DemoWorld.GuardOutstation && a.Kind == AlarmKind.NumberLocked);
        Assert.True(report.GuardDeferrals.GetValueOrDefault(DemoWorld.GuardOutstation) > 0, "no scheduled poll was deferred by the guard");
        var refused = Assert.Single(report.OperatorPolls, p => p.Outstation == DemoWorld.GuardOutstation).Outcome;
        Assert.NotNull(refused);
        Assert.Equal(OutcomeCode.RepeatCallLimit, refused.Code);
        Assert.Empty(refused.ModemsTried);
        var onDemand = Assert.Single(report.OperatorPolls, p => p.Outstation != DemoWorld.GuardOutstation).Outcome;
        Assert.Equal(OutcomeCode.Success, onDemand?.Code);

        // The network saw no repeat-call or double-use violation; every poll is in the SQLite event log.
        Assert.Empty(report.RepeatCallViolations);
        Assert.Empty(report.ExchangeViolations);
        Assert.Equal(report.Polls.Count + 1, report.TransactionsLogged);

        var text = output.ToString();
        Assert.Contains("Summary", text, StringComparison.Ordinal);
        Assert.Contains("0 repeat-call violation(s); 0 double-use violation(s)", text, StringComparison.Ordinal);
        Assert.Contains("Attribution:", text, StringComparison.Ordinal);
        Assert.All(report.Outstations, o => Assert.Contains(o.Name, text, StringComparison.Ordinal));
    }
}
