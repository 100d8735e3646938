namespace ChannelManager.HardwareSim.Modems;

/// <summary>The `modem` verb of the simulator process. Placeholder until the simulated modem lands.</summary>
internal static class ModemProcess
{
    public static Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        _ = args;
        _ = cancellationToken;
        Console.Error.WriteLine("modem: not built yet");
        return Task.FromResult(2);
    }
}
