#!/usr/bin/env bash
# Installs what is missing, builds, and serves the bundled example inventory on 127.0.0.1:5353.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target phoenix-dns
port=${PORT:-5353}
cat <<MSG

phoenix-dns is serving packaging/examples/inventory on 127.0.0.1:$port (Ctrl-C stops it). Try:
  dig @127.0.0.1 -p $port ollama.internal.thinkheads.ai                 # internal view: 10.0.0.155
  dig @127.0.0.1 -p $port -b 127.0.0.2 ollama.phoenix.thinkheads.ai     # external view: the gateway
  dig @127.0.0.1 -p $port -x 10.0.0.155 +tcp

MSG
exec build/release/server/phoenix-dns --inventory packaging/examples/inventory \
  --listen "127.0.0.1:$port" --state-dir build/state \
  $( [ "$(id -u)" -ne 0 ] || echo --allow-root ) "$@"
