using ChannelManager.Core;
using ChannelManager.Core.Scheduling;

namespace ChannelManager.Tests.Scheduling;

/// <summary>Invalid strategy or profile values in config are rejected with the JSON path named.</summary>
public sealed class SchedulingOptionsTests
{
    private const string Path = "Outstations[3].Backoff";

    [Fact]
    public void Validate_Defaults_NoErrors()
    {
        Assert.Empty(new BackoffOptions().Validate(Path));
        Assert.Empty(BackoffOptions.OmaDmDefaults().Validate(Path));
        Assert.Empty(new RepeatCallGuardOptions().Validate());
    }

    [Fact]
    public void Validate_MaxBelowInitial_NamesMaxWithItsPath()
    {
        var o = new BackoffOptions { Initial = TimeSpan.FromSeconds(30), Max = TimeSpan.FromSeconds(10) };

        var error = Assert.Single(o.Validate(Path));

        Assert.Equal("Outstations[3].Backoff.Max: must be ≥ Initial (00:00:30)", error.ToString());
    }

    [Fact]
    public void Validate_FactorOutOfRange_DataAnnotationsErrorNamesFactor()
    {
        var o = new BackoffOptions { Factor = 0.5 };

        Assert.Equal("Outstations[3].Backoff.Factor", Assert.Single(o.Validate(Path)).Path);
    }

    [Fact]
    public void Validate_NegativeInitialAndHugeMax_BothReported()
    {
        var o = new BackoffOptions { Initial = TimeSpan.FromSeconds(-1), Max = TimeSpan.FromDays(30) };

        var paths = o.Validate(Path).Select(e => e.Path).ToHashSet();

        Assert.Contains("Outstations[3].Backoff.Initial", paths);
        Assert.Contains("Outstations[3].Backoff.Max", paths);
    }

    [Fact]
    public void Validate_RedialCycleTooFewIntervalsAndNegativeEntry_NamesListAndIndex()
    {
        var o = new BackoffOptions
        {
            Strategy = BackoffStrategyKind.RedialCycle, CallIntervals = [TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(-5)], CycleLength = 3,
        };

        var paths = o.Validate(Path).Select(e => e.Path).ToList();

        Assert.Contains("Outstations[3].Backoff.CallIntervals", paths);
        Assert.Contains("Outstations[3].Backoff.CallIntervals[1]", paths);
    }

    [Fact]
    public void Validate_LinearZeroDelayAndExceededAttemptsWithoutDelay_Rejected()
    {
        var o = new BackoffOptions { Strategy = BackoffStrategyKind.Linear, Delay = TimeSpan.Zero, ExceededAttempts = 3 };

        var paths = o.Validate(Path).Select(e => e.Path).ToList();

        Assert.Equal(["Outstations[3].Backoff.Delay", "Outstations[3].Backoff.ExceededAttempts"], paths);
    }

    [Fact]
    public void Validate_StrategyOnlyChecksItsOwnFields()
    {
        // Max < Initial is irrelevant to a Linear strategy.
        var o = new BackoffOptions { Strategy = BackoffStrategyKind.Linear, Initial = TimeSpan.FromMinutes(5), Max = TimeSpan.FromMinutes(1) };

        Assert.Empty(o.Validate(Path));
    }

    [Fact]
    public void Validate_PerCategoryBadKeyAndInvalidInner_PathsIncludeCategory()
    {
        var o = new BackoffOptions
        {
            PerCategory = new Dictionary<OutcomeCategory, BackoffOptions>
            {
                [OutcomeCategory.Success] = new(),
                [OutcomeCategory.ProtocolCommand] = new() { Initial = TimeSpan.FromMinutes(2), Max = TimeSpan.FromMinutes(1) },
            },
        };

        var paths = o.Validate(Path).Select(e => e.Path).ToList();

        Assert.Contains("Outstations[3].Backoff.PerCategory.Success", paths);
        Assert.Contains("Outstations[3].Backoff.PerCategory.ProtocolCommand.Max", paths);
    }

    [Fact]
    public void Validate_UndefinedStrategyValue_Rejected()
    {
        var o = new BackoffOptions { Strategy = (BackoffStrategyKind)42 };

        Assert.Contains(o.Validate(Path), e => e.Path == "Outstations[3].Backoff.Strategy");
    }

