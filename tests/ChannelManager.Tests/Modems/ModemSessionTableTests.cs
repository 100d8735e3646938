using ChannelManager.Core.Modems;

namespace ChannelManager.Tests.Modems;

/// <summary>
/// ModemSession fires from a table read out of its Stateless configuration (issue 9). Differential test: from every
/// reachable state, every trigger, the table and Stateless itself agree on legality and on the destination.
/// </summary>
public sealed class ModemSessionTableTests
{
    [Fact]
    public async Task FireAsync_EveryReachableStateAndTrigger_AgreesWithStateless()
    {
        var paths = new Dictionary<ModemState, ModemTrigger[]> { [ModemState.Idle] = [] };
        var frontier = new Queue<ModemState>([ModemState.Idle]);
        var checkedPairs = 0;
        while (frontier.TryDequeue(out var state))
        {
            foreach (var trigger in Enum.GetValues<ModemTrigger>())
            {
                var transitions = new List<(ModemState From, ModemState To, ModemTrigger Trigger)>();
                using var table = new ModemSession((f, t, tr) => transitions.Add((f, t, tr)));
                using var reference = new ModemSession();
                foreach (var step in paths[state])
                {
                    await table.FireAsync(step);
                    reference.Machine.Fire(step);
                }

                Assert.Equal(state, table.State);
                Assert.Equal(state, reference.State);
                transitions.Clear();
                var legal = reference.Machine.CanFire(trigger);
                Assert.Equal(legal, table.CanFire(trigger));
                if (!legal)
                {
                    Assert.Throws<InvalidOperationException>(() => reference.Machine.Fire(trigger));
                    await Assert.ThrowsAsync<InvalidOperationException>(() => table.FireAsync(trigger));
                    Assert.False(await table.TryFireAsync(trigger));
                    Assert.Equal(state, table.State);
                    Assert.Empty(transitions);
                    checkedPairs++;
                    continue;
                }

                reference.Machine.Fire(trigger);
                Assert.True(await table.TryFireAsync(trigger));
                Assert.Equal(reference.State, table.State);
                if (reference.State != state || reference.Machine.GetInfo().States.Single(s => Equals(s.UnderlyingState, state)).FixedTransitions.Any(t => Equals(t.Trigger.UnderlyingTrigger, trigger)))
                {
                    Assert.Equal([(state, reference.State, trigger)], transitions);
                }
                else
                {
                    Assert.Empty(transitions);   // an ignored trigger: no transition, no callback
                }

                if (paths.TryAdd(reference.State, [.. paths[state], trigger]))
                {
                    frontier.Enqueue(reference.State);
                }

                checkedPairs++;
            }
        }

        Assert.Equal(Enum.GetValues<ModemState>().Length, paths.Count);
        Assert.Equal(Enum.GetValues<ModemState>().Length * Enum.GetValues<ModemTrigger>().Length, checkedPairs);
    }
}
