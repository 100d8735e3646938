using System.Diagnostics.Tracing;

namespace ChannelManager.Benchmarks.Scale;

/// <summary>
/// <c>scale --alloc-census</c>: the runtime's sampled allocation events (one per ~100 KB allocated) counted by type, to
/// see what the simulated stack allocates per poll (docs/performance.md §5). Costs a little time; off by default.
/// </summary>
internal sealed class AllocationCensus : EventListener
{
    private readonly Dictionary<string, long> _bytes = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
            EnableEvents(eventSource, EventLevel.Verbose, (EventKeywords)0x1);
    }

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        if (eventData.EventName is not { } name || !name.StartsWith("GCAllocationTick", StringComparison.Ordinal) || eventData.Payload is null)
            return;
        var type = eventData.PayloadNames?.IndexOf("TypeName") is int t and >= 0 ? eventData.Payload[t] as string ?? "?" : "?";
        var amount = eventData.PayloadNames?.IndexOf("AllocationAmount64") is int a and >= 0 ? Convert.ToInt64(eventData.Payload[a], System.Globalization.CultureInfo.InvariantCulture) : 100_000;
        lock (_gate)
        {
            _bytes[type] = _bytes.GetValueOrDefault(type) + amount;
        }
    }

    public void Print(TextWriter o, int top)
    {
        lock (_gate)
        {
            var total = _bytes.Values.Sum();
            o.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"allocation census (sampled, {total / (1024.0 * 1024):F0} MB):"));
            foreach (var (type, bytes) in _bytes.OrderByDescending(kv => kv.Value).Take(top))
                o.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"  {100.0 * bytes / total,5:F1} %  {type}"));
        }
    }
}
