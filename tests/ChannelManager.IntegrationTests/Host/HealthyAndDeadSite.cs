using ChannelManager.IntegrationTests.Support;

namespace ChannelManager.IntegrationTests.Host;

/// <summary>
/// The crash-restart and two-host takeover tests' rig, as separate processes: a Modbus outstation simulator behind a
/// healthy number, a never-answering dead number, one simulated modem in front of both (its call log is the exchange's
/// across every host), and the host config for it. The tests differ only in the <c>Storage</c> section.
/// </summary>
internal sealed class HealthyAndDeadSite : IAsyncDisposable
{
    private readonly ExternalProcess _outstation;

    private HealthyAndDeadSite(ExternalProcess outstation, ExternalProcess modem, string configPath)
    {
        _outstation = outstation;
        Modem = modem;
        ConfigPath = configPath;
    }

    /// <summary>The simulated modem; <see cref="HostProcess.CallsAsync"/> reads its call log.</summary>
    public ExternalProcess Modem { get; }

    /// <summary>`DIR/host.json`, for `channelmanager run --config`.</summary>
    public string ConfigPath { get; }

    public static async Task<HealthyAndDeadSite> StartAsync(string dir, string healthyNumber, string deadNumber, string storageJson)
    {
        var outstation = ExternalProcess.StartSimulator("outstation", "--listen", "tcp://127.0.0.1:0", "--unit", "1", "--holding", "0=11,22");
        try
        {
            await outstation.WaitForLineAsync("READY", TimeSpan.FromSeconds(30));
            var scenario = Path.Combine(dir, "bank.json");
            await File.WriteAllTextAsync(scenario, $$"""
                {
                  "modems": [ { "name": "SIM", "sRegisters": { "12": 10 } } ],
                  "lines": [
                    { "number": "{{healthyNumber}}", "behaviour": "Answer", "delay": "00:00:00.300", "callee": "tcp://127.0.0.1:{{HostProcess.ReadyPort(outstation)}}" },
                    { "number": "{{deadNumber}}", "behaviour": "NoAnswer", "after": "00:00:04" }
                  ]
                }
                """);
            var modem = ExternalProcess.StartSimulator("modem", "--listen", "tcp://127.0.0.1:0", "--scenario", scenario);
            try
            {
                await modem.WaitForLineAsync("READY", TimeSpan.FromSeconds(30));
                return new HealthyAndDeadSite(outstation, modem, WriteConfig(dir, HostProcess.ReadyPort(modem), healthyNumber, deadNumber, storageJson));
            }
            catch
            {
                await modem.DisposeAsync();
                throw;
            }
        }
        catch
        {
            await outstation.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Modem.DisposeAsync();
        await _outstation.DisposeAsync();
    }

    /// <summary>
    /// The crash and takeover tests' site (`DIR/host.json`): one modem at <paramref name="modemPort"/>, a healthy
    /// outstation polled first and a dead one retried every second under the EU profile; <paramref name="storageJson"/>
    /// is the <c>Storage</c> section, the only thing the tests vary.
    /// </summary>
    private static string WriteConfig(string dir, int modemPort, string healthyNumber, string deadNumber, string storageJson)
    {
        var path = Path.Combine(dir, "host.json");
        File.WriteAllText(path, $$"""
            {
              "Modems": [ { "Name": "M1", "Endpoint": "tcp://127.0.0.1:{{modemPort}}", "CommandTimeout": "00:00:01", "DialTimeout": "00:00:10", "EscapeGuardTime": "00:00:00.300" } ],
              "Outstations": [
                { "Name": "Healthy", "Number": "{{healthyNumber}}", "Priority": 1, "Reads": [ { "Table": "Holding", "Count": 2 } ], "Interval": "00:10:00" },
                { "Name": "Dead", "Number": "{{deadNumber}}", "Reads": [ { "Table": "Holding", "Count": 2 } ], "Interval": "00:10:00",
                  "Backoff": { "Strategy": "Exponential", "Initial": "00:00:01", "Max": "00:00:01", "MaxAttempts": 10 } }
              ],
              "RepeatCallGuard": { "Profile": "EU" },
              "ChannelManager": { "MinOnHookTime": "00:00:01", "HangUpTimeout": "00:00:05", "HealthCheckInterval": "01:00:00" },
              "Storage": {{storageJson}},
              "Log": { "Directory": "logs", "Level": "Information" }
            }
            """);
        return path;
    }
}
