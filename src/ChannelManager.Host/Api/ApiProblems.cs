using Microsoft.AspNetCore.Http;

namespace ChannelManager.Host.Api;

/// <summary>
/// The API's typed errors (RFC 9457 problem details): <c>type</c> names the kind of error, <c>detail</c> says
/// what was wrong, and <c>field</c> (when there is one) names the input (issue 10: "a clear message naming the field").
/// </summary>
internal static class ApiProblems
{
    public const string TypePrefix = "urn:channelmanager:problem:";

    public static IResult UnknownOutstation(string name) =>
        Problem(StatusCodes.Status404NotFound, "unknown-outstation", "Unknown outstation", $"No outstation is named '{Printable(name)}'.", "name");

    /// <summary>
    /// 409 on a standby host (docs/scale-out.md §3.3): only the active host dials or polls; <c>role</c> says why,
    /// <c>activeHost</c> where to ask instead (null when the lease table names none or could not be read).
    /// </summary>
    public static IResult Standby(string name, string hostId, string? activeHost) =>
        TypedResults.Problem(
            $"Host '{Printable(hostId)}' is a standby: it polls nothing, so '{Printable(name)}' was not polled. " +
            (activeHost is null ? "No active host is known right now." : $"Ask the active host '{Printable(activeHost)}'."),
            statusCode: StatusCodes.Status409Conflict,
            title: "Host is a standby",
            type: TypePrefix + "standby",
            extensions: new Dictionary<string, object?> { ["role"] = "standby", ["hostId"] = hostId, ["activeHost"] = activeHost });

    /// <summary>409 on an active/active host for an outstation another host owns (docs/scale-out.md §6): <c>owner</c> says where to ask.</summary>
    public static IResult NotOwner(string name, string hostId, string owner) =>
        TypedResults.Problem(
            $"Outstation '{Printable(name)}' is polled by host '{Printable(owner)}', not by '{Printable(hostId)}': it was not polled here. Ask '{Printable(owner)}'.",
            statusCode: StatusCodes.Status409Conflict,
            title: "Outstation owned by another host",
            type: TypePrefix + "not-owner",
            extensions: new Dictionary<string, object?> { ["role"] = "peer", ["hostId"] = hostId, ["owner"] = owner });

    public static IResult UnknownModem(string name) =>
        Problem(StatusCodes.Status404NotFound, "unknown-modem", "Unknown modem", $"No modem is named '{Printable(name)}'.", "name");

    public static IResult UnknownNumber(string number) =>
        Problem(StatusCodes.Status404NotFound, "unknown-number", "Unknown number", $"Number '{Printable(number)}' is neither configured nor in the ledger.", "number");

    public static IResult InvalidNumber(string number, string why) =>
        Problem(StatusCodes.Status400BadRequest, "invalid-number", "Invalid number", $"number '{Printable(number)}' {why}", "number");

    public static IResult InvalidField(string field, string why) =>
        Problem(StatusCodes.Status400BadRequest, "invalid-field", "Invalid request", $"{field} {why}", field);

    public static IResult MalformedJson(string detail) =>
        Problem(StatusCodes.Status400BadRequest, "malformed-json", "Malformed JSON body", detail, "body");

    public static IResult UnsupportedMediaType(string? contentType) =>
        Problem(StatusCodes.Status415UnsupportedMediaType, "unsupported-media-type", "Unsupported media type", $"The body must be application/json, not '{Printable(contentType ?? "(none)")}'.", "body");

    public static IResult BodyTooLarge(long max) =>
        Problem(StatusCodes.Status413PayloadTooLarge, "body-too-large", "Request body too large", $"The request body exceeds the limit of {max} bytes (Api.MaxRequestBodyBytes).", "body");

    public static IResult HostNotAllowed(string host) =>
        Problem(StatusCodes.Status400BadRequest, "host-not-allowed", "Host not allowed", $"Host '{Printable(host)}' is not a loopback name; the API is loopback-only (Api.AllowRemote is false).", "Host");

    /// <summary>
    /// Gives the framework's own errors (no route, wrong method, routing's media-type check, an unhandled bug) the
    /// same typed shape; a bug's detail never reveals the exception.
    /// </summary>
    public static void Customize(ProblemDetailsContext context)
    {
        var problem = context.ProblemDetails;
        if (problem.Type?.StartsWith(TypePrefix, StringComparison.Ordinal) == true)
            return;
        (problem.Type, problem.Detail, var field) = problem.Status switch
        {
            StatusCodes.Status404NotFound => (TypePrefix + "not-found", "No API endpoint or dashboard file has this path.", (string?)null),
            StatusCodes.Status405MethodNotAllowed => (TypePrefix + "method-not-allowed", $"{context.HttpContext.Request.Method} is not allowed on this path.", null),
            StatusCodes.Status415UnsupportedMediaType => (TypePrefix + "unsupported-media-type", $"The body must be application/json, not '{Printable(context.HttpContext.Request.ContentType ?? "(none)")}'.", "body"),
            StatusCodes.Status413PayloadTooLarge => (TypePrefix + "body-too-large", "The request body exceeds the limit (Api.MaxRequestBodyBytes).", "body"),
            StatusCodes.Status400BadRequest => (TypePrefix + "bad-request", problem.Detail ?? "The request is malformed.", null),
            _ => (TypePrefix + "internal-error", "The server failed to handle the request; see the host's log.", null),
        };
        if (field is not null)
            problem.Extensions["field"] = field;
    }

    public static IResult Problem(int status, string type, string title, string detail, string? field = null) =>
        TypedResults.Problem(detail, statusCode: status, title: title, type: TypePrefix + type, extensions: field is null ? null : new Dictionary<string, object?> { ["field"] = field });

    /// <summary>Echoed input is cut short and stripped of control characters so an error message cannot forge log lines or markup.</summary>
    public static string Printable(string value, int max = 64)
    {
        var cut = value.Length > max ? value[..max] + "…" : value;
        return string.Concat(cut.Select(c => char.IsControl(c) ? '?' : c));
    }
}
