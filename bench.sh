#!/usr/bin/env bash
# Issue 5 and 9 benchmarks (docs/performance.md). Not run by test.sh or CI: they take minutes and want a quiet machine.
#   1. BenchmarkDotNet micro-benchmarks, short job: FC3 request encode / response decode (0 B allocated)
#      and one ModbusRtuMaster poll against a canned-reply transport.
#   2. line-rate: FC3 x10 over a socat pty against a pymodbus RTU slave, ours vs mbpoll vs the line-rate
#      bound, at 19200 and 9600 baud.
#   3. issue 9: hot-path and scheduler-queue micro-benchmarks (in-process toolchain), then the scale simulation
#      (workloads/scale-10k.json: 10,000 outstations, 64 modems, 24 simulated hours; SCALE_HOURS overrides the hours),
#      and the idle cost of 256 TCP-attached modems (`idle --seconds 5` is the short smoke form).
# Usage: ./bench.sh [SECONDS]   (line-rate window per master, default 30)
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-30}"
project=tests/ChannelManager.Benchmarks

for tool in socat mbpoll timeout dotnet; do
  command -v "$tool" >/dev/null || { echo "bench.sh: '$tool' is missing (./test.sh installs the rig tools)" >&2; exit 1; }
done
/usr/bin/python3 -c 'import pymodbus, serial' 2>/dev/null || { echo "bench.sh: /usr/bin/python3 needs pymodbus and pyserial" >&2; exit 1; }

echo "== $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -sr)"
dotnet build "$project" -c Release -nologo -v q
echo "== micro-benchmarks (BenchmarkDotNet --job short)"
dotnet run -c Release --no-build --project "$project" -- --filter '*ModbusRtuCodec*' '*ModbusRtuMaster*' --job short
for baud in 19200 9600; do
  echo "== line-rate ${baud} baud, ${seconds} s per master"
  dotnet run -c Release --no-build --project "$project" -- line-rate --seconds "$seconds" --baud "$baud"
done
echo "== hot paths and scheduler queue (BenchmarkDotNet --job short --inProcess)"
dotnet run -c Release --no-build --project "$project" -- --filter '*HotPath*' '*SchedulerQueue*' --job short --inProcess --artifacts "${TMPDIR:-/tmp}/bdn"
echo "== scale simulation"
# Server GC, as the channelmanager host runs (the benchmarks project asks for it; the bench prints the GC it ran with).
dotnet run -c Release --no-build --project "$project" -- scale ${SCALE_HOURS:+--hours "$SCALE_HOURS"}
echo "== idle cost: 256 TCP-attached simulated modems, health checks, 60 s"
dotnet run -c Release --no-build --project "$project" -- idle --modems 256 --seconds 60
