#!/usr/bin/env bash
# Installs with apt-get what the benchmark scripts need and the machine may
# lack: wrk (HTTP load), valgrind (instruction counts), linux-perf (perf stat),
# redis-tools (redis-cli for INFO commandstats). Not needed by the tests or CI.
set -euo pipefail
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v valgrind >/dev/null || need+=(valgrind)
command -v perf >/dev/null || need+=(linux-perf)
command -v redis-cli >/dev/null || need+=(redis-tools)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
