using ChannelManager.Core.Modems;

namespace ChannelManager.IntegrationTests.Modems;

/// <summary>
/// Active/active hand-over of a TCP-attached modem (issue 11, docs/scale-out.md §6) through a real ser2net that, like
/// most serial servers, takes one client per port: while the old owner's idle connection stays open the new owner's
/// set-up fails (a fault that would be counted against a healthy modem); once the old owner has released the link
/// (<see cref="AtModem.ReleaseLinkAsync"/>, what the ownership loop does before it gives the lease up) the new owner's
/// set-up succeeds, and the old owner's engine reopens the link by itself if the modem comes back to it.
/// </summary>
public sealed class SharedModemHandOverTests
{
    [Fact]
    public async Task ReleaseLinkAsync_OneClientSerialServer_NewOwnerCanSetUpOnlyAfterTheOldOwnerReleased()
    {
        await using var rig = await AtModemRig.StartAsync(RigLink.Ser2Net, "M1", kickOldUser: false);
        await using var peer = rig.SecondHostModem("M1@fe-b");

        var first = await rig.Modem.InitializeAsync(CancellationToken.None).WaitAsync(AtModemRig.Bound);
        Assert.True(first.IsSuccess, $"old owner's init: {first.Code} {first.RawReply}");

        // The control: the old owner still holds the port's one connection, so the new owner cannot set the modem up.
        var refused = await peer.InitializeAsync(CancellationToken.None).WaitAsync(AtModemRig.Bound);
        Assert.False(refused.IsSuccess, $"the serial server let a second client in: {refused.RawReply}");

        await rig.Modem.ReleaseLinkAsync(CancellationToken.None).WaitAsync(AtModemRig.Bound);
        var taken = await peer.InitializeAsync(CancellationToken.None).WaitAsync(AtModemRig.Bound);
        Assert.True(taken.IsSuccess, $"new owner's init after the release: {taken.Code} {taken.RawReply}\n{rig.SimulatorOutput}");

        // And back: the new owner releases, the old owner's next operation reopens its link without any help.
        await peer.ReleaseLinkAsync(CancellationToken.None).WaitAsync(AtModemRig.Bound);
        var back = await rig.Modem.InitializeAsync(CancellationToken.None).WaitAsync(AtModemRig.Bound);
        Assert.True(back.IsSuccess, $"old owner's init after getting the modem back: {back.Code} {back.RawReply}");
    }
}
