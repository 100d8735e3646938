using ChannelManager.Core.Channels;
using ChannelManager.Core.Persistence;
using Microsoft.Extensions.Logging;

namespace ChannelManager.Core.Scheduling;

/// <summary>
/// The polling chain of design.md §2 over one modem bank, assembled in one place: the <see cref="ModemChannelManager"/>
/// → the pool-wide <see cref="RepeatCallBook"/> (country profile, on the state store) → <see cref="PollTransaction"/>
/// (guard → dial → protocol → hang-up → ledger) → <see cref="PollScheduler"/>, whose concurrency follows the bank's
/// usable modems (issue 6: <see cref="ChannelManagerCapacity"/>). <c>run</c> (ServiceRegistration), the demo
/// (DemoWorld), the API tests (ApiTestBank) and the scale bench differ only in the arguments of <see cref="Build"/>.
/// </summary>
/// <remarks>
/// It owns nothing: the caller disposes the Channel Manager (and the store) it passed in, as before, so a DI
/// container can register the parts it exposes without disposing anything twice.
/// </remarks>
public sealed class PollingChain
{
    private PollingChain(ModemChannelManager channels, RepeatCallBook book, PollTransaction transaction, IPollExecutor executor, PollScheduler scheduler)
    {
        Channels = channels;
        Book = book;
        Transaction = transaction;
        Executor = executor;
        Scheduler = scheduler;
    }

    /// <summary>The modem bank's Channel Manager the chain dials through.</summary>
    public ModemChannelManager Channels { get; }

    /// <summary>The repeat-call ledger shared by the transaction and the scheduler.</summary>
    public RepeatCallBook Book { get; }

    /// <summary>One poll: guard, dial, protocol, hang-up, ledger.</summary>
    public PollTransaction Transaction { get; }

    /// <summary>What the scheduler runs each poll through: <see cref="Transaction"/>, or the caller's wrapper around it.</summary>
    public IPollExecutor Executor { get; }

    /// <summary>The scheduler: the only part that decides when an outstation is dialled again.</summary>
    public PollScheduler Scheduler { get; }

    /// <summary>Builds the chain over <paramref name="channels"/>.</summary>
    /// <param name="channels">The Channel Manager over the modem bank (real, TCP-attached or simulated).</param>
    /// <param name="schedules">The outstations and how to poll them; names must be unique.</param>
    /// <param name="profile">The country's repeat-call rules for the ledger.</param>
    /// <param name="store">Where the scheduler persists its retry schedules and the transaction log.</param>
    /// <param name="scheduler">Queue time and the optional <see cref="SchedulerOptions.MaxConcurrency"/> cap.</param>
    /// <param name="time">The clock of every part.</param>
    /// <param name="random">The back-off jitter source; null = <see cref="Random.Shared"/>.</param>
    /// <param name="logger">The scheduler's logger; null = none.</param>
    /// <param name="ledgerStore">
    /// The ledger's store if not <paramref name="store"/>: <c>run</c> gives the book the opened store itself, because its
    /// shared-ledger interface (issue 11) must not be hidden by the API's metering wrapper around <paramref name="store"/>.
    /// </param>
    /// <param name="wrapExecutor">Wraps the transaction for the scheduler (the demo records outcomes, the bench counts them); null = none.</param>
    /// <param name="followUsableModems">
    /// false = the scheduler runs <see cref="SchedulerOptions.MaxConcurrency"/> polls whatever the bank's state (the API
    /// tests' fixed two); true (every product path) = as many as the bank has usable modems, capped by it.
    /// </param>
    /// <exception cref="ArgumentException">A schedule or <paramref name="scheduler"/> is invalid (the scheduler's message names every path).</exception>
    public static PollingChain Build(
        ModemChannelManager channels,
        IEnumerable<OutstationSchedule> schedules,
        CountryProfile profile,
        IStateStore? store,
        SchedulerOptions scheduler,
        TimeProvider time,
        Func<double>? random = null,
        ILogger<PollScheduler>? logger = null,
        IStateStore? ledgerStore = null,
        Func<PollTransaction, IPollExecutor>? wrapExecutor = null,
        bool followUsableModems = true)
    {
        ArgumentNullException.ThrowIfNull(channels);
        ArgumentNullException.ThrowIfNull(profile);
        ArgumentNullException.ThrowIfNull(time);
        var book = new RepeatCallBook(profile, ledgerStore ?? store);
        var transaction = new PollTransaction(channels, book, time);
        var executor = wrapExecutor is null ? transaction : wrapExecutor(transaction);
        var pollScheduler = new PollScheduler(schedules, executor, book, store, scheduler, time, random ?? Random.Shared.NextDouble, logger)
        {
            Capacity = followUsableModems ? new ChannelManagerCapacity(channels) : null,
        };
        return new PollingChain(channels, book, transaction, executor, pollScheduler);
    }
}
