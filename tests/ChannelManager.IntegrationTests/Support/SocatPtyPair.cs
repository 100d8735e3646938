namespace ChannelManager.IntegrationTests.Support;

/// <summary>
/// A real pseudo-terminal pair from socat (design.md §7): whatever is written to <see cref="A"/> is read
/// on <see cref="B"/> and back. System.IO.Ports opens either end by its symlink path; ptys have no
/// modem-control lines. <see cref="Unplug"/> kills socat, as a modem pulled from its port.
/// </summary>
internal sealed class SocatPtyPair : IAsyncDisposable
{
    private readonly ExternalProcess _socat;

    private SocatPtyPair(string directory, ExternalProcess socat)
    {
        Directory = directory;
        _socat = socat;
    }

    public string Directory { get; }

    public string A => Path.Combine(Directory, "a");

    public string B => Path.Combine(Directory, "b");

    public static async Task<SocatPtyPair> StartAsync()
    {
        var dir = System.IO.Directory.CreateTempSubdirectory("cm-pty-").FullName;
        var socat = ExternalProcess.Start("socat", "-d", "-d", $"pty,raw,echo=0,link={Path.Combine(dir, "a")}", $"pty,raw,echo=0,link={Path.Combine(dir, "b")}");
        var pair = new SocatPtyPair(dir, socat);
        // socat logs "starting data transfer loop" once both ptys exist.
        await socat.WaitForLineAsync("starting data transfer loop", TimeSpan.FromSeconds(10));
        return pair;
    }

    /// <summary>Kills socat: both ptys vanish, as when a USB modem is unplugged mid-call.</summary>
    public void Unplug() => _socat.Kill();

    public async ValueTask DisposeAsync()
    {
        await _socat.DisposeAsync();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
