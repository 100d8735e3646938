using System.Text.RegularExpressions;
using ChannelManager.Core;
using ChannelManager.Core.Channels;
using ChannelManager.Core.Modems;
using ChannelManager.Core.Protocols;
using ChannelManager.Core.Protocols.Modbus;
using ChannelManager.Core.Scheduling;
using ChannelManager.Tests.Support;
using CsCheck;
using Microsoft.Extensions.Time.Testing;
using NSubstitute;

namespace ChannelManager.Tests.Fuzz;

/// <summary>
/// Issue 10 item 2, target "options validators": every value a JSON file can bind — extreme durations, NaN,
/// undefined enum values, nulls inside lists, junk strings — gives <see cref="ConfigError"/>s named by path, never an
/// exception; and what a validator accepts, the component built from it accepts too (no second, stricter check
/// that throws at start-up or, worse, mid-run).
/// </summary>
public sealed partial class OptionsFuzzTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 23, 8, 0, 0, TimeSpan.Zero);

    /// <summary>Durations from the edges (negative, zero, MaxValue) and the plausible middle.</summary>
    private static readonly Gen<TimeSpan> Duration = Gen.Frequency(
        (1, Gen.OneOf(TimeSpan.MinValue, TimeSpan.MaxValue, TimeSpan.Zero, TimeSpan.FromTicks(-1), TimeSpan.FromDays(7), TimeSpan.FromDays(7) + TimeSpan.FromTicks(1))),
        (2, Gen.Long.Select(TimeSpan.FromTicks)),
        (4, Gen.Long[0, TimeSpan.TicksPerDay * 8].Select(TimeSpan.FromTicks)),
        (4, Gen.Int[0, 600_000].Select(ms => TimeSpan.FromMilliseconds(ms))));

    private static readonly Gen<TimeSpan?> OptionalDuration = Gen.Frequency((1, Gen.Const((TimeSpan?)null)), (4, Duration.Select(d => (TimeSpan?)d)));

    private static readonly Gen<int> AnyInt = Gen.Frequency((1, Gen.Int), (3, Gen.Int[-3, 40]), (1, Gen.OneOf(int.MinValue, int.MaxValue, 0, 1000, 1001, 100_000, 100_001)));

    private static readonly Gen<string?> Junk = Gen.Frequency(
        (1, Gen.Const((string?)null)),
        (2, Gen.OneOf<string?>("", " ", "UK", "uk", "UK+GSM", "+", "UK++DE", "XX", "M1", "/dev/ttyS0", "COM3", "tcp://127.0.0.1:4001", "tcp://h:0", "tcp://h:70000",
            "http://h:1", "tcp://user@h:1", "tcp://h:1/x", "ATE0V1Q0X4&D2", "AT;ATH", "AT\r\nATZ", "ATS7=45", "at", "0123;ATH", "0123\r+++")),
        (3, Gen.String[Gen.Char, 0, 30].Select(s => (string?)s)),
        (2, Gen.String[Gen.Char[' ', '~'], 0, 30].Select(s => (string?)s)));

    /// <summary>A reference model of DialString's rule (V.250 §6.3.1 modifiers, separators, one leading '+'), written independently.</summary>
    [GeneratedRegex(@"\A[ \-.()]*\+?[0-9*#,WwPpTt \-.()]*\z")]
    private static partial Regex DialModel();

    [Fact]
    public void DialStringValidate_ArbitraryText_MatchesModelAndNeverInjects()
    {
        var alphabet = Gen.Frequency(
            (8, Gen.OneOf("0123456789*#,WwPpTt +-.()".ToCharArray())),
            (2, Gen.OneOf(';', '\r', '\n', 'A', 'a', 'T', 'H', 'Z', '&', '+', '\0', '\t', '!', '@', 'D')),
            (1, Gen.Char));
        Gen.String[alphabet, 0, 50].Sample(number =>
        {
            var why = DialString.Validate(number);
            var model = number.Length <= DialString.MaxLength && !string.IsNullOrWhiteSpace(number) && DialModel().IsMatch(number) && number.Any(char.IsAsciiDigit);
            Assert.True(model == (why is null), $"model says {(model ? "valid" : "invalid")}, DialString says '{why ?? "valid"}'");

            if (why is null)
            {
                // What can follow ATD on the wire: one command line, no second command, no escape sequence.
                Assert.Equal(-1, number.IndexOfAny([';', '\r', '\n']));
                Assert.DoesNotContain("AT", number, StringComparison.OrdinalIgnoreCase);
                Assert.DoesNotContain("++", number, StringComparison.Ordinal);
            }
            else
            {
                Assert.False(string.IsNullOrWhiteSpace(why));
            }
        }, iter: FuzzSettings.Iterations);
    }

    [Fact]
    public void ModemOptionsValidate_ArbitraryValues_ConfigErrorsOnlyAndAcceptedOnesBuildAModem()
    {
        var modem = Gen.Select(Junk, Junk, Junk, Gen.Frequency((3, Gen.OneOf(ModemOptions.StandardBaudRates.ToArray())), (1, AnyInt)), Junk, OptionalDuration, Duration, Duration)
            .Select(Gen.Frequency((1, Gen.Const((string?[]?)null)), (4, Junk.Array[0, 3].Select(a => (string?[]?)a))), Gen.Bool, Gen.Bool,
                (t, pools, answer, reserved) => new ModemOptions
                {
                    Name = t.Item1!, // JSON can bind null to a non-nullable string: exactly what is being fuzzed.
                    Port = t.Item2,
                    Endpoint = t.Item3,
                    BaudRate = t.Item4,
                    InitString = t.Item5!, // as above
                    DialTimeout = t.Item6,
                    CommandTimeout = t.Item7,
                    EscapeGuardTime = t.Item8,
                    Pools = pools is null ? null! : [.. pools!], // null list and null entries, as a JSON binder can produce
                    AnswerCalls = answer,
                    ReservedForDialIn = reserved,
                });
        var list = Gen.Frequency((1, Gen.Const((ModemOptions?[]?)null)), (8, Gen.Frequency((1, Gen.Const((ModemOptions?)null)), (12, modem.Select(m => (ModemOptions?)m))).Array[0, 4].Select(a => (ModemOptions?[]?)a)));

        list.Sample(modems =>
        {
            var errors = ModemOptions.Validate(modems, "Modems");
            AssertPaths(errors, "Modems");
            if (errors.Count > 0)
            {
                return;
            }

            Assert.NotNull(modems);
            foreach (var m in modems)
            {
                // Accepted by the bank's validator ⇒ accepted by the AT engine's own validator and constructor.
                Assert.NotNull(m);
                var at = m.ToAtModemOptions();
                var check = new AtModemOptionsValidator().Validate(at.Name, at);
                Assert.False(check.Failed, check.FailureMessage);
                Assert.True(ModemOptions.TryParseEndpoint(m.Endpoint, out _, out _) || !string.IsNullOrWhiteSpace(m.Port));
                _ = m.ToRole();
            }
        }, iter: FuzzSettings.Iterations);
    }

    [Fact]
    public void BackoffOptionsValidate_ArbitraryValues_ConfigErrorsOnlyAndAcceptedOnesDecide()
    {
        var leaf = Backoff(Gen.Const((IDictionary<OutcomeCategory, BackoffOptions>?)null));
        var perCategory = Gen.Frequency(
            (3, Gen.Const((IDictionary<OutcomeCategory, BackoffOptions>?)null)),
            (1, Gen.Select(Gen.Int[-1, 6].Select(i => (OutcomeCategory)i).Array[0, 3], Gen.Frequency((1, Gen.Const((BackoffOptions?)null)), (6, leaf.Select(b => (BackoffOptions?)b))).Array[3], (keys, values) =>
            {
                var map = new Dictionary<OutcomeCategory, BackoffOptions>();
                for (var i = 0; i < keys.Length; i++)
                {
                    map[keys[i]] = values[i]!; // a JSON "PerCategory": { "X": null } binds a null value
                }

                return (IDictionary<OutcomeCategory, BackoffOptions>?)map;
            })));
        var codes = Enum.GetValues<OutcomeCode>().Where(c => c.Category() is OutcomeCategory.ConnectionEstablishment or OutcomeCategory.ProtocolCommand).ToArray();

        Gen.Select(Backoff(perCategory), Gen.OneOf(codes), Gen.Double[0, 1]).Sample((options, code, jitter) =>
        {
            var errors = options.Validate("Outstations[0].Backoff");
            AssertPaths(errors, "Outstations[0].Backoff");
            if (errors.Count > 0)
            {
                Assert.Throws<ArgumentException>(() => _ = BackoffPolicy.From(options));
                return;
            }

            // Valid ⇒ the policy builds and every decision over a long failure run stays a decision, not an overflow.
            var policy = BackoffPolicy.From(options);
            for (var attempt = 1; attempt <= 40; attempt++)
            {
                var decision = policy.Next(attempt, code, T0, () => jitter);
                Assert.False(string.IsNullOrEmpty(decision.Reason));
                if (!decision.GiveUp)
                {
                    // A retry is in the future and no further than a week away (design.md §4 bounds).
                    Assert.InRange(decision.Delay, TimeSpan.Zero, TimeSpan.FromDays(7));
                    Assert.Equal(T0 + decision.Delay, decision.RetryAt);
                }
            }
        }, iter: FuzzSettings.Iterations);
    }

    [Fact]
    public void RepeatCallGuardAndSchedulerOptions_ArbitraryValues_ConfigErrorsOnlyAndAcceptedOnesBuild()
    {
        Gen.Select(Junk, AnyInt, Duration).Sample((profile, concurrency, queueTime) =>
        {
            var guard = new RepeatCallGuardOptions { Profile = profile! }; // null is what a JSON null binds
            var guardErrors = guard.Validate();
            AssertPaths(guardErrors, "RepeatCallGuard");
            if (guardErrors.Count == 0)
            {
                Assert.NotNull(guard.ResolveProfile());
            }

            var scheduler = new SchedulerOptions { MaxConcurrency = concurrency, MaxQueueTime = queueTime };
            var schedulerErrors = scheduler.Validate();
            AssertPaths(schedulerErrors, "Scheduler");
            Assert.Equal(schedulerErrors.Count == 0, !new SchedulerOptionsValidator().Validate(null, scheduler).Failed);
            if (schedulerErrors.Count == 0)
            {
                _ = new PollScheduler([], Substitute.For<IPollExecutor>(), new RepeatCallBook(CountryProfiles.UK), null, scheduler, new FakeTimeProvider(T0), () => 0.5);
            }
        }, iter: FuzzSettings.Iterations);
    }

    [Fact]
    public void OutstationScheduleValidate_ArbitraryValues_ConfigErrorsOnlyAndAcceptedOnesSchedule()
    {
        var driver = Substitute.For<IProtocolDriver>();
        var backoff = BackoffPolicy.From(new BackoffOptions());
        Gen.Select(Junk, Junk, Duration, Gen.Bool).Sample((name, number, interval, window) =>
        {
            var schedule = new OutstationSchedule(name!, number!, driver, [new ReadHoldingRegisters(0, 1)], interval, backoff) // nulls as JSON binds them
            {
                Window = window ? new DailyWindow(new TimeOnly(22, 0), new TimeOnly(6, 0)) : null,
            };
            var errors = schedule.Validate("Outstations[0]").ToList();
            AssertPaths(errors, "Outstations[0]");
            Assert.Equal(DialString.IsValid(number), errors.All(e => e.Path != "Outstations[0].Number"));
            if (errors.Count == 0)
            {
                _ = new PollScheduler([schedule], Substitute.For<IPollExecutor>(), new RepeatCallBook(CountryProfiles.UK), null, new SchedulerOptions(), new FakeTimeProvider(T0), () => 0.5);
            }
        }, iter: FuzzSettings.Iterations);
    }

    private static Gen<BackoffOptions> Backoff(Gen<IDictionary<OutcomeCategory, BackoffOptions>?> perCategory) =>
        Gen.Select(Gen.Int[-1, 6].Select(i => (BackoffStrategyKind)i), Duration, Duration, Gen.Frequency((1, Gen.Double), (3, Gen.Double[0, 12]), (1, Gen.OneOf(double.NaN, double.PositiveInfinity, 1.0, 10.0))), AnyInt, Duration, AnyInt, OptionalDuration)
            .Select(
                Gen.Select(Gen.Frequency((1, Gen.Const((int?)null)), (3, AnyInt.Select(i => (int?)i))), Gen.Frequency((1, Gen.Const((TimeSpan[]?)null)), (4, Duration.Array[0, 12].Select(a => (TimeSpan[]?)a))), AnyInt, Duration, Gen.Frequency((1, Gen.Const((int?)null)), (3, AnyInt.Select(i => (int?)i))), Duration, AnyInt),
                perCategory,
                (a, b, per) => new BackoffOptions
                {
                    Strategy = a.Item1,
                    Initial = a.Item2,
                    Max = a.Item3,
                    Factor = a.Item4,
                    MaxAttempts = a.Item5,
                    Delay = a.Item6,
                    Attempts = a.Item7,
                    AttemptsExceededDelay = a.Item8,
                    ExceededAttempts = b.Item1,
                    CallIntervals = b.Item2 is null ? null! : [.. b.Item2!], // a JSON null list, as bound
                    CycleLength = b.Item3,
                    CycleDelay = b.Item4,
                    MaxCycles = b.Item5,
                    ServerBusyDelay = b.Item6,
                    ServerBusyMaxRetries = b.Item7,
                    PerCategory = per,
                });

    private static void AssertPaths(IEnumerable<ConfigError> errors, string root)
    {
        foreach (var e in errors)
        {
            Assert.StartsWith(root, e.Path, StringComparison.Ordinal);
            Assert.False(string.IsNullOrWhiteSpace(e.Message), $"{e.Path} has no message");
        }
    }
}
