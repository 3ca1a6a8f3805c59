#!/usr/bin/env bash
# Installs with apt-get what the tests need and the machine may lack: memcached,
# the Redis tools (redis-cli, redis-benchmark) for the cluster script, redis-sentinel
# for the Sentinel script and failover tests, Chromium
# and ChromeDriver for the browser test, Node.js and npm for clients/node, Python's
# cryptography package for the Fernet interoperability test of crates/sesame.
set -euo pipefail
need=()
command -v memcached >/dev/null || need+=(memcached)
command -v redis-cli >/dev/null || need+=(redis-tools)
command -v redis-sentinel >/dev/null || need+=(redis-sentinel)
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
python3 -c 'import cryptography' 2>/dev/null || need+=(python3-cryptography)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
