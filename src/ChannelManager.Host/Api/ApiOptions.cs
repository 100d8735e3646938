using System.Net;
using ChannelManager.Core.Scheduling;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace ChannelManager.Host.Api;

/// <summary>
/// The HTTP API and dashboard, bound from the <c>Api</c> configuration section (issue 8 item 5, issue 10 §4).
/// Secure by default: loopback only, and no mutating request is accepted until a <see cref="Token"/> is configured.
/// </summary>
public sealed class ApiOptions
{
    /// <summary>The configuration section this binds to.</summary>
    public const string SectionName = "Api";

    /// <summary>Shortest accepted bearer token: 16 characters is 96 bits even for a base64 token.</summary>
    public const int MinTokenLength = 16;

    /// <summary>Where the API listens, semicolon-separated Kestrel URLs. Default: loopback only.</summary>
    public string Urls { get; set; } = "http://127.0.0.1:5080";

    /// <summary>
    /// The bearer token every POST must present (<c>Authorization: Bearer …</c>). Null/empty = POSTs are refused
    /// with 403, so an unconfigured host is read-only. Supply it through the environment (<c>Api__Token</c>), not a file in source control.
    /// </summary>
    public string? Token { get; set; }

    /// <summary>Must be true to bind a non-loopback address (issue 10 §4: "binding elsewhere needs an explicit setting and a token").</summary>
    public bool AllowRemote { get; set; }

    /// <summary>Largest accepted request body; the API's bodies are a few dozen bytes.</summary>
    public long MaxRequestBodyBytes { get; set; } = 16 * 1024;

    /// <summary>How often the dashboard's event stream checks for changes.</summary>
    public TimeSpan StreamInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The configured URLs, split.</summary>
    public IReadOnlyList<string> UrlList => (Urls ?? string.Empty).Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>True when a token is configured, i.e. POSTs can be authorised at all.</summary>
    public bool HasToken => !string.IsNullOrEmpty(Token);

    /// <summary>The <c>Api</c> section of <paramref name="configuration"/> (defaults where absent), with <paramref name="urls"/> overriding <see cref="Urls"/> when given.</summary>
    public static ApiOptions From(IConfiguration configuration, string? urls = null)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var options = configuration.GetSection(SectionName).Get<ApiOptions>() ?? new ApiOptions();
        if (!string.IsNullOrWhiteSpace(urls))
            options.Urls = urls;
        return options;
    }

    internal void CopyTo(ApiOptions target)
    {
        target.Urls = Urls;
        target.Token = Token;
        target.AllowRemote = AllowRemote;
        target.MaxRequestBodyBytes = MaxRequestBodyBytes;
        target.StreamInterval = StreamInterval;
    }

    /// <summary>Every error, each named by its JSON path under <paramref name="path"/> (design.md §5 <c>check-config</c>).</summary>
    public IEnumerable<ConfigError> Validate(string path)
    {
        string P(string member) => string.IsNullOrEmpty(path) ? member : $"{path}.{member}";
        var urls = UrlList;
        if (urls.Count == 0)
            yield return new(P(nameof(Urls)), "is required (e.g. \"http://127.0.0.1:5080\")");

        foreach (var url in urls)
        {
            if (!TryParseUrl(url, out var host, out var problem))
            {
                yield return new(P(nameof(Urls)), $"'{url}' {problem}");
                continue;
            }

            if (IsLoopbackHost(host))
                continue;
            if (!AllowRemote)
                yield return new(P(nameof(AllowRemote)), $"must be true to listen on '{url}', which is not a loopback address (the API is loopback-only by default)");
            if (!HasToken)
                yield return new(P(nameof(Token)), $"is required to listen on '{url}', which is not a loopback address");
        }

        if (Token is { Length: > 0 } token)
        {
            if (token.Length < MinTokenLength)
                yield return new(P(nameof(Token)), $"is {token.Length} characters long; at least {MinTokenLength} are required");
            if (token.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
                yield return new(P(nameof(Token)), "must not contain white space or control characters (it is sent in an HTTP header)");
        }

        if (MaxRequestBodyBytes is < 256 or > 1024 * 1024)
            yield return new(P(nameof(MaxRequestBodyBytes)), $"is {MaxRequestBodyBytes}; it must be between 256 and 1048576 bytes");
        if (StreamInterval < TimeSpan.FromMilliseconds(100) || StreamInterval > TimeSpan.FromMinutes(1))
            yield return new(P(nameof(StreamInterval)), $"is {StreamInterval}; it must be between 00:00:00.1 and 00:01:00");
    }

    /// <summary>True for <c>localhost</c> and loopback IP literals; wildcards (<c>*</c>, <c>+</c>, <c>0.0.0.0</c>) and other names are remote.</summary>
    internal static bool IsLoopbackHost(string host)
    {
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
            return true;
        var literal = host.StartsWith('[') && host.EndsWith(']') ? host[1..^1] : host;
        return IPAddress.TryParse(literal, out var ip) && IPAddress.IsLoopback(ip);
    }

    private static bool TryParseUrl(string url, out string host, out string problem)
    {
        host = string.Empty;
        // Kestrel accepts the wildcards '*' and '+' as hosts, which System.Uri does not parse: they are remote.
        var schemeEnd = url.IndexOf("://", StringComparison.Ordinal);
        if (schemeEnd < 0)
        {
            problem = "is not a URL; expected e.g. http://127.0.0.1:5080";
            return false;
        }

        var scheme = url[..schemeEnd];
        if (!scheme.Equals("http", StringComparison.OrdinalIgnoreCase) && !scheme.Equals("https", StringComparison.OrdinalIgnoreCase))
        {
            problem = $"has scheme '{scheme}'; only http and https are supported";
            return false;
        }

        var rest = url[(schemeEnd + 3)..];
        var authority = rest.Split('/', 2)[0];
        if (rest.Length > authority.Length && rest[authority.Length..] != "/")
        {
            problem = "has a path; the API is served at the root";
            return false;
        }

        var portAt = authority.LastIndexOf(':');
        if (portAt > authority.LastIndexOf(']'))
        {
            if (!int.TryParse(authority[(portAt + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port) || port > 65535)
            {
                problem = $"has an invalid port '{authority[(portAt + 1)..]}'";
                return false;
            }

            authority = authority[..portAt];
        }

        if (authority.Length == 0)
        {
            problem = "has no host";
            return false;
        }

        host = authority;
        problem = string.Empty;
        return true;
    }
}

/// <summary>Adapts <see cref="ApiOptions.Validate"/> to the options pipeline so <c>ValidateOnStart</c> refuses a bad <c>Api</c> section.</summary>
public sealed class ApiOptionsValidator : IValidateOptions<ApiOptions>
{
    public ValidateOptionsResult Validate(string? name, ApiOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = options.Validate(ApiOptions.SectionName).Select(e => e.ToString()).ToList();
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
