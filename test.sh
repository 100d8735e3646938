#!/usr/bin/env bash
# Runs every test of ChannelManager on a fresh machine: installs the rig's Debian packages when
# missing (socat, ser2net, pymodbus, mbpoll — design.md §7), restores, builds with warnings as
# errors, runs the unit and integration suites, and ends with the line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")"

need=()
command -v socat >/dev/null 2>&1 || need+=(socat)
command -v ser2net >/dev/null 2>&1 || need+=(ser2net)
command -v mbpoll >/dev/null 2>&1 || need+=(mbpoll)
/usr/bin/python3 -c 'import pymodbus' >/dev/null 2>&1 || need+=(python3-pymodbus)
/usr/bin/python3 -c 'import serial' >/dev/null 2>&1 || need+=(python3-serial)
# The dashboard test drives Debian's headless Chromium through chromedriver (issue 8 item 6).
{ command -v chromium && command -v chromedriver; } >/dev/null 2>&1 || need+=(chromium chromium-driver)
# The shared-state store's tests run against a real PostgreSQL server (issue 11; tests/support/postgres.sh).
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing ${need[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null \
    || { echo "could not install ${need[*]}"; echo "0 passed, 1 failed"; exit 1; }
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
echo "== restore and build"
if ! dotnet build ChannelManager.sln -c Release -warnaserror 2>&1 | tee /tmp/cm-build.log | grep -E "error|Warn|Build succeeded" ; then :; fi
if ! grep -q "Build succeeded" /tmp/cm-build.log || grep -qE "[1-9][0-9]* Error\(s\)" /tmp/cm-build.log; then
  echo "build failed"; echo "0 passed, 1 failed"; exit 1
fi

echo "== tests"
# A throw-away PostgreSQL server for the Postgres store's tests; they fail (CI=true) without CHANNELMANAGER_TEST_PG.
if pg_env=$(tests/support/postgres.sh start); then
  eval "$pg_env"
  trap 'tests/support/postgres.sh stop "$CM_PG_DIR"' EXIT
else
  echo "could not start the test PostgreSQL server; its tests will fail"
fi
results=$(mktemp -d)
# A test that hangs (no test runs 10 minutes; the longest, the config fuzz, ~2) is killed and named in the console
# output and the blame sequence file, instead of silently eating the CI's time limit.
dotnet test ChannelManager.sln -c Release --no-build --blame-hang-timeout 10m --blame-hang-dump-type none --logger "trx" --logger "console;verbosity=minimal" --results-directory "$results" 2>&1 | tee /tmp/cm-test.log
status=${PIPESTATUS[0]}

# Sum the TRX counters of every test assembly (dotnet test's own summary is per assembly). A skipped xunit test
# ([Fact(Skip = ...)]) is a UnitTestResult with outcome="NotExecuted" but is not in the Counters' notExecuted (the
# adapter leaves it at 0), so skipped tests are counted from the results, per file.
read -r passed failed skipped < <(python3 -c '
import re, sys
p = f = s = 0
for name in sys.argv[1:]:
    try:
        text = open(name, encoding="utf-8-sig").read()
    except OSError:
        continue
    for m in re.finditer(r"<Counters [^>]*", text):
        c = dict(re.findall(r"(\w+)=\"(\d+)\"", m.group(0)))
        p += int(c.get("passed", 0)); f += int(c.get("failed", 0)) + int(c.get("error", 0)) + int(c.get("timeout", 0)) + int(c.get("aborted", 0))
        counted = int(c.get("notExecuted", 0))
        s += max(counted, len(re.findall(r"<UnitTestResult [^>]*outcome=\"NotExecuted\"", text)))
print(p, f, s)' "$results"/*.trx)
if [ "$status" -ne 0 ] && [ "${failed:-0}" -eq 0 ]; then failed=1; fi   # a crashed test host is a failure
echo "${passed:-0} passed, ${failed:-0} failed, ${skipped:-0} skipped"
[ "$status" -eq 0 ] && [ "${failed:-0}" -eq 0 ]
