using ChannelManager.HardwareSim.Modems;
using ChannelManager.HardwareSim.Nat;
using ChannelManager.HardwareSim.Outstations;

// The hardware simulator as its own process, so the real serial and TCP adapters can be tested
// against it over a socat pty pair or a TCP port:
//   channelmanager-sim modem --port PATH|--listen tcp://127.0.0.1:PORT --scenario FILE
//   channelmanager-sim outstation --port PATH|--listen tcp://127.0.0.1:PORT [options]
//   channelmanager-sim nat --listen tcp://127.0.0.1:PORT --target tcp://HOST:PORT [--idle SECONDS]   (stdin commands)
// Not disposed: ProcessExit can fire after Main returns, and must still be able to cancel.
var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};
AppDomain.CurrentDomain.ProcessExit += (_, _) => stop.Cancel();

return args.FirstOrDefault() switch
{
    "modem" => await ModemProcess.RunAsync(args[1..], stop.Token).ConfigureAwait(false),
    "outstation" => await OutstationProcess.RunAsync(args[1..], stop.Token).ConfigureAwait(false),
    "nat" => await NatProcess.RunAsync(args[1..], Console.In, Console.Out, stop.Token).ConfigureAwait(false),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: channelmanager-sim <modem|outstation|nat> [options]");
    return 2;
}
