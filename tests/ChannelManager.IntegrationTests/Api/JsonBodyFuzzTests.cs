using System.Text;
using ChannelManager.Host.Api;
using CsCheck;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ChannelManager.IntegrationTests.Api;

/// <summary>
/// Issue 10 §2 for the API's JSON input: whatever bytes a client sends as a POST body, the reader returns either a
/// typed request or a typed problem (400 malformed-json / 413 body-too-large) — never an exception.
/// </summary>
public sealed class JsonBodyFuzzTests
{
    private const long Limit = 256;
    private const int Cases = 100_000;

    private static readonly string[] Tokens =
    [
        "{", "}", "[", "]", ":", ",", " ", "\"operator\"", "\"reason\"", "\"outOfService\"", "\"alice\"", "\"\"", "null", "true",
        "false", "0", "-1", "1e999", "\"\\u0000\"", "\"\\ud800\"", "\"\\\"", "\"path\"", "\"../../etc/passwd\"", "\n", "\uFEFF", "/*x*/",
        "\"Operator\"", "{\"operator\":", "\"x\":{\"y\":[", "\u00e9", "\"\\n\"",
    ];

    [Fact]
    public async Task ReadAsync_RandomBytes_AlwaysAValueOrATypedProblem()
    {
        await Gen.Byte.Array[0, 400].SampleAsync(async bytes =>
        {
            await AssertTypedAsync<LedgerResetRequest>(bytes);
            await AssertTypedAsync<OutOfServiceRequest>(bytes);
        }, iter: Cases);
    }

    [Fact]
    public async Task ReadAsync_JsonLikeTokenSoup_AlwaysAValueOrATypedProblem()
    {
        await Gen.OneOf(Tokens).Array[0, 24].Select(t => Encoding.UTF8.GetBytes(string.Concat(t))).SampleAsync(async bytes =>
        {
            await AssertTypedAsync<LedgerResetRequest>(bytes);
            await AssertTypedAsync<OutOfServiceRequest>(bytes);
        }, iter: Cases);
    }

    [Fact]
    public async Task ReadAsync_ValidBody_ReturnsTheValue()
    {
        var (value, problem) = await ReadAsync<LedgerResetRequest>("""{"operator":"alice","reason":"line repaired"}"""u8.ToArray());

        Assert.Null(problem);
        Assert.Equal(new LedgerResetRequest("alice", "line repaired"), value);
    }

    private static async Task AssertTypedAsync<T>(byte[] bytes)
        where T : class
    {
        var (value, problem) = await ReadAsync<T>(bytes);
        Assert.True(value is null != problem is null, "exactly one of a value and a problem");
        if (problem is null)
            return;
        var typed = Assert.IsType<ProblemHttpResult>(problem);
        Assert.Contains(typed.StatusCode, new[] { StatusCodes.Status400BadRequest, StatusCodes.Status413PayloadTooLarge });
        Assert.StartsWith("urn:channelmanager:problem:", typed.ProblemDetails.Type, StringComparison.Ordinal);
        Assert.Equal(bytes.Length > Limit, typed.StatusCode == StatusCodes.Status413PayloadTooLarge);
    }

    private static Task<(T? Value, IResult? Problem)> ReadAsync<T>(byte[] bytes)
        where T : class
    {
        var context = new DefaultHttpContext();
        context.Request.ContentType = "application/json";
        context.Request.Body = new MemoryStream(bytes);
        return JsonBody.ReadAsync<T>(context.Request, Limit, CancellationToken.None);
    }
}
