#!/bin/sh
# Smoke test for the load tools (ctest): the generator gets replies from the echo server. Bounded:
# the echo server exits by itself after 10 s and is stopped by its PID; no timing is asserted.
set -eu
echo_bin=$1 loadgen=$2 port=${3:-5398}
dir=$(mktemp -d)
gen=
trap 'kill "$pid" $gen 2>/dev/null || true; rm -rf "$dir"' EXIT
printf 'host1.bench.test A\nNX.bench.test AAAA\n' > "$dir/q.txt"
"$echo_bin" --port "$port" --seconds 10 &
pid=$!
sleep 0.3
out=$("$loadgen" --queries "$dir/q.txt" --port "$port" --duration 0.3 --warmup 0)
echo "$out"
case "$out" in *" received=0 "*) exit 1 ;; *" received="*) ;; *) exit 1 ;; esac
# Phase marks (SIGUSR2): 0.2 s of the second run is marked, and it must report replies in it.
"$loadgen" --queries "$dir/q.txt" --port "$port" --duration 2 --warmup 0 --interval 0.1 > /dev/null 2> "$dir/err" &
gen=$!
# Signal only once it says it started: before its handler is set, SIGUSR2 would kill it.
i=0
until grep -q '^start ' "$dir/err" || [ $i -ge 100 ]; do sleep 0.05; i=$((i + 1)); done
sleep 0.1; kill -USR2 "$gen" || true; sleep 0.2; kill -USR2 "$gen" || true
wait "$gen"
phase=$(grep '^phase ' "$dir/err" || true)
echo "$phase"
case "$phase" in *" received=0 "*) exit 1 ;; *" received="*) exit 0 ;; *) exit 1 ;; esac
