using ChannelManager.HardwareSim.Modems;
using ChannelManager.HardwareSim.Outstations;

// The hardware simulator as its own process, so the real serial and TCP adapters can be tested
// against it over a socat pty pair or a TCP port:
//   channelmanager-sim modem --port PATH|--listen tcp://127.0.0.1:PORT --scenario FILE
//   channelmanager-sim outstation --port PATH|--listen tcp://127.0.0.1:PORT [options]
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
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: channelmanager-sim <modem|outstation> [options]");
    return 2;
}
