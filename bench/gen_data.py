#!/usr/bin/env python3
"""Generates one data set served identically by every server in bench/compare.

For N names it writes, under OUT/:
  bench.test.zone  the zone as an RFC 1035 zone file (phoenix-dns, NSD, Knot)
  inventory/  phoenix-dns inventory serving that file in both its views (dns_server.zone_files)
  hosts       the same names as a hosts file (dnsmasq)
  queries.txt the query mix: 80% existing names with mixed case, 10% NXDOMAIN, 5% NODATA (AAAA),
              5% other types (SOA/NS at the apex, MX/TXT at a name)
The data and the mix are deterministic (fixed seed), so runs and servers see the same queries.
"""
import argparse
import json
import os
import random

ZONE = "bench.test"
NS = "ns1.bench.test"  # an in-zone name server with glue, like a real zone


def addr(i):
    return f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


def host(i):
    return f"host{i}"


def mixed_case(rng, name):
    return "".join(c.upper() if c.isalpha() and rng.random() < 0.5 else c for c in name)


def write_inventory(out):
    # phoenix-dns reads the very zone file NSD and Knot read (dns_server.zone_files), so every server
    # loads and serves the same bytes.
    inv = os.path.join(out, "inventory")
    os.makedirs(inv, exist_ok=True)
    cfg = {
        "version": "bench",
        "domain_name": "internal.thinkheads.ai",
        "network": {"interfaces": {"name": "vmbr0", "address": "10.0.0.13/24", "gateway": "10.0.0.1"},
                    "default_subnet": "10.0.0.0/24"},
        "firewall": {"enabled": True, "default_input_policy": "DROP", "default_output_policy": "ACCEPT",
                     "global_firewall_rules": []},
        "dns_server": {
            "enabled": True,
            # Loopback is internal: the bench traffic takes the first view, after a realistic list walk.
            "views": [{"name": "internal", "match_clients": ["10.0.0.0/24", "127.0.0.0/8", "::1"]},
                      {"name": "external", "match_clients": ["any"]}],
            "zone_files": [{"file": f"../{ZONE}.zone", "origin": ZONE}],
        },
    }
    with open(os.path.join(inv, "phoenix_hypervisor_config.json"), "w") as f:
        json.dump(cfg, f)


def write_zone(out, n, soa):
    with open(os.path.join(out, f"{ZONE}.zone"), "w") as f:
        f.write(f"$ORIGIN {ZONE}.\n$TTL 300\n")
        f.write(f"@ SOA {soa}\n@ NS {NS}.\nns1 A 10.255.255.1\n")
        for i in range(n):
            f.write(f"{host(i)} A {addr(i)}\n")
    with open(os.path.join(out, "hosts"), "w") as f:
        f.write("10.255.255.1 ns1.bench.test\n")
        for i in range(n):
            f.write(f"{addr(i)} {host(i)}.{ZONE}\n")


def write_queries(out, n, count, seed):
    rng = random.Random(seed)
    lines = []
    for _ in range(count):
        r = rng.random()
        i = rng.randrange(n)
        if r < 0.80:
            lines.append(f"{mixed_case(rng, host(i) + '.' + ZONE)} A")
        elif r < 0.90:
            lines.append(f"nx{i}.{ZONE} A")
        elif r < 0.95:
            lines.append(f"{host(i)}.{ZONE} AAAA")
        else:
            lines.append(rng.choice([f"{ZONE} SOA", f"{ZONE} NS", f"{host(i)}.{ZONE} MX", f"{host(i)}.{ZONE} TXT"]))
    with open(os.path.join(out, "queries.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--names", type=int, default=10000)
    ap.add_argument("--queries", type=int, default=200000)
    ap.add_argument("--seed", type=int, default=4)
    ap.add_argument("--soa", default=f"{NS}. hostmaster.bench.test. 1 3600 900 1209600 300")
    ap.add_argument("--what", default="inventory,zone,queries")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    what = a.what.split(",")
    if "inventory" in what:
        write_inventory(a.out)
    if "zone" in what:
        write_zone(a.out, a.names, a.soa)
    if "queries" in what:
        write_queries(a.out, a.names, a.queries, a.seed)


if __name__ == "__main__":
    main()
