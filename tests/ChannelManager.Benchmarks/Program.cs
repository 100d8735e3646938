using BenchmarkDotNet.Running;
using ChannelManager.Benchmarks.Idle;
using ChannelManager.Benchmarks.LineRate;
using ChannelManager.Benchmarks.Scale;

// Verbs (docs/performance.md):
//   line-rate [--seconds 30] [--baud 19200]   FC3 polls over a socat pty: ours vs mbpoll vs the line-rate bound
//   scale [--workload FILE] [--outstations N] [--modems N] [--hours H] [--json FILE]   the scale simulation on a virtual clock
//   idle [--modems 256] [--seconds 60] [--check-interval 30]   RSS and CPU of idle TCP-attached modems with health checks
//   anything else                              BenchmarkDotNet, e.g. `-- --filter *Codec* --job short`
if (args is ["line-rate", .. var rest])
{
    return await LineRateBench.RunAsync(rest, CancellationToken.None);
}

if (args is ["idle", .. var idleArgs])
{
    return await IdleBench.RunAsync(idleArgs, CancellationToken.None);
}

if (args is ["scale", .. var scaleArgs])
{
    // Before any work is queued: the simulation's exact quiescence needs a one-thread pool (Scale/Quiescence.cs).
    Quiescence.ConfineThreadPool();
    return await ScaleBench.RunAsync(scaleArgs, CancellationToken.None);
}

BenchmarkSwitcher.FromAssembly(typeof(LineRateBench).Assembly).Run(args);
return 0;
