using ChannelManager.Core.Modems;
using Microsoft.Extensions.Options;

namespace ChannelManager.Tests.Modems;

public sealed class AtModemOptionsTests
{
    [Fact]
    public void EffectiveDialTimeout_Defaults_S7FiftyPlusTenSecondMargin() =>
        Assert.Equal(TimeSpan.FromSeconds(60), new AtModemOptions { Name = "M1" }.EffectiveDialTimeout);

    [Fact]
    public void EffectiveDialTimeout_InitStringSetsS7_DerivedFromIt() =>
        Assert.Equal(TimeSpan.FromSeconds(55), new AtModemOptions { Name = "M1", InitString = "AT&FE0V1S7=45X4" }.EffectiveDialTimeout);

    [Fact]
    public void EffectiveDialTimeout_Explicit_Wins() =>
        Assert.Equal(TimeSpan.FromSeconds(90), new AtModemOptions { Name = "M1", InitString = "ATS7=45", DialTimeout = TimeSpan.FromSeconds(90) }.EffectiveDialTimeout);

    [Theory]
    [InlineData("", "ATZ", nameof(AtModemOptions.Name))]
    [InlineData("M1", "E0V1", nameof(AtModemOptions.InitString))]
    [InlineData("M1", "ATE0\rATZ", nameof(AtModemOptions.InitString))]
    public void Validate_BadSetting_ThrowsNamingIt(string name, string init, string member)
    {
        var options = new AtModemOptions { Name = name, InitString = init };

        var ex = Assert.Throws<OptionsValidationException>(options.Validate);

        Assert.Contains(member, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_Defaults_Pass() => new AtModemOptions { Name = "M1" }.Validate();
}
