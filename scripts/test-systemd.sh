#!/usr/bin/env bash
# Tests the Debian package under a real, booted systemd: a Debian 12 root made with debootstrap
# (cached in PHOENIX_SYSTEMD_ROOT, default /var/cache/phoenix-dns/systemd-root, rebuilt when missing),
# copied for each run, the .deb installed into the copy with apt, then booted with systemd-nspawn in a
# network namespace of its own (only its loopback: port 53 there is nobody else's). A unit inside runs
# tests/systemd/inside.sh (start, dig, reload, broken reload, restart on a broken inventory, stop,
# journal, systemd-analyze security) and powers the container off; its log and exit code come back
# through a bind mount.
# Usage: scripts/test-systemd.sh [BUILD_DIR]   (after scripts/check-package.sh built the package)
# Exit 0 also when the machine cannot do it (not root, no systemd-nspawn/debootstrap, no boot): it
# prints "systemd test: SKIPPED: <why>".
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/debug}
cache=${PHOENIX_SYSTEMD_ROOT:-/var/cache/phoenix-dns/systemd-root}
boot_seconds=${PHOENIX_SYSTEMD_SECONDS:-300}
skip() { echo "systemd test: SKIPPED: $*"; exit 0; }
fail() { echo "systemd test: FAILED: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || skip "needs root (debootstrap and systemd-nspawn)"
command -v systemd-nspawn >/dev/null || skip "systemd-nspawn missing (Debian package systemd-container)"
command -v debootstrap >/dev/null || skip "debootstrap missing"
deb=$(ls "$build"/package/phoenix-dns_*.deb 2>/dev/null | head -1) || true
[ -n "$deb" ] || fail "no package in $build/package: run scripts/check-package.sh $build first"

# The Debian mirror this machine's apt uses (deb822 .sources or a one-line sources.list).
mirror=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -1)
[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $0 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
mirror=${mirror:-http://deb.debian.org/debian}

if [ ! -x "$cache/usr/lib/systemd/systemd" ]; then
  echo "systemd test: building the Debian 12 root in $cache from $mirror (once; a few minutes)"
  rm -rf "$cache.tmp"
  mkdir -p "$(dirname "$cache")"
  timeout 1200 debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,bind9-dnsutils bookworm \
    "$cache.tmp" "$mirror" >"$(dirname "$cache")/debootstrap.log" 2>&1 ||
    { tail -20 "$(dirname "$cache")/debootstrap.log"; skip "debootstrap failed (no access to $mirror?)"; }
  rm -rf "$cache"
  mv "$cache.tmp" "$cache"
fi

work=$(mktemp -d /var/tmp/phoenix-systemd.XXXXXX)
trap 'rm -rf "$work"' EXIT
root="$work/root"
echo "systemd test: copying the root"
cp -a "$cache" "$root"
mkdir -p "$work/out" "$root/phoenix-test"
cp "$deb" "$root/phoenix-test/phoenix-dns.deb"  # not /tmp: nspawn mounts a tmpfs there
cp tests/systemd/inside.sh "$root/phoenix-test/inside.sh"
cp tests/systemd/phoenix-test.service "$root/etc/systemd/system/phoenix-test.service"
ln -s /etc/systemd/system/phoenix-test.service "$root/etc/systemd/system/multi-user.target.wants/phoenix-test.service"
# The container needs no login prompt; it must not wait on one either.
ln -sf /dev/null "$root/etc/systemd/system/console-getty.service"

# Install with apt, as an admin would: it brings the libraries the package depends on.
nspawn=(systemd-nspawn -q -D "$root" --register=no --keep-unit)
install_pkg() { timeout 600 "${nspawn[@]}" --pipe env DEBIAN_FRONTEND=noninteractive apt-get "$@" </dev/null; }
if ! install_pkg install -y -q /phoenix-test/phoenix-dns.deb >"$work/apt.log" 2>&1; then
  install_pkg update -q >>"$work/apt.log" 2>&1 || { tail -20 "$work/apt.log"; skip "apt cannot reach $mirror"; }
  install_pkg install -y -q /phoenix-test/phoenix-dns.deb >>"$work/apt.log" 2>&1 || { tail -30 "$work/apt.log"; fail "apt install"; }
fi
echo "systemd test: installed $(basename "$deb") with apt"
[ -e "$root/bin/kill" ] && echo "systemd test: note: this root has /bin/kill; the reload test does not need it"

echo "systemd test: booting (at most ${boot_seconds}s)"
set +e
timeout "$boot_seconds" "${nspawn[@]}" -b --private-network --bind="$work/out:/phoenix-test/out" \
  >"$work/boot.log" 2>&1 </dev/null
boot_rc=$?
set -e
if [ ! -e "$work/out/rc" ]; then
  tail -30 "$work/boot.log"
  if ! grep -q "Reached target" "$work/boot.log"; then skip "systemd-nspawn cannot boot a container here (rc $boot_rc)"; fi
  [ -e "$work/out/log" ] && cat "$work/out/log"
  fail "the test inside did not finish (nspawn rc $boot_rc)"
fi
cat "$work/out/log"
rc=$(cat "$work/out/rc")
[ "$rc" = 0 ] || fail "inside the container (rc $rc)"
echo "systemd test: OK"
