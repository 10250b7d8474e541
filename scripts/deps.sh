#!/usr/bin/env bash
# Installs the Debian 12 packages phoenix-dns needs to build, test and serve (only what is missing);
# a caller adds its own as arguments (bench/compare adds unbound, dnsperf and the peers it runs).
set -euo pipefail
packages=(
  build-essential cmake pkg-config python3
  libboost-dev libldns-dev nlohmann-json3-dev libspdlog-dev libcli11-dev
  libssl-dev  # libcrypto: TSIG HMACs (server/xfr)
  libyaml-cpp-dev  # phoenix-netgen writes Traefik YAML with it and audit reads deployed Traefik YAML
  libgtest-dev libgmock-dev libbenchmark-dev
  bind9-dnsutils knot-dnsutils
  dpkg-dev systemd  # CPack's dpkg-shlibdeps; systemd-analyze verify for the unit (no running systemd needed)
  debootstrap systemd-container  # scripts/test-systemd.sh: a Debian 12 root booted with systemd-nspawn
  knot   # knotd: the loopback upstream of the forwarding tests (they run their own instance)
  nginx bind9-utils python3-yaml graphviz openssl  # phoenix-netgen's tests: nginx -t, named-checkzone, YAML, SVG
  libfstrm-dev libprotobuf-c-dev protobuf-c-compiler  # dnstap: Frame Streams and the protobuf-c schema compiler
  prometheus  # promtool check metrics, and the Prometheus that scrapes us in test_metrics
  clang libclang-rt-dev nsd  # libFuzzer builds (scripts/fuzz.sh); nsd: the second reference server of test_differential
  bind9  # named and rndc: the BIND secondary of test_transfers (Knot and NSD are the other two)
  dnsmasq-base  # the real dnsmasq of test_dnsmasq_diff (the binary only: no service that takes port 53)
)
if [ $# -gt 0 ]; then packages+=("$@"); fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
