using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace ChannelManager.Host.Api;

/// <summary>
/// Reads a JSON request body within <see cref="ApiOptions.MaxRequestBodyBytes"/> and turns every way it can be wrong
/// into a typed problem (issue 10 §2/§4): wrong media type, too large (declared or actual), malformed or
/// unknown members — never an exception to the client.
/// </summary>
internal static class JsonBody
{
    public static async Task<(T? Value, IResult? Problem)> ReadAsync<T>(HttpRequest request, long maxBytes, CancellationToken cancellationToken)
        where T : class
    {
        if (!request.HasJsonContentType())
            return (null, ApiProblems.UnsupportedMediaType(request.ContentType));
        if (request.ContentLength > maxBytes)
            return (null, ApiProblems.BodyTooLarge(maxBytes));

        byte[] buffer = ArrayPool<byte>.Shared.Rent((int)maxBytes + 1);
        try
        {
            var length = 0;
            try
            {
                int read;
                while ((read = await request.Body.ReadAsync(buffer.AsMemory(length, buffer.Length - length), cancellationToken).ConfigureAwait(false)) > 0)
                {
                    length += read;
                    if (length > maxBytes)
                        return (null, ApiProblems.BodyTooLarge(maxBytes));
                }
            }
            catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
            {
                // Kestrel's own limit (set from the same option) fired first.
                return (null, ApiProblems.BodyTooLarge(maxBytes));
            }

            if (length == 0)
                return (null, ApiProblems.MalformedJson("The request body is empty; a JSON object is required."));
            try
            {
                var value = JsonSerializer.Deserialize<T>(buffer.AsSpan(0, length), ApiJson.Options);
                return value is null
                    ? (null, ApiProblems.MalformedJson("The request body is null; a JSON object is required."))
                    : (value, null);
            }
            catch (JsonException e)
            {
                // The serializer's message names the member or position; it never contains server state.
                var where = e.Path is { Length: > 0 } path ? $" at {path}" : string.Empty;
                return (null, ApiProblems.MalformedJson($"The body is not valid for this request{where} (line {e.LineNumber + 1}, byte {e.BytePositionInLine}): {FirstSentence(e.Message)}"));
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Applies the limit to the server too (Kestrel enforces it for chunked bodies before we read them).</summary>
    public static void LimitServer(HttpContext context, long maxBytes)
    {
        var feature = context.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (feature is { IsReadOnly: false })
            feature.MaxRequestBodySize = maxBytes;
    }

    private static string FirstSentence(string message)
    {
        var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        return ApiProblems.Printable(cut > 0 ? message[..cut] : message, 300);
    }
}
