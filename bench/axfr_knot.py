#!/usr/bin/env python3
"""AXFR of a big zone from phoenix-dns to a Knot secondary: how long until Knot serves it.

Generates the zone with gen_data.py (--names, 1M for the real figure), serves it with phoenix-dns
(transfers allowed from loopback), starts knotd as its secondary and waits until Knot answers the
zone's SOA and last name. Prints one line of figures. `--names 2000` is the smoke run ctest uses.
Everything runs on loopback with ports the OS picks; only the processes started here are stopped.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.bind(("127.0.0.1", 0))
        return u.getsockname()[1]


def dig_short(port, name, rtype):
    out = subprocess.run(["dig", "@127.0.0.1", "-p", str(port), name, rtype, "+short", "+norec", "+time=1",
                          "+tries=1"], capture_output=True, text=True, timeout=10)
    return out.stdout.strip()


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--names", type=int, default=1000000)
    ap.add_argument("--phoenix", default=os.path.join(HERE, "..", "build", "release", "server", "phoenix-dns"))
    ap.add_argument("--timeout", type=float, default=600)
    a = ap.parse_args()
    if not shutil.which("knotd"):
        print("axfr_knot: knotd not installed (Debian package knot)")
        return 77  # ctest's SKIP_RETURN_CODE
    work = tempfile.mkdtemp(prefix="phoenix-bench-axfr-")
    procs = []
    try:
        subprocess.run([sys.executable, os.path.join(HERE, "gen_data.py"), work, "--names", str(a.names),
                        "--what", "inventory,zone"], check=True)
        cfg_path = os.path.join(work, "inventory", "phoenix_hypervisor_config.json")
        cfg = json.load(open(cfg_path))
        cfg["dns_server"]["views"][0]["transfer"] = {"allow": ["127.0.0.0/8"]}
        json.dump(cfg, open(cfg_path, "w"))
        pport, kport = free_port(), free_port()
        state = os.path.join(work, "state")
        cmd = [a.phoenix, "--inventory", os.path.join(work, "inventory"), "--listen", f"127.0.0.1:{pport}",
               "--state-dir", state, "--upstream", "none", "--resolv-conf", os.devnull, "--threads", "1"]
        if os.geteuid() == 0:
            cmd.append("--allow-root")
        plog = open(os.path.join(work, "phoenix.log"), "w")
        procs.append(subprocess.Popen(cmd, stdout=plog, stderr=subprocess.STDOUT))
        deadline = time.monotonic() + a.timeout
        while time.monotonic() < deadline and "info: serving " not in open(plog.name).read():
            time.sleep(0.1)
        serial = dig_short(pport, "bench.test", "SOA").split()[2]
        kdir = os.path.join(work, "knot")
        os.makedirs(kdir)
        with open(os.path.join(kdir, "knot.conf"), "w") as f:
            f.write(f"""server:
    rundir: "{kdir}"
    listen: 127.0.0.1@{kport}
database:
    storage: "{kdir}/db"
log:
  - target: "{kdir}/knot.log"
    any: info
remote:
  - id: primary
    address: 127.0.0.1@{pport}
template:
  - id: default
    storage: "{kdir}"
    master: primary
    zonefile-sync: -1
    journal-content: none
zone:
  - domain: bench.test
""")
        start = time.monotonic()
        klog = open(os.path.join(kdir, "stdout.log"), "w")
        procs.append(subprocess.Popen(["knotd", "-c", os.path.join(kdir, "knot.conf")], stdout=klog,
                                      stderr=subprocess.STDOUT))
        last = f"host{a.names - 1}.bench.test"
        while time.monotonic() < deadline:
            soa = dig_short(kport, "bench.test", "SOA").split()
            if len(soa) > 2 and soa[2] == serial and dig_short(kport, last, "A"):
                break
            time.sleep(0.05)
        else:
            print("axfr_knot: Knot did not get the zone in time\n" + open(os.path.join(kdir, "knot.log")).read()[-2000:])
            return 1
        took = time.monotonic() - start
        xfr = [l for l in open(plog.name) if "xfr: AXFR" in l]
        print(f"axfr_knot: {a.names} names: Knot served serial {serial} {took:.2f} s after it started; "
              f"primary: {xfr[-1].split('xfr: ', 1)[1].strip() if xfr else 'no transfer logged'}")
        return 0 if xfr else 1
    finally:
        for p in reversed(procs):
            stop(p)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
