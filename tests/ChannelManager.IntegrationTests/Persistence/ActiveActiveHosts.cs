using System.Net.Http.Json;
using System.Text.Json;
using ChannelManager.IntegrationTests.Host;
using ChannelManager.IntegrationTests.Support;

namespace ChannelManager.IntegrationTests.Persistence;

/// <summary>
/// What the two-real-host active/active tests (<see cref="ActiveActiveTests"/>, <see cref="ActiveActiveIpTests"/>) share:
/// starting a `channelmanager run` host on the test database, reading the live leases, asking a host for its share of
/// the group, and waiting for a condition with a bound.
/// </summary>
internal static class ActiveActiveHosts
{
    public const string ApiToken = "active-active-test-token-0123456789";

    public static ExternalProcess StartHost(string config, string database, string hostId, int port) =>
        HostProcess.Start("run", "--config", config, "--urls", $"http://127.0.0.1:{port}", $"--Api:Token={ApiToken}", $"--Storage:HostId={hostId}", $"--Storage:ConnectionString={database}", $"--Log:Directory=logs-{hostId}");

    /// <summary>Leases live now (the database's clock), by resource, with their holder; the hosts' own liveness rows left out.</summary>
    public static async Task<Dictionary<string, string>> LiveLeasesAsync(string database)
    {
        var leases = new Dictionary<string, string>(StringComparer.Ordinal);
        await using var connection = new Npgsql.NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var cmd = new Npgsql.NpgsqlCommand("SELECT resource, holder FROM lease WHERE expires_at > clock_timestamp() AND resource NOT LIKE 'host:%';", connection);
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            leases[reader.GetString(0)] = reader.GetString(1);
        }

        return leases;
    }

    /// <summary>The host's <c>/api/cluster</c> in active/active mode, retried until the API answers (it starts after the host's services).</summary>
    public static async Task<JsonElement> ClusterAsync(int port)
    {
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) };
        JsonElement cluster = default;
        await UntilAsync(
            async () =>
            {
                try
                {
                    cluster = await client.GetFromJsonAsync<JsonElement>("/api/cluster");
                    return true;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            },
            $"the API on port {port}");
        Assert.Equal("ActiveActive", cluster.GetProperty("mode").GetString());
        return cluster;
    }

    public static async Task UntilAsync(Func<Task<bool>> condition, string what)
    {
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (!await condition())
        {
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(200), TimeProvider.System, bound.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail("not within 60 s: " + what);
            }
        }
    }
}
