using System.Text.Json;
using ChannelManager.Core;
using ChannelManager.Core.Modems;
using ChannelManager.Persistence.Sqlite;

namespace ChannelManager.IntegrationTests.Host;

/// <summary>
/// The one-shot verbs of design.md §5 run as the built executable: what an operator types, with the exit codes
/// the --help text documents.
/// </summary>
public sealed class CliProcessTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("cm-cli-");

    public void Dispose() => _dir.Delete(recursive: true);

    private string Write(string name, string json)
    {
        var path = Path.Combine(_dir.FullName, name);
        File.WriteAllText(path, json);
        return path;
    }

    /// <summary>Two simulated modems, one answering RTU and one busy line; state and logs in the temp directory.</summary>
    private string SimulatedConfig() => Write("sim.json", """
        {
          "Modems": [
            { "Name": "M1", "Endpoint": "sim://S1", "CommandTimeout": "00:00:01", "DialTimeout": "00:00:05", "EscapeGuardTime": "00:00:00.300" },
            { "Name": "M2", "Endpoint": "sim://S2", "CommandTimeout": "00:00:01", "DialTimeout": "00:00:05", "EscapeGuardTime": "00:00:00.300" }
          ],
          "Outstations": [
            { "Name": "Reservoir", "Number": "01632960001", "UnitId": 3, "Reads": [ { "Table": "Holding", "Start": 0, "Count": 3 }, { "Table": "Input", "Start": 1, "Count": 1 } ] },
            { "Name": "Pump", "Number": "01632960002", "Reads": [ { "Table": "Holding", "Count": 1 } ] }
          ],
          "RepeatCallGuard": { "Profile": "UK" },
          "ChannelManager": { "MinOnHookTime": "00:00:00.500", "HangUpTimeout": "00:00:05" },
          "Storage": { "Path": "state/cm.db" },
          "Log": { "Directory": "logs" },
          "Simulation": {
            "Modems": [ { "Name": "S1", "Fault": "NoDialTone", "SRegisters": { "6": 1 } }, { "Name": "S2" } ],
            "Lines": [
              { "Number": "01632960001", "Behaviour": "Answer", "UnitId": 3, "Registers": [ 7, 8, 9 ] },
              { "Number": "01632960002", "Behaviour": "Busy" }
            ]
          }
        }
        """);

    [Fact]
    public async Task CheckConfig_BrokenFile_ExitsTwoListingEveryPath()
    {
        var path = Write("broken.json", """
            {
              "Modems": [ { "Name": "M1", "Port": "COM1", "BaudRate": 12345 }, { "Name": "M1", "Endpoint": "tcp://nowhere" } ],
              "Outstations": [
                { "Name": "A", "Number": "0123;ATH", "Reads": [ { "Table": "Holding", "Count": 1 } ] },
                { "Name": "B", "Number": "0123\r+++", "Reads": [ { "Table": "Holding", "Count": 1 } ], "Backoff": { "Strategy": "Sometimes" } },
                { "Name": "C", "Number": "0124", "Reads": [ ], "Interval": "soon", "Backoff": { "Initial": "00:01:00", "Max": "00:00:30" } }
              ],
              "RepeatCallGuard": { "Profile": "Atlantis" }
            }
            """);

        var (code, output) = await HostProcess.RunAsync(Bound, "check-config", "--config", path);

        Assert.Equal(2, code);
        string[] paths =
        [
            "Modems[0].BaudRate", "Modems[1].Endpoint", "Modems[1].Name", "Outstations[0].Number", "Outstations[1].Number",
            "Outstations[1].Backoff.Strategy", "Outstations[2].Interval", "Outstations[2].Reads", "Outstations[2].Backoff.Max", "RepeatCallGuard.Profile",
        ];
        Assert.All(paths, p => Assert.Contains($"  {p}: ", output, StringComparison.Ordinal));
        Assert.Contains($"Outstations[0].Number: {DialString.Validate("0123;ATH")}", output, StringComparison.Ordinal);
        Assert.Contains("10 configuration error(s)", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CheckConfig_RepositoryConfig_ExitsZero()
    {
        var (code, output) = await HostProcess.RunAsync(Bound, "check-config", "--config", Path.Combine(HostProcess.RepositoryRoot, "config", "appsettings.json"));

        Assert.True(code == 0, output);
        Assert.Contains("OK (4 modems", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PollJson_SimulatedBank_SuccessOnTheSecondModemWithTheValues()
    {
        var config = SimulatedConfig();

        var (code, output) = await HostProcess.RunAsync(Bound, "poll", "--config", config, "--outstation", "Reservoir", "--json");

        Assert.True(code == 0, output);
        using var doc = JsonDocument.Parse(output.Split('\n').Single(l => l.StartsWith('{')));
        var root = doc.RootElement;
        Assert.Equal("Reservoir", root.GetProperty("outstation").GetString());
        Assert.Equal("Success", root.GetProperty("outcome").GetString());
        Assert.Equal("Success", root.GetProperty("category").GetString());
        Assert.Equal("M2", root.GetProperty("modem").GetString());
        Assert.Equal(["M1", "M2"], root.GetProperty("modemsTried").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal([7, 8, 9, 8], root.GetProperty("values").EnumerateArray().Select(e => e.GetInt32()));
        Assert.True(root.GetProperty("endedAt").GetDateTimeOffset() >= root.GetProperty("startedAt").GetDateTimeOffset());

        // The transaction is in the event log and the ledger of the number is closed (not left "dialling").
        await using var store = await SqliteStateStore.OpenAsync(new SqliteStateStoreOptions { Path = Path.Combine(_dir.FullName, "state", "cm.db") }, CancellationToken.None);
        var record = Assert.Single(await store.ReadTransactionsAsync(10, "Reservoir", CancellationToken.None));
        Assert.Equal((OutcomeCode.Success, "M2"), (record.Code, record.Modem));
        Assert.Null(Assert.Single(await store.LoadLedgersAsync(CancellationToken.None)).InProgress);
    }

    [Fact]
    public async Task PollJson_BusyLineThenImmediateRepoll_ExitsOneAndTheGuardRefusesTheSecond()
    {
        var config = SimulatedConfig();

        var (first, firstOutput) = await HostProcess.RunAsync(Bound, "poll", "--config", config, "--outstation", "Pump", "--json");
        var (second, secondOutput) = await HostProcess.RunAsync(Bound, "poll", "--config", config, "--outstation", "Pump", "--json");

        Assert.Equal(1, first);
        Assert.Contains("\"outcome\":\"Busy\"", firstOutput, StringComparison.Ordinal);
        Assert.Equal(1, second);
        Assert.Contains("\"outcome\":\"RepeatCallLimit\"", secondOutput, StringComparison.Ordinal);
        Assert.Contains("\"modemsTried\":[]", secondOutput, StringComparison.Ordinal);
        // The poll result shape shared with the API: the refusal says when the number may be dialled again.
        using var refusal = JsonDocument.Parse(secondOutput.Split('\n').Single(l => l.StartsWith('{')));
        Assert.Equal(JsonValueKind.String, refusal.RootElement.GetProperty("nextAllowedAt").ValueKind);
        Assert.Equal("01632960002", refusal.RootElement.GetProperty("number").GetString());
    }

    [Fact]
    public async Task Ledger_ResetWithoutOperator_ExitsTwo()
    {
        var (code, output) = await HostProcess.RunAsync(Bound, "ledger", "--config", SimulatedConfig(), "--reset", "01632960002");

        Assert.Equal(2, code);
        Assert.Contains("--operator", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ledger_ResetByOperator_ClearsTheNumberAndKeepsTheOperatorInTheAuditLog()
    {
        var config = SimulatedConfig();
        await HostProcess.RunAsync(Bound, "poll", "--config", config, "--outstation", "Pump");

        var (code, output) = await HostProcess.RunAsync(Bound, "ledger", "--config", config, "--reset", "01632960002", "--operator", "j.smith");

        Assert.True(code == 0, output);
        Assert.Contains("01632960002: reset by j.smith", output, StringComparison.Ordinal);
        await using var store = await SqliteStateStore.OpenAsync(new SqliteStateStoreOptions { Path = Path.Combine(_dir.FullName, "state", "cm.db") }, CancellationToken.None);
        var events = await store.ReadLedgerEventsAsync(20, "01632960002", CancellationToken.None);
        Assert.Contains(events, e => e.Operator == "j.smith");
        var ledger = Assert.Single(await store.LoadLedgersAsync(CancellationToken.None), l => l.Number == "01632960002");
        Assert.Equal(0, ledger.AttemptsInSequence);
        Assert.Contains("j.smith", string.Join('\n', Directory.GetFiles(Path.Combine(_dir.FullName, "logs")).Select(File.ReadAllText)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Modems_SimulatedBank_PrintsHealthOfEveryModem()
    {
        var (code, output) = await HostProcess.RunAsync(Bound, "modems", "--config", SimulatedConfig());

        Assert.True(code == 0, output);
        Assert.Matches(@"M1\s+sim://S1\s+OK", output);
        Assert.Matches(@"M2\s+sim://S2\s+OK", output);
    }

    [Fact]
    public async Task Poll_UnknownOutstation_ExitsTwo()
    {
        var (code, output) = await HostProcess.RunAsync(Bound, "poll", "--config", SimulatedConfig(), "--outstation", "Nowhere");

        Assert.Equal(2, code);
        Assert.Contains("no outstation named 'Nowhere'", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Poll_CorruptStateFile_ExitsThreeAndLeavesTheFileAlone()
    {
        var config = SimulatedConfig();
        var db = Path.Combine(_dir.FullName, "state", "cm.db");
        Directory.CreateDirectory(Path.GetDirectoryName(db)!); // a full path has a directory
        var garbage = string.Concat(Enumerable.Repeat("not a database ", 20));
        await File.WriteAllTextAsync(db, garbage);

        var (code, output) = await HostProcess.RunAsync(Bound, "poll", "--config", config, "--outstation", "Reservoir");

        Assert.Equal(3, code);
        Assert.Contains("Corrupt", output, StringComparison.Ordinal);
        Assert.Equal(garbage, await File.ReadAllTextAsync(db));
    }
}
