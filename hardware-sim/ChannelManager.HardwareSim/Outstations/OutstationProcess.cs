namespace ChannelManager.HardwareSim.Outstations;

/// <summary>The `outstation` verb of the simulator process. Placeholder until the Modbus outstation simulator lands.</summary>
internal static class OutstationProcess
{
    public static Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        _ = args;
        _ = cancellationToken;
        Console.Error.WriteLine("outstation: not built yet");
        return Task.FromResult(2);
    }
}
