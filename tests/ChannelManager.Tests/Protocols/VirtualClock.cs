using Microsoft.Extensions.Time.Testing;

namespace ChannelManager.Tests.Protocols;

/// <summary>
/// Drives a <see cref="FakeTimeProvider"/> while a task runs (its timers fire only on Advance). Between
/// steps it yields for at most 1 ms of real time so continuations on other threads can run; the number of
/// steps is bounded, so a hang fails the test instead of hanging the run.
/// </summary>
internal static class VirtualClock
{
    public static async Task<T> RunAsync<T>(Task<T> task, FakeTimeProvider time, TimeSpan step, int maxSteps = 5000)
    {
        for (var i = 0; i < maxSteps && !task.IsCompleted; i++)
        {
            await Task.WhenAny(task, Task.Delay(TimeSpan.FromMilliseconds(1), TimeProvider.System));
            if (!task.IsCompleted)
            {
                time.Advance(step);
            }
        }

        Assert.True(task.IsCompleted, $"task did not complete within {maxSteps} steps of {step}");
        return await task;
    }

    /// <summary>Waits (real time, bounded) until <paramref name="condition"/> holds; false if it never does.</summary>
    public static async Task<bool> UntilAsync(Func<bool> condition, int maxMilliseconds = 2000)
    {
        for (var i = 0; i < maxMilliseconds && !condition(); i++)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(1), TimeProvider.System);
        }

        return condition();
    }

    /// <summary>Advances the clock by <paramref name="step"/> (with a real 1 ms yield) until <paramref name="condition"/> holds, at most <paramref name="maxSteps"/> times.</summary>
    public static async Task<bool> AdvanceUntilAsync(FakeTimeProvider time, TimeSpan step, Func<bool> condition, int maxSteps = 1000)
    {
        for (var i = 0; i < maxSteps && !condition(); i++)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(1), TimeProvider.System);
            if (!condition())
            {
                time.Advance(step);
            }
        }

        return condition();
    }
}
