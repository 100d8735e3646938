using ChannelManager.Host.Api;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ChannelManager.IntegrationTests.Api;

/// <summary>Issue 10 §4: loopback by default; binding elsewhere needs AllowRemote and a token; errors name their JSON path.</summary>
public sealed class ApiOptionsTests
{
    [Fact]
    public void Validate_Defaults_NoErrorsAndLoopbackWithoutToken()
    {
        var options = new ApiOptions();

        Assert.Empty(options.Validate("Api"));
        Assert.Equal("http://127.0.0.1:5080", options.Urls);
        Assert.False(options.HasToken);
        Assert.False(options.AllowRemote);
    }

    [Theory]
    [InlineData("http://0.0.0.0:5080")]
    [InlineData("http://*:5080")]
    [InlineData("http://+:5080")]
    [InlineData("http://10.0.0.5:5080")]
    [InlineData("http://scada-fe1:5080")]
    [InlineData("http://[::]:5080")]
    [InlineData("http://127.0.0.1:5080;http://192.168.1.10:5080")]
    public void Validate_NonLoopbackWithoutAllowRemoteOrToken_NamesBothSettings(string urls)
    {
        var errors = new ApiOptions { Urls = urls }.Validate("Api").ToList();

        Assert.Contains(errors, e => e.Path == "Api.AllowRemote" && e.Message.Contains("loopback", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Path == "Api.Token" && e.Message.Contains("required", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_NonLoopbackWithAllowRemoteButNoToken_TokenRequired()
    {
        var errors = new ApiOptions { Urls = "http://0.0.0.0:5080", AllowRemote = true }.Validate("Api").ToList();

        var error = Assert.Single(errors);
        Assert.Equal("Api.Token", error.Path);
    }

    [Fact]
    public void Validate_NonLoopbackWithTokenButNoAllowRemote_AllowRemoteRequired()
    {
        var errors = new ApiOptions { Urls = "http://0.0.0.0:5080", Token = "0123456789abcdef0123" }.Validate("Api").ToList();

        var error = Assert.Single(errors);
        Assert.Equal("Api.AllowRemote", error.Path);
    }

    [Theory]
    [InlineData("http://0.0.0.0:5080")]
    [InlineData("https://scada-fe1:5443")]
    public void Validate_NonLoopbackWithAllowRemoteAndToken_Valid(string urls)
    {
        Assert.Empty(new ApiOptions { Urls = urls, AllowRemote = true, Token = "0123456789abcdef0123" }.Validate("Api"));
    }

    [Theory]
    [InlineData("http://localhost:5080")]
    [InlineData("http://[::1]:5080")]
    [InlineData("http://127.0.0.2:5080")]
    public void Validate_LoopbackHosts_Valid(string urls)
    {
        Assert.Empty(new ApiOptions { Urls = urls }.Validate("Api"));
    }

    [Theory]
    [InlineData("", "Api.Urls")]
    [InlineData("ftp://127.0.0.1:21", "Api.Urls")]
    [InlineData("127.0.0.1:5080", "Api.Urls")]
    [InlineData("http://127.0.0.1:99999", "Api.Urls")]
    [InlineData("http://127.0.0.1:5080/api", "Api.Urls")]
    public void Validate_BadUrl_ErrorNamesUrls(string urls, string path)
    {
        var error = Assert.Single(new ApiOptions { Urls = urls }.Validate("Api"));

        Assert.Equal(path, error.Path);
    }

    [Theory]
    [InlineData("short")]
    [InlineData("0123456789 abcdef0123")]
    public void Validate_WeakOrMalformedToken_ErrorNamesToken(string token)
    {
        var error = Assert.Single(new ApiOptions { Token = token }.Validate("Api"));

        Assert.Equal("Api.Token", error.Path);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(10_000_000)]
    public void Validate_BodyLimitOutOfRange_ErrorNamesIt(long max)
    {
        var error = Assert.Single(new ApiOptions { MaxRequestBodyBytes = max }.Validate("Api"));

        Assert.Equal("Api.MaxRequestBodyBytes", error.Path);
    }

    [Fact]
    public async Task AddChannelManagerApi_NonLoopbackWithoutAllowRemote_HostStartFailsListingTheErrorsBeforeBinding()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.AddChannelManagerApi(new ApiOptions { Urls = "http://0.0.0.0:0" });
        await using var app = builder.Build();

        var e = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync());

        Assert.Contains(e.Failures, f => f.StartsWith("Api.AllowRemote:", StringComparison.Ordinal));
        Assert.Contains(e.Failures, f => f.StartsWith("Api.Token:", StringComparison.Ordinal));
        Assert.Empty(app.Urls);
    }

    [Fact]
    public void From_ApiSectionAndUrlsOverride_BindsEverySettingAndTheOverrideWins()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Api:Urls"] = "http://0.0.0.0:5080",
            ["Api:Token"] = "0123456789abcdef0123",
            ["Api:AllowRemote"] = "true",
            ["Api:MaxRequestBodyBytes"] = "4096",
            ["Api:StreamInterval"] = "00:00:02",
        }).Build();

        var bound = ApiOptions.From(configuration);
        var overridden = ApiOptions.From(configuration, "http://127.0.0.1:6000");

        Assert.Equal("http://0.0.0.0:5080", bound.Urls);
        Assert.Equal("0123456789abcdef0123", bound.Token);
        Assert.True(bound.AllowRemote);
        Assert.Equal(4096, bound.MaxRequestBodyBytes);
        Assert.Equal(TimeSpan.FromSeconds(2), bound.StreamInterval);
        Assert.Empty(bound.Validate("Api"));
        Assert.Equal("http://127.0.0.1:6000", overridden.Urls);
    }

    [Fact]
    public void From_NoApiSection_Defaults()
    {
        var options = ApiOptions.From(new ConfigurationBuilder().Build());

        Assert.Equal(new ApiOptions().Urls, options.Urls);
        Assert.Null(options.Token);
    }

    [Fact]
    public void ApiOptionsValidator_InvalidOptions_FailsWithEveryError()
    {
        var result = new ApiOptionsValidator().Validate(null, new ApiOptions { Urls = "http://0.0.0.0:5080", MaxRequestBodyBytes = 1 });

        Assert.True(result.Failed);
        Assert.Equal(3, result.Failures!.Count());
    }
}
