using System.Runtime.CompilerServices;

namespace ChannelManager.Benchmarks.Scale;

/// <summary>
/// Exact quiescence for the scale simulation: "every in-flight operation is parked on a virtual timer" is decided by
/// looking at one queue, not by guessing.
/// <para>
/// Why the thread pool and not a single-threaded SynchronizationContext or TaskScheduler (the usual deterministic-
/// simulation answer, e.g. FakeTimeProvider plus a pumping context): Core awaits with <c>ConfigureAwait(false)</c>
/// everywhere and completes its signals with <c>RunContinuationsAsynchronously</c>, as do
/// <c>Task.Delay(span, timeProvider)</c>, System.Threading.Channels and the simulator's <c>Task.Run</c>. Such
/// continuations ignore any captured context or current scheduler and are queued straight to the thread pool, so a
/// custom context would only ever see the first hop. Instead the simulation runs in its own process with the thread
/// pool confined to <b>one</b> worker thread (<see cref="ConfineThreadPool"/>), and the driver itself is a work item on
/// that thread. When the driver runs, no other work item can be running (there is no other thread), and
/// <see cref="ThreadPool.PendingWorkItemCount"/> counts everything queued (the global queue and the thread's local
/// queue). Zero means nothing can happen until a timer fires — the only other source of work, and the clock owns all
/// of them. Nothing in production code needed a hook.
/// </para>
/// <para>
/// A side effect is determinism: one thread, FIFO/LIFO queues and a seeded workload give the same run every time,
/// which is what lets <c>ScaleSmokeTests</c> assert outcomes under any machine load.
/// </para>
/// </summary>
internal static class Quiescence
{
    /// <summary>How many times the driver re-queued itself behind pending work (a cost figure, not a correctness one).</summary>
    public static long Requeues { get; private set; }

    /// <summary>
    /// Confines the process's thread pool to one worker thread. Call before any work is queued (first thing in the
    /// verb): a process-wide setting, so never from a test host.
    /// </summary>
    public static void ConfineThreadPool()
    {
        if (!ThreadPool.SetMinThreads(1, 1) || !ThreadPool.SetMaxThreads(1, 1))
            throw new InvalidOperationException("The thread pool could not be confined to one thread; the scale simulation's quiescence would not be exact.");
    }

    /// <summary>True when this process's thread pool is confined to one worker thread.</summary>
    public static bool IsConfined
    {
        get
        {
            ThreadPool.GetMaxThreads(out var workers, out _);
            return workers == 1;
        }
    }

    /// <summary>
    /// Completes (on the pool's only thread) when every queued work item has run: a check item re-queues itself at the
    /// back of the global queue until, when it runs, nothing else is pending, and only then resumes the caller.
    /// The check is a bare <see cref="IThreadPoolWorkItem"/> (a count read and an enqueue), not an async resume. It
    /// comes round once per clock step when every hand-off goes through the thread's local queue (which runs first);
    /// each wake-up queued to the global queue behind it (System.Threading.Channels does that) costs another round —
    /// ~4 per step before the AT engine and the simulator stopped using channels (issue 9), 1.06 now.
    /// </summary>
    public static QuietAwaitable UntilQuietAsync()
    {
        if (!IsConfined || !Thread.CurrentThread.IsThreadPoolThread)
            throw new InvalidOperationException("Exact quiescence needs the driver on a thread pool confined to one thread (Quiescence.ConfineThreadPool).");
        return default;
    }

    /// <summary>Awaitable for <see cref="UntilQuietAsync"/>; never completes synchronously (the caller goes to the back of the queue).</summary>
    internal readonly struct QuietAwaitable : ICriticalNotifyCompletion
    {
        public bool IsCompleted => false;

        public QuietAwaitable GetAwaiter() => this;

        public void GetResult()
        {
        }

        public void OnCompleted(Action continuation) => Check.Arm(continuation);

        public void UnsafeOnCompleted(Action continuation) => Check.Arm(continuation);
    }

    /// <summary>The one driver's re-queueing check (the simulation has a single driver).</summary>
    private static readonly QuietCheck Check = new();

    private sealed class QuietCheck : IThreadPoolWorkItem
    {
        private Action? _continuation;

        public void Arm(Action continuation)
        {
            if (Interlocked.Exchange(ref _continuation, continuation) is not null)
                throw new InvalidOperationException("Only one driver may wait for quiescence at a time.");
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }

        public void Execute()
        {
            Requeues++;
            if (ThreadPool.PendingWorkItemCount != 0)
            {
                ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
                return;
            }

            Interlocked.Exchange(ref _continuation, null)!();
        }
    }
}
