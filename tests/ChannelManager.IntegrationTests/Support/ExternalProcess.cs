using System.Diagnostics;
using System.Threading.Channels;

namespace ChannelManager.IntegrationTests.Support;

/// <summary>
/// A child process for a test (socat, ser2net, pymodbus, mbpoll, the simulator). Its output lines are
/// kept so a test can wait for a readiness line; Dispose kills the whole process tree, so a failed
/// test never leaves a process behind for CI.
/// </summary>
internal sealed class ExternalProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Channel<string> _lines = Channel.CreateUnbounded<string>();
    private readonly List<string> _all = [];

    private ExternalProcess(Process process)
    {
        _process = process;
    }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>Every line printed so far (stdout and stderr), for failure messages.</summary>
    public string Output
    {
        get
        {
            lock (_all)
            {
                return string.Join('\n', _all);
            }
        }
    }

    public static ExternalProcess Start(string fileName, params string[] arguments)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in arguments)
        {
            info.ArgumentList.Add(a);
        }

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var result = new ExternalProcess(process);
        process.OutputDataReceived += (_, e) => result.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => result.OnLine(e.Data);
        if (!process.Start())
        {
            throw new InvalidOperationException($"could not start {fileName}");
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return result;
    }

    /// <summary>Starts the simulator (hardware-sim) built next to the test assembly.</summary>
    public static ExternalProcess StartSimulator(params string[] arguments) =>
        Start("dotnet", [Path.Combine(AppContext.BaseDirectory, "channelmanager-sim.dll"), .. arguments]);

    /// <summary>Waits for a line containing <paramref name="text"/>; throws with the output so far if it does not come.</summary>
    public async Task WaitForLineAsync(string text, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            while (await _lines.Reader.WaitToReadAsync(cts.Token))
            {
                while (_lines.Reader.TryRead(out var line))
                {
                    if (line.Contains(text, StringComparison.Ordinal))
                    {
                        return;
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }

        throw new TimeoutException($"'{_process.StartInfo.FileName}' did not print '{text}' within {timeout}; output:\n{Output}");
    }

    /// <summary>Waits for the process to exit and returns its exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"'{_process.StartInfo.FileName}' did not exit within {timeout}; output:\n{Output}");
        }

        return _process.ExitCode;
    }

    /// <summary>Writes one line to the process's stdin (the simulator's run-time control channel).</summary>
    public async Task WriteLineAsync(string line)
    {
        await _process.StandardInput.WriteLineAsync(line);
        await _process.StandardInput.FlushAsync();
    }

    public void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // already gone
        }
    }

    public async ValueTask DisposeAsync()
    {
        Kill();
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or InvalidOperationException)
        {
        }

        _process.Dispose();
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_all)
        {
            _all.Add(line);
        }

        _lines.Writer.TryWrite(line);
    }
}
