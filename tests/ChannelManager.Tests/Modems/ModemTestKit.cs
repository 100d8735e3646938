using System.Diagnostics;
using System.Text;
using ChannelManager.Core.Modems;
using ChannelManager.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace ChannelManager.Tests.Modems;

/// <summary>Shared wiring for AT engine tests: fake clock, scripted wire, bounded waits that fail instead of hanging.</summary>
internal static class ModemTestKit
{
    /// <summary>Real-time safety bound only: a hang fails the test; no test logic depends on it.</summary>
    public static readonly TimeSpan SafetyBound = TimeSpan.FromSeconds(15);

    public const string InitString = "ATE0V1Q0X4&D2";

    public static AtModemOptions Options(Action<AtModemOptions>? configure = null)
    {
        var options = new AtModemOptions { Name = "M1" };
        configure?.Invoke(options);
        return options;
    }

    /// <summary>The init exchange of the default options: ATZ → OK, init string → OK.</summary>
    public static ScriptedTransport WithInit(this ScriptedTransport transport) => transport
        .ExpectText("ATZ\r").ReplyText("\r\nOK\r\n")
        .ExpectText(InitString + "\r").ReplyText("\r\nOK\r\n");

    public static async Task<T> Bounded<T>(this Task<T> task) => await task.WaitAsync(SafetyBound);

    /// <summary>Moves the fake clock in steps until <paramref name="condition"/> holds (timers fire only on Advance).</summary>
    public static async Task AdvanceUntilAsync(this FakeTimeProvider time, Func<bool> condition, TimeSpan step)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.Elapsed > SafetyBound)
            {
                throw new TimeoutException("Condition not reached while advancing the fake clock.");
            }

            // Let the reader loop and continuations run on the pool before time moves on.
            await Task.Delay(TimeSpan.FromMilliseconds(1), TimeProvider.System);
            if (!condition())
            {
                time.Advance(step);
            }
        }
    }

    /// <summary>Waits (real time, bounded) for work on other threads, without touching the fake clock.</summary>
    public static async Task WaitUntilAsync(Func<bool> condition)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.Elapsed > SafetyBound)
            {
                throw new TimeoutException("Condition not reached.");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(1), TimeProvider.System);
        }
    }

    public static string WrittenText(this ScriptedTransport transport) => Encoding.Latin1.GetString([.. transport.Written]);

    public static void AssertScriptDone(this ScriptedTransport transport)
    {
        Assert.Empty(transport.Failures);
        Assert.True(transport.ScriptComplete, "wire script not complete; written so far: " + transport.WrittenText().Replace("\r", "\\r", StringComparison.Ordinal));
    }

    /// <summary>Reads from a data channel until <paramref name="count"/> bytes or end of stream.</summary>
    public static async Task<(byte[] Bytes, bool Ended)> ReadAsync(this Core.Transport.IChannelTransport channel, int count)
    {
        var result = new List<byte>();
        var buffer = new byte[256];
        while (result.Count < count)
        {
            var n = await channel.ReadAsync(buffer, CancellationToken.None).AsTask().WaitAsync(SafetyBound);
            if (n == 0)
            {
                return ([.. result], true);
            }

            result.AddRange(buffer.AsSpan(0, n).ToArray());
        }

        return ([.. result], false);
    }

    /// <summary>Finds a file in the repository (tests run from bin/; the repo root holds ChannelManager.sln).</summary>
    public static string RepoFile(string relative)
    {
        var output = Path.Combine(AppContext.BaseDirectory, relative);
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ChannelManager.sln")))
            {
                return Path.Combine(dir.FullName, relative);
            }
        }

        return output;
    }
}
