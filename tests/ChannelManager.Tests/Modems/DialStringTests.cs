using ChannelManager.Core.Modems;

namespace ChannelManager.Tests.Modems;

public sealed class DialStringTests
{
    [Theory]
    [InlineData("01632960123")]
    [InlineData("+44 1632 960123")]
    [InlineData("9,01632960123")]
    [InlineData("9W01632-960123")]
    [InlineData("(01632) 960.123")]
    [InlineData("*31#01632960123")]
    [InlineData("T01632960123")]
    [InlineData("p0123")]
    public void Validate_DialCharactersOnly_Accepted(string number) => Assert.Null(DialString.Validate(number));

    [Theory]
    [InlineData("0123;ATH", "';'")]
    [InlineData("0123\r+++", "carriage return")]
    [InlineData("0123\nATZ", "line feed")]
    [InlineData("0123+++", "'+' at position 5")]
    [InlineData("ATD0123", "'A' at position 1")]
    [InlineData("0123\u0000", "control character 0x00")]
    [InlineData("0123 &F", "'&' at position 6")]
    [InlineData("", "is required")]
    [InlineData("   ", "is required")]
    [InlineData(",,,WWW", "no digits")]
    public void Validate_InjectionOrJunk_RefusedNamingTheCharacter(string number, string expected)
    {
        var error = DialString.Validate(number);
        Assert.NotNull(error);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_LongerThanV250Buffer_Refused()
    {
        Assert.Null(DialString.Validate(new string('1', DialString.MaxLength)));
        Assert.Contains("41 characters", DialString.Validate(new string('1', DialString.MaxLength + 1)), StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_Null_Refused() => Assert.False(DialString.IsValid(null));
}
