using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ChannelManager.Host.Api;

/// <summary>
/// Authenticates mutating requests with the single operator token of <see cref="ApiOptions.Token"/> (issue 10 §4:
/// "mutating endpoints need the bearer token"). The comparison is constant-time over SHA-256 digests, so neither
/// the token's content nor its length leaks through response timing.
/// </summary>
internal sealed class BearerTokenHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> schemeOptions,
    ILoggerFactory loggerFactory,
    UrlEncoder encoder,
    ApiOptions api)
    : AuthenticationHandler<AuthenticationSchemeOptions>(schemeOptions, loggerFactory, encoder)
{
    public const string SchemeName = "Bearer";
    public const string OperatorPolicy = "Operator";

    private readonly byte[]? _expected = api.HasToken ? SHA256.HashData(Encoding.UTF8.GetBytes(api.Token!)) : null; // HasToken checked just before.

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (_expected is null)
            return Task.FromResult(AuthenticateResult.NoResult());
        var header = Request.Headers.Authorization.ToString();
        if (string.IsNullOrEmpty(header))
            return Task.FromResult(AuthenticateResult.NoResult());
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            return Task.FromResult(AuthenticateResult.Fail("the Authorization header is not a Bearer token"));
        var presented = SHA256.HashData(Encoding.UTF8.GetBytes(header["Bearer ".Length..].Trim()));
        if (!CryptographicOperations.FixedTimeEquals(presented, _expected))
            return Task.FromResult(AuthenticateResult.Fail("the bearer token is wrong"));
        var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, "operator")], SchemeName);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        IResult problem;
        if (_expected is null)
        {
            // No token configured: the host is read-only by design, which is not something a client can fix with credentials.
            problem = ApiProblems.Problem(StatusCodes.Status403Forbidden, "token-not-configured", "Operator actions are disabled",
                "No API token is configured (Api.Token), so this host accepts no POST requests. Set Api__Token in the service's environment.");
            ApiLog.Refused(Logger, Request.Method, Request.Path, "no token configured");
        }
        else
        {
            var failure = (await HandleAuthenticateOnceSafeAsync().ConfigureAwait(false)).Failure?.Message ?? "no Authorization: Bearer header";
            Response.Headers.WWWAuthenticate = "Bearer";
            problem = ApiProblems.Problem(StatusCodes.Status401Unauthorized, "unauthorized", "Bearer token required", $"This request needs 'Authorization: Bearer <Api.Token>': {failure}.", "Authorization");
            ApiLog.Refused(Logger, Request.Method, Request.Path, failure);
        }

        await problem.ExecuteAsync(Context).ConfigureAwait(false);
    }
}
