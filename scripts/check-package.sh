#!/usr/bin/env bash
# Builds the Debian package from a configured build tree and checks it: contents (dpkg-deb -c),
# control fields, that the packaged binary runs and checks the bundled example, and the unit
# (systemd-analyze verify; no running systemd needed, so it works in a container).
# Usage: scripts/check-package.sh [BUILD_DIR]   (default build/debug)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/debug}
fail() { echo "package: $*" >&2; exit 1; }

rm -rf "$build/package"
log=$(mktemp)
cpack --config "$build/CPackConfig.cmake" >"$log" 2>&1 || { cat "$log"; fail "cpack failed"; }
rm -f "$log"
deb=$(ls "$build"/package/phoenix-dns_*.deb)
echo "package: built $deb"

contents=$(dpkg-deb -c "$deb" | awk '{print $NF}')
expect=(./usr/sbin/phoenix-dns ./usr/lib/systemd/system/phoenix-dns.service ./usr/share/man/man8/phoenix-dns.8.gz
        ./usr/share/doc/phoenix-dns/examples/inventory/phoenix_hypervisor_config.json)
# The companion tool goes in whenever it is built.
[ -x "$build/tools/phoenix-netgen" ] && expect+=(./usr/bin/phoenix-netgen)
for f in "${expect[@]}"; do
  grep -qxF "$f" <<<"$contents" || fail "$f missing from $deb"
done
# Nothing from the build or test trees leaks in.
if grep -E 'unit_|/include/|\.a$|gtest|/build/' <<<"$contents"; then fail "unexpected files in $deb"; fi
[ "$(dpkg-deb -f "$deb" Package)" = phoenix-dns ] || fail "wrong Package field"
dpkg-deb -f "$deb" Depends | grep -q 'libc6' || fail "no shared library dependencies computed"

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
dpkg-deb -x "$deb" "$root"
"$root/usr/sbin/phoenix-dns" --version | grep -q "^phoenix-dns " || fail "packaged binary does not run"
"$root/usr/sbin/phoenix-dns" --check --inventory "$root/usr/share/doc/phoenix-dns/examples/inventory" >/dev/null ||
  fail "packaged binary rejects the packaged example"
gzip -t "$root/usr/share/man/man8/phoenix-dns.8.gz" || fail "man page is not gzip"

unit="$root/usr/lib/systemd/system/phoenix-dns.service"
for key in Type=notify ExecReload= 'ExecStartPre=-/usr/sbin/phoenix-dns --check' DynamicUser=yes \
           StateDirectory=phoenix-dns NoNewPrivileges=yes ProtectSystem=strict PrivateTmp=yes \
           AmbientCapabilities=CAP_NET_BIND_SERVICE CapabilityBoundingSet=CAP_NET_BIND_SERVICE \
           PHOENIX_INVENTORY=/usr/local/phoenix_hypervisor/etc; do
  grep -q "^$key" "$unit" || grep -q "$key" "$unit" || fail "unit lacks $key"
done
# A minimal Debian has no procps: every command the unit runs must come from an Essential package or us.
if grep -E '^Exec[A-Za-z]*=' "$unit" | grep -vE '^Exec[A-Za-z]*=[-@+!]*(/usr/sbin/phoenix-dns|/bin/sh) '; then
  fail "the unit runs a command a minimal Debian may lack"
fi
if command -v systemd-analyze >/dev/null; then
  # verify wants the ExecStart binaries to exist, so point the unit at the unpacked ones; it needs
  # no running manager. --man=no: man:phoenix-dns(8) is in the package, not installed here.
  sed "s|/usr/sbin/phoenix-dns|$root/usr/sbin/phoenix-dns|g" "$unit" >"$root/phoenix-dns.service"
  out=$(cd "$root" && SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no ./phoenix-dns.service 2>&1) ||
    fail "systemd-analyze verify: $out"
  # Any complaint about our unit (not about units of the host it happens to load) is a failure.
  if grep -i 'phoenix-dns' <<<"$out"; then fail "systemd-analyze verify complained"; fi
  echo "package: unit verified with $(systemd-analyze --version | head -1)"
  # Informational: systemd's own rating of the sandbox (lower is better; "OK" is below 5).
  (cd "$root" && systemd-analyze security --offline=yes ./phoenix-dns.service 2>/dev/null | tail -1) || true
else
  fail "systemd-analyze not found (scripts/deps.sh installs systemd)"
fi
echo "package: OK ($(grep -c . <<<"$contents") entries)"
