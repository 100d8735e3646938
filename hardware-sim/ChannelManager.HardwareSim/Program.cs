// Entry point of the hardware simulator process: `channelmanager-sim modem --port PATH --scenario FILE`.
// The verbs are added with the simulated modem (issue 3) and outstation (issue 5).
await Console.Error.WriteLineAsync("usage: channelmanager-sim <modem|outstation> [options]").ConfigureAwait(false);
return 2;
