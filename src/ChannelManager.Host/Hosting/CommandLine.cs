namespace ChannelManager.Host.Hosting;

internal static class CommandLine
{
    public static Task<int> RunAsync(string[] args)
    {
        _ = args;
        return Task.FromResult(0);
    }
}
