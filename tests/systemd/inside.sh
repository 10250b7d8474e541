#!/bin/sh
# The checks scripts/test-systemd.sh runs inside a booted Debian 12 with the package installed: the
# unit as shipped, driven with systemctl, asked with dig on the container's own loopback. Every wait
# is bounded; the first failed check ends the run with its reason.
set -u
inv=/usr/local/phoenix_hypervisor/etc
lxc=$inv/phoenix_lxc_configs.json
fail() { echo "FAIL: $*"; journalctl -u phoenix-dns --no-pager | tail -30; exit 1; }
ok() { echo "ok: $*"; }
answer() { dig @127.0.0.1 +short +time=1 +tries=1 ollama.internal.thinkheads.ai A; }
status() { systemctl show -p StatusText --value phoenix-dns; }
# until CMD...: up to 20 s
until_true() { i=0; while [ $i -lt 100 ]; do "$@" && return 0; sleep 0.2; i=$((i + 1)); done; return 1; }
has_answer() { [ "$(answer)" = "$1" ]; }
status_has() { status | grep -q "$1"; }

mkdir -p $inv
cp /usr/share/doc/phoenix-dns/examples/inventory/*.json $inv/
chmod 644 $inv/*.json
# Port 53 of this container's own network namespace (nothing but its loopback); no upstream.
echo 'PHOENIX_DNS_OPTIONS="--listen 127.0.0.1:53 --upstream none"' >/etc/default/phoenix-dns

timeout 60 systemctl start phoenix-dns || fail "systemctl start"
systemctl is-active -q phoenix-dns || fail "not active after start"
until_true has_answer 10.0.0.155 || fail "dig after start: '$(answer)'"
status_has "serving generation 1" || fail "status after start: $(status)"
ok "start: active, dig gives 10.0.0.155, status '$(status)'"

sed -i 's/10\.0\.0\.155/10.0.0.158/' $lxc
timeout 30 systemctl reload phoenix-dns || fail "systemctl reload (changed inventory)"
until_true has_answer 10.0.0.158 || fail "dig after reload: '$(answer)'"
until_true status_has "serving generation 2" || fail "status after reload: $(status)"
ok "reload with a changed inventory: dig gives 10.0.0.158, status '$(status)'"

good=$(cat $lxc)
head -c 200 /usr/share/doc/phoenix-dns/examples/inventory/phoenix_lxc_configs.json >$lxc
timeout 30 systemctl reload phoenix-dns || fail "systemctl reload (broken inventory)"
until_true status_has "last reload failed" || fail "status after a broken reload: $(status)"
has_answer 10.0.0.158 || fail "old answer not kept after a broken reload: '$(answer)'"
systemctl is-active -q phoenix-dns || fail "not active after a broken reload"
ok "reload with a broken inventory: old answer kept, status '$(status)'"

timeout 60 systemctl restart phoenix-dns || fail "systemctl restart with a broken inventory"
systemctl is-active -q phoenix-dns || fail "not active after a restart with a broken inventory"
until_true has_answer 10.0.0.158 || fail "dig after a restart with a broken inventory: '$(answer)'"
status_has "serving last good data from" || fail "status after a restart with a broken inventory: $(status)"
ok "restart with a broken inventory: last good data served, status '$(status)'"

echo "$good" >$lxc
timeout 30 systemctl stop phoenix-dns || fail "systemctl stop"
systemctl is-active -q phoenix-dns && fail "still active after stop"
# dig exits 9 when no server answered.
dig @127.0.0.1 +time=1 +tries=1 ollama.internal.thinkheads.ai >/dev/null && fail "still answering after stop"
ok "stop: inactive, no answer"

journal=$(journalctl -u phoenix-dns --no-pager -o cat)
for line in "info: serving " "reload: generation 1 -> 2" "reload: failed" "serving the last good data from" \
            "phoenix_lxc_configs.json" "received SIGTERM; stopping" "info: stopped"; do
  echo "$journal" | grep -qF "$line" || fail "journal lacks '$line'"
done
ok "journal has start, reload, failed reload, fallback and stop lines"

exposure=$(systemd-analyze security phoenix-dns --no-pager 2>/dev/null | tail -1)
echo "$exposure"
level=$(echo "$exposure" | sed -n 's/.*exposure level for phoenix-dns.service: \([0-9.]*\).*/\1/p')
[ -n "$level" ] || fail "systemd-analyze security gave no level"
awk -v l="$level" 'BEGIN { exit !(l < 3.0) }' || fail "exposure $level is not below 3.0"
ok "systemd-analyze security: exposure $level"
echo "ALL OK"
