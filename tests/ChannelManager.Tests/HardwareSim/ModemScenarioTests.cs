using ChannelManager.HardwareSim.Exchange;
using ChannelManager.HardwareSim.Modems;

namespace ChannelManager.Tests.HardwareSim;

public sealed class ModemScenarioTests
{
    private const string Valid = """
        {
          // comments and trailing commas are allowed
          "modems": [
            { "name": "M1", "echo": false, "resultLevel": 3, "sRegisters": { "7": 30 }, "fault": "Hung", "blacklistAfter": 2,
              "identification": ["56000"], "callerId": "Clip" },
            { "name": "M2" },
          ],
          "lines": [
            { "number": "01632 960123", "behaviour": "Answer", "delay": "00:00:05", "callee": "echo" },
            { "number": "01632960124", "behaviour": "Busy", "after": "00:00:02" },
            { "number": "01632960125", "sequence": [ { "behaviour": "NoAnswer" }, { "behaviour": "Answer", "callee": "tcp://127.0.0.1:5020" } ] },
            { "number": "01632960126", "behaviour": "Silent", "modemStaysSilent": true },
          ]
        }
        """;

    [Fact]
    public void Parse_ValidScenario_ModemsAndLinesAsWritten()
    {
        var scenario = ModemScenario.Parse(Valid);

        var m1 = scenario.Modems[0];
        Assert.Equal(("M1", false, 3, 30, ModemFault.Hung, 2), (m1.Name, m1.Echo, m1.ResultLevel, m1.SRegister(7), m1.Fault, m1.BlacklistAfter));
        Assert.Equal(50, m1.SRegister(12));          // default kept
        Assert.Equal(["56000"], m1.Identification);
        Assert.Equal(CallerIdFormat.Clip, m1.CallerId);
        Assert.Equal("M2", scenario.SelectModem("M2").Name);
        Assert.Same(m1, scenario.SelectModem(null));

        Assert.Equal(["01632960123", "01632960124", "01632960125", "01632960126"], scenario.Lines.Select(l => l.Key));
        var answer = Assert.IsType<LineBehaviour.Answer>(scenario.Lines[0].Value);
        Assert.Equal(TimeSpan.FromSeconds(5), answer.Delay);
        Assert.Equal(new LineBehaviour.Busy(TimeSpan.FromSeconds(2)), scenario.Lines[1].Value);
        var seq = Assert.IsType<LineBehaviour.Sequence>(scenario.Lines[2].Value);
        Assert.IsType<LineBehaviour.NoAnswer>(seq.Steps[0]);
        Assert.IsType<LineBehaviour.Answer>(seq.Steps[1]);
        Assert.Equal(new LineBehaviour.Silent(true), scenario.Lines[3].Value);
    }

    [Theory]
    [InlineData("""{ "modems": [ { "name": "M1", "fault": "Hungg" } ] }""", "$.modems[0].fault")]
    [InlineData("""{ "modems": [ { "name": "M1", "resultLevel": 7 } ] }""", "$.modems[0].resultLevel")]
    [InlineData("""{ "modems": [ { "name": "M1", "sRegisters": { "7": 300 } } ] }""", "$.modems[0].sRegisters.7")]
    [InlineData("""{ "modems": [ { "name": "M1", "ecco": true } ] }""", "$.modems[0].ecco")]
    [InlineData("""{ "modems": [ { "name": "M1" }, { "name": "M1" } ] }""", "$.modems[1].name")]
    [InlineData("""{ "modems": [] }""", "$.modems")]
    [InlineData("""{ "modems": [ { "name": "M1" } ], "lines": [ { "number": "1", "behaviour": "Bussy" } ] }""", "$.lines[0].behaviour")]
    [InlineData("""{ "modems": [ { "name": "M1" } ], "lines": [ { "number": "1", "behaviour": "Answer" } ] }""", "$.lines[0].callee")]
    [InlineData("""{ "modems": [ { "name": "M1" } ], "lines": [ { "number": "1", "behaviour": "Answer", "callee": "ftp://x" } ] }""", "$.lines[0].callee")]
    [InlineData("""{ "modems": [ { "name": "M1" } ], "lines": [ { "number": "1", "behaviour": "Answer", "callee": "tcp://nohost" } ] }""", "$.lines[0].callee")]
    [InlineData("""{ "modems": [ { "name": "M1" } ], "lines": [ { "number": "T,W", "behaviour": "Busy" } ] }""", "$.lines[0].number")]
    [InlineData("""{ "modems": [ { "name": "M1" } ], "lines": [ { "number": "1", "behaviour": "Busy", "after": "soon" } ] }""", "$.lines[0].after")]
    [InlineData("""{ "modems": [ { "name": "M1" } ], "lines": [ { "number": "1", "sequence": [ { "behaviour": "Nope" } ] } ] }""", "$.lines[0].sequence[0].behaviour")]
    [InlineData("""{ "modems": [ { "name": "M1" } """, "$")]
    public void Parse_BadScenario_ErrorNamesTheField(string json, string field)
    {
        var ex = Assert.Throws<ScenarioException>(() => ModemScenario.Parse(json));
        Assert.StartsWith(field, ex.Field, StringComparison.Ordinal);
        Assert.StartsWith(ex.Field, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_CustomCallee_ResolverUsed()
    {
        Func<ChannelManager.Core.Transport.IChannelTransport, CancellationToken, Task> modbus = (_, _) => Task.CompletedTask;
        var scenario = ModemScenario.Parse(
            """{ "modems": [ { "name": "M1" } ], "lines": [ { "number": "1", "behaviour": "Answer", "callee": "modbus:7" } ] }""",
            callee => callee == "modbus:7" ? modbus : null);
        Assert.Same(modbus, Assert.IsType<LineBehaviour.Answer>(scenario.Lines[0].Value).Serve);
    }

    [Fact]
    public void SelectModem_UnknownName_ErrorListsKnownNames()
    {
        var ex = Assert.Throws<ScenarioException>(() => ModemScenario.Parse(Valid).SelectModem("M9"));
        Assert.Contains("M1, M2", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("basic.json")]
    [InlineData("faults.json")]
    [InlineData("tcp-bridge.json")]
    public async Task LoadAsync_ShippedExampleScenarios_Load(string file)
    {
        var path = Path.Combine(RepoRoot(), "hardware-sim", "scenarios", file);
        var scenario = await ModemScenario.LoadAsync(path, resolver: null, CancellationToken.None);
        Assert.NotEmpty(scenario.Modems);
        Assert.NotEmpty(scenario.Lines);
    }

    [Fact]
    public async Task ConfigureExchange_ScenarioLines_DriveTheModem()
    {
        var scenario = ModemScenario.Parse("""{ "modems": [ { "name": "X", "echo": false } ], "lines": [ { "number": "42", "behaviour": "NoCarrier" } ] }""");
        await using var h = ModemHarness.Start(scenario.Modems[0]);
        scenario.ConfigureExchange(h.Exchange);
        await h.SendAsync("ATD42\r");
        await h.ExpectAsync("\r\nNO CARRIER\r\n");
        Assert.Equal(("X", CallResult.NoCarrier), (h.Exchange.CallLog[0].ModemName, h.Exchange.CallLog[0].Result));
    }

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "ChannelManager.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("repository root not found above " + AppContext.BaseDirectory);
    }
}
