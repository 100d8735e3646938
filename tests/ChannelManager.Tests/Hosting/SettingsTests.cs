using System.Text.Json;
using ChannelManager.Core.Modems;
using ChannelManager.Core.Scheduling;
using ChannelManager.HardwareSim.Modems;
using ChannelManager.Host.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ChannelManager.Tests.Hosting;

/// <summary>Configuration binding and validation (issue 8 item 2; design.md §5 check-config, §6 config).</summary>
public sealed class SettingsTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("cm-settings-");

    public void Dispose() => _dir.Delete(recursive: true);

    private string Write(string json, string name = "appsettings.json")
    {
        var path = Path.Combine(_dir.FullName, name);
        File.WriteAllText(path, json);
        return path;
    }

    private static SettingsLoadResult LoadText(string path, params string[] overrides) => SettingsLoader.Load(path, overrides, includeEnvironment: false);

    /// <summary>A valid file with one modem and one outstation; tests break it in one place.</summary>
    private static string Valid(string number = "01632960123") => $$"""
        {
          "Modems": [ { "Name": "M1", "Port": "/dev/ttyS0", "BaudRate": 9600 } ],
          "Outstations": [ { "Name": "RTU-17", "Number": {{JsonSerializer.Serialize(number)}}, "UnitId": 1,
                             "Reads": [ { "Table": "Holding", "Start": 0, "Count": 10 } ] } ],
          "RepeatCallGuard": { "Profile": "UK" },
          "Storage": { "Path": "state/cm.db" }
        }
        """;

    [Fact]
    public void Load_BrokenFile_ReportsEveryErrorWithItsJsonPath()
    {
        var path = Write("""
            {
              "Modems": [
                { "Name": "M1" },
                { "Name": "M2", "Endpoint": "tcp://10.0.0.5:4001", "DialTimeout": "a minute" },
                { "Name": "M3", "Port": "COM3", "BaudRate": "fast" }
              ],
              "Outstations": [
                { "Name": "A", "Number": "0123;ATH", "Reads": [ { "Table": "Holding", "Count": 4 } ] },
                { "Name": "B", "Number": "0123\r+++", "Reads": [ { "Table": "Holdings", "Count": 4 } ] },
                { "Name": "C", "Number": "0123", "Reads": [ { "Table": "Coils", "Count": 4 } ],
                  "Backoff": { "Strategy": "Exponentail" } },
                { "Name": "D", "Number": "0124", "Reads": [ { "Table": "Input", "Count": 200 } ], "Interval": "2 minutes",
                  "Backoff": { "Initial": "00:00:30", "Max": "00:00:10" }, "Intervall": "00:01:00", "UnitId": 300 }
              ],
              "RepeatCallGuard": { "Profile": "XX" },
              "Scheduler": { "MaxConcurrency": 0 },
              "Storage": { "Path": "" },
              "Api": { "Token": "has spaces in it", "Urls": "http://0.0.0.0:5080" }
            }
            """);

        var errors = LoadText(path).AllErrors();

        Assert.Equal(
            [
                "Modems[1].DialTimeout", "Modems[2].BaudRate",
                "Outstations[1].Reads[0].Table", "Outstations[2].Backoff.Strategy", "Outstations[3].Interval", "Outstations[3].Intervall",
                "Modems[0]",
                "Outstations[0].Number", "Outstations[1].Number",
                "Outstations[3].UnitId", "Outstations[3].Reads[0].Count", "Outstations[3].Backoff.Max",
                "RepeatCallGuard.Profile", "Scheduler.MaxConcurrency", "Storage.Path",
                "Api.AllowRemote", "Api.Token",
            ],
            errors.Select(e => e.Path));
        Assert.Contains(errors, e => e.ToString() == "Outstations[2].Backoff.Strategy: 'Exponentail' is not one of Exponential, Linear, ExponentialRandomized, RedialCycle, None");
        Assert.Contains(errors, e => e.ToString().StartsWith("Outstations[3].Interval: '2 minutes' is not a time span", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.ToString() == "Modems[2].BaudRate: 'fast' is not a whole number");
    }

    [Theory]
    [InlineData("0123;ATH")]
    [InlineData("0123\r+++")]
    [InlineData("ATDT0123")]
    public void Validate_NumberWithCommandInjection_RejectedNamingOutstationsNumber(string number)
    {
        var errors = LoadText(Write(Valid(number))).AllErrors();

        var error = Assert.Single(errors);
        Assert.Equal("Outstations[0].Number", error.Path);
        Assert.Equal(DialString.Validate(number), error.Message);
    }

    [Fact]
    public void Load_ValidFile_BindsEveryValueWithoutErrors()
    {
        var path = Write("""
            {
              "Modems": [ { "Name": "M1", "Port": "/dev/ttyS0", "BaudRate": 9600, "InitString": "ATE0V1Q0X4&D2", "DialTimeout": "00:01:00" },
                          { "Name": "M2", "Endpoint": "tcp://10.0.0.5:4001", "Pools": [ "north" ] } ],
              "Outstations": [ { "Name": "RTU-17", "Number": "01632960123", "Protocol": "ModbusRtu", "UnitId": 7,
                                 "Reads": [ { "Table": "Holding", "Start": 0, "Count": 10 }, { "Table": "discrete", "Start": 5, "Count": 3 } ],
                                 "Interval": "00:10:00", "Priority": 3, "Pool": "north", "Window": { "Start": "22:00", "End": "06:00" },
                                 "Backoff": { "Strategy": "Exponential", "Initial": "00:00:30", "Max": "00:02:00", "MaxAttempts": 6,
                                              "PerCategory": { "ProtocolCommand": { "Strategy": "Linear", "Delay": "00:05:00" } } } } ],
              "RepeatCallGuard": { "Profile": "UK+GSM" },
              "Scheduler": { "MaxConcurrency": 2 },
              "Storage": { "Path": "state/channelmanager.db" },
              "Api": { "Anything": [ 1, 2 ] }
            }
            """);

        var loaded = LoadText(path);

        Assert.Empty(loaded.AllErrors());
        var s = loaded.Settings;
        Assert.Equal(TimeSpan.FromMinutes(1), s.Modems[0].DialTimeout);
        Assert.Equal(["north"], s.Modems[1].Pools);
        var o = Assert.Single(s.Outstations);
        Assert.Equal((7, TimeSpan.FromMinutes(10), 3, "north"), (o.UnitId, o.Interval, o.Priority, o.Pool));
        Assert.Equal([ModbusTable.Holding, ModbusTable.Discrete], o.Reads.Select(r => r.Table));
        Assert.Equal(new TimeOnly(22, 0), o.Window!.Start); // bound from the file above
        Assert.Equal((6, TimeSpan.FromMinutes(2)), (o.Backoff.MaxAttempts, o.Backoff.Max));
        Assert.Equal(BackoffStrategyKind.Linear, o.Backoff.PerCategory![Core.OutcomeCategory.ProtocolCommand].Strategy); // bound from the file above
        Assert.Equal(2, s.Scheduler.MaxConcurrency);
        Assert.Equal(Path.Combine(_dir.FullName, "state", "channelmanager.db"), loaded.ResolvePath(s.Storage.Path));
    }

    [Fact]
    public void Load_NullsAndWrongShapes_PathNamedErrorsNotExceptions()
    {
        var json = Valid()
            .Replace("\"BaudRate\": 9600", "\"BaudRate\": 9600, \"DialTimeout\": null, \"CommandTimeout\": null, \"Pools\": \"north\"", StringComparison.Ordinal)
            .Replace("\"UnitId\": 1,", "\"UnitId\": { \"value\": 1 }, \"Backoff\": { \"PerCategory\": { \"Sometimes\": { } } },", StringComparison.Ordinal);

        var loaded = LoadText(Write(json));

        Assert.Equal(
            ["Modems[0].CommandTimeout", "Modems[0].Pools", "Outstations[0].Backoff.PerCategory.Sometimes", "Outstations[0].UnitId"],
            loaded.AllErrors().Select(e => e.Path));
        Assert.Null(loaded.Settings.Modems[0].DialTimeout);
        Assert.Equal(TimeSpan.FromSeconds(2), loaded.Settings.Modems[0].CommandTimeout);
    }

    [Fact]
    public void Load_CommandLineOverride_WinsOverTheFile()
    {
        var loaded = LoadText(Write(Valid()), "--Scheduler:MaxConcurrency=7", "--Outstations:0:Interval=00:05:00");

        Assert.Empty(loaded.AllErrors());
        Assert.Equal(7, loaded.Settings.Scheduler.MaxConcurrency);
        Assert.Equal(TimeSpan.FromMinutes(5), loaded.Settings.Outstations[0].Interval);
    }

    [Fact]
    public void Load_MissingFile_OneErrorNamingTheFile()
    {
        var missing = Path.Combine(_dir.FullName, "nope.json");

        var error = Assert.Single(LoadText(missing).AllErrors());

        Assert.Equal("$", error.Path);
        Assert.Contains(missing, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_MalformedJson_OneErrorInsteadOfAnException()
    {
        var error = Assert.Single(LoadText(Write("{ \"Modems\": [ { \"Name\": \"M1\", } ")).AllErrors());

        Assert.Equal("$", error.Path);
    }

    [Fact]
    public void Validate_SimulatedEndpointWithoutSimulationSection_ErrorAtTheEndpoint()
    {
        var json = Valid().Replace("\"Port\": \"/dev/ttyS0\", \"BaudRate\": 9600", "\"Endpoint\": \"sim://M1\"", StringComparison.Ordinal);

        var error = Assert.Single(LoadText(Write(json)).AllErrors());

        Assert.Equal("Modems[0].Endpoint", error.Path);
    }

    [Fact]
    public void Validate_SimulationSection_ChecksModemsAndLines()
    {
        var json = Valid().Replace("\"Port\": \"/dev/ttyS0\", \"BaudRate\": 9600", "\"Endpoint\": \"sim://M9\"", StringComparison.Ordinal)
            .Replace("\"Storage\"", """
                "Simulation": { "Modems": [ { "Name": "M1", "Fault": "NoDialTone" } ],
                                "Lines": [ { "Number": "01632960123", "UnitId": 0, "Fault": "sometimes" }, { "Number": "0163 2960123", "Behaviour": "Busy" } ] },
                "Storage"
                """, StringComparison.Ordinal);

        var loaded = LoadText(Write(json));

        Assert.Equal(
            ["Modems[0].Endpoint", "Simulation.Lines[0].UnitId", "Simulation.Lines[0].Fault", "Simulation.Lines[1].Number"],
            loaded.AllErrors().Select(e => e.Path));
        Assert.Equal(ModemFault.NoDialTone, loaded.Settings.Simulation!.Modems[0].Fault); // the section is in the file
    }

    [Fact]
    public void Validate_RepositoryConfigFiles_AreValid()
    {
        var root = RepositoryRoot();
        foreach (var file in new[] { "appsettings.json", "appsettings.example.json" })
        {
            var loaded = LoadText(Path.Combine(root, "config", file));

            Assert.Empty(loaded.AllErrors());
            Assert.NotEmpty(loaded.Settings.Outstations);
        }

        Assert.NotNull(LoadText(Path.Combine(root, "config", "appsettings.json")).Settings.Simulation);
    }

    [Fact]
    public void OptionsValidator_BrokenSettings_FailsWithEveryPathAndReadError()
    {
        var loaded = LoadText(Write(Valid("0123;ATH").Replace("\"UnitId\": 1", "\"UnitId\": \"one\"", StringComparison.Ordinal)));
        var services = new ServiceCollection();
        services.AddSingleton<IValidateOptions<ChannelManagerSettings>>(new ChannelManagerSettingsValidator(loaded.ReadErrors));
        services.AddSingleton(loaded);
        services.AddSingleton<IOptionsFactory<ChannelManagerSettings>, LoadedSettingsFactory>(); // as run registers it
        services.AddOptions<ChannelManagerSettings>();
        using var provider = services.BuildServiceProvider();

        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<ChannelManagerSettings>>().Value);

        Assert.Equal(["Outstations[0].UnitId: 'one' is not a whole number", $"Outstations[0].Number: {DialString.Validate("0123;ATH")}"], ex.Failures);
    }

    internal static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "ChannelManager.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("ChannelManager.sln not found above " + AppContext.BaseDirectory);
    }
}