    [Fact]
    public void From_InvalidOptions_ThrowsWithEveryPath()
    {
        var o = new BackoffOptions { Initial = TimeSpan.FromSeconds(30), Max = TimeSpan.FromSeconds(10), Factor = 20 };

        var ex = Assert.Throws<ArgumentException>(() => BackoffPolicy.From(o));

        Assert.Contains("Backoff.Max", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Backoff.Factor", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("XX")]
    [InlineData("UK+ZZ")]
    [InlineData("")]
    public void Validate_UnknownProfile_NamesProfilePath(string profile)
    {
        var errors = new RepeatCallGuardOptions { Profile = profile }.Validate();

        Assert.Equal("RepeatCallGuard.Profile", Assert.Single(errors).Path);
    }

    [Theory]
    [InlineData("uk")]
    [InlineData("UK+GSM")]
    [InlineData("de + nz")]
    public void ResolveProfile_KnownNamesCaseInsensitiveAndCombined_Resolves(string profile)
    {
        var options = new RepeatCallGuardOptions { Profile = profile };

        Assert.Empty(options.Validate());
        Assert.NotNull(options.ResolveProfile());
    }

    [Fact]
    public void CountryProfiles_AllBuiltIns_AreStructurallyValid()
    {
        foreach (var (name, p) in CountryProfiles.All)
            Assert.Empty(p.Validate($"Profiles.{name}"));
    }

    [Fact]
    public void CountryProfileValidate_BadCustomProfile_NamesEachField()
    {
        var p = CountryProfiles.NZ with { MaxAttempts = 0, Gaps = [TimeSpan.FromSeconds(-1)], RollingWindow = null, AllBusyMaxAttempts = 1 };

        var paths = p.Validate("RepeatCallGuard.Custom").Select(e => e.Path).ToList();

        Assert.Contains("RepeatCallGuard.Custom.MaxAttempts", paths);
        Assert.Contains("RepeatCallGuard.Custom.Gaps[0]", paths);
        Assert.Contains("RepeatCallGuard.Custom.RollingWindow", paths);
    }

    [Fact]
    public void StricterWith_UkPlusGsm_TakesTheStricterValueForEveryField()
    {
        var uk = CountryProfiles.UK;
        var gsm = CountryProfiles.GSM;

        var both = CountryProfiles.Get("UK+GSM");

        Assert.Equal(Math.Min(uk.MaxAttempts, gsm.MaxAttempts), both.MaxAttempts);
        for (var k = 1; k <= 12; k++)
        {
            Assert.True(both.GapAfter(k) >= uk.GapAfter(k) && both.GapAfter(k) >= gsm.GapAfter(k), $"gap {k}");
            Assert.True(both.GapAfter(k) == uk.GapAfter(k) || both.GapAfter(k) == gsm.GapAfter(k), $"gap {k} comes from one of them");
        }
        Assert.Null(both.AutoRelease);
        Assert.Equal(LockKind.Locked, both.AfterMax);
    }

    [Fact]
    public void StricterWith_UsPlusDe_KeepsNoBusyAllowanceAboveTheOtherLimit()
    {
        var combined = CountryProfiles.US.StricterWith(CountryProfiles.DE);

        Assert.Equal(2, combined.MaxAttempts);
        Assert.Equal(12, combined.AllBusyMaxAttempts);
        Assert.Equal(TimeSpan.FromMinutes(120), combined.AutoRelease);
        Assert.Equal(TimeSpan.FromSeconds(30), combined.GapAfter(1));
    }

    [Fact]
    public void Get_UnknownProfile_ThrowsNamingKnownProfiles()
    {
        var ex = Assert.Throws<ArgumentException>(() => CountryProfiles.Get("Narnia"));

        Assert.Contains("UK", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Default_IsTheConservativeUkProfile()
    {
        Assert.Same(CountryProfiles.UK, CountryProfiles.Default);
        Assert.Equal((4, TimeSpan.FromMinutes(2), TimeSpan.FromMinutes(4), TimeSpan.FromMinutes(6), (TimeSpan?)null),
            (CountryProfiles.UK.MaxAttempts, CountryProfiles.UK.GapAfter(1), CountryProfiles.UK.GapAfter(2), CountryProfiles.UK.GapAfter(3), CountryProfiles.UK.AutoRelease));
    }
}

public sealed class SchedulingOptionsValidatorTests
{
    [Fact]
    public void RepeatCallGuardOptionsValidator_UnknownProfile_FailsWithPathMessage()
    {
        var result = new RepeatCallGuardOptionsValidator().Validate(null, new RepeatCallGuardOptions { Profile = "Mars" });

        Assert.True(result.Failed);
        Assert.StartsWith("RepeatCallGuard.Profile: unknown profile 'Mars'", Assert.Single(result.Failures ?? []), StringComparison.Ordinal);
    }

    [Fact]
    public void BackoffOptionsValidator_ValidAndInvalid_SucceedsOrNamesPath()
    {
        var validator = new BackoffOptionsValidator("Outstations[0].Backoff");

        Assert.True(validator.Validate(null, new BackoffOptions()).Succeeded);
        var failed = validator.Validate(null, new BackoffOptions { MaxAttempts = -1 });
        Assert.Equal("Outstations[0].Backoff.MaxAttempts", Assert.Single(failed.Failures ?? []).Split(':')[0]);
    }
}
