// These tests drive real processes (socat, ser2net, pymodbus, mbpoll, the simulator) against real
// timers on a 2-core machine: running test classes side by side starved them into timing failures
// (a dial answered NO CARRIER, a silent unit "answered"), so the classes run one after another.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
