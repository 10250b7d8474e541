#!/usr/bin/env python3
"""Rebuilds the generated parts of the fake /etc/pve trees after netgen's output changes.

clean/: firewall/ and proxy/ are what `phoenix-netgen apply` writes for the bundled example; the
guest configs (nodes/*/lxc, nodes/*/qemu-server, the lxc and qemu-server links) are written by hand
and kept. drift/: clean/ with one deliberate difference of each kind audit reports (the edits below).
Usage: tests/data/pve/make-fixtures.py [path to phoenix-netgen]"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parents[2]
NETGEN = sys.argv[1] if len(sys.argv) > 1 else str(SOURCE / "build" / "debug" / "tools" / "phoenix-netgen")


def regenerate_clean():
    clean = HERE / "clean"
    for sub in ("firewall", "proxy"):
        shutil.rmtree(clean / sub, ignore_errors=True)
    with tempfile.TemporaryDirectory() as backups:
        subprocess.run([NETGEN, "apply", "--inventory", str(SOURCE / "packaging" / "examples" / "inventory"),
                        "--pve-root", str(clean), "--traefik-dir", str(clean / "proxy" / "traefik"),
                        "--nginx-conf", str(clean / "proxy" / "nginx" / "phoenix-gateway.conf"),
                        "--backup-dir", backups], check=True, stdout=subprocess.DEVNULL)


def edit(path, change):
    text = path.read_text()
    new = change(text)
    if new == text:
        raise SystemExit(f"{path}: the edit no longer applies; update make-fixtures.py")
    path.write_text(new)


def swap_first_two_rules(text):
    lines = text.split("\n")
    idx = [n for n, l in enumerate(lines) if l.startswith(("IN ", "OUT "))]
    lines[idx[0]], lines[idx[1]] = lines[idx[1]], lines[idx[0]]
    return "\n".join(lines)


def make_drift():
    drift = HERE / "drift"
    shutil.rmtree(drift, ignore_errors=True)
    shutil.copytree(HERE / "clean", drift, symlinks=True)
    fw = drift / "firewall"
    edit(fw / "cluster.fw", lambda s: s.replace("enable: 1", "enable: 0").replace("policy_in: DROP", "policy_in: ACCEPT"))
    edit(fw / "1001.fw", lambda s: s.replace("IN ACCEPT -source 10.0.0.12", "|IN ACCEPT -source 10.0.0.12"))
    edit(fw / "102.fw", lambda s: re.sub(r"OUT ACCEPT -dest 10.0.0.102 .*\n", "", s))
    edit(fw / "103.fw", lambda s: s.replace("enable: 1", "enable: 0") + "IN SSH(ACCEPT) -source 10.0.0.0/24 -log nolog # admin access\n")
    edit(fw / "101.fw", swap_first_two_rules)
    (fw / "1002.fw").unlink()
    (fw / "900.fw").write_text("[OPTIONS]\n\nenable: 1\n\n[RULES]\n\nIN ACCEPT -p tcp -dport 8080 -log nolog # left over from an old guest\n")
    (fw / "950.fw").write_text("[OPTIONS]\n\nenable: 1\n\n[RULES]\n\nIN ACCEPT -p tcp -dport 22 -frobnicate yes\n")
    manifest = json.loads((fw / ".phoenix-netgen-manifest.json").read_text())
    manifest["files"].append({"command": "firewall", "path": "900.fw", "hash": ""})
    (fw / ".phoenix-netgen-manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    lxc = drift / "nodes" / "phoenix" / "lxc"
    edit(lxc / "914.conf", lambda s: s.replace("firewall=1,gw=10.0.0.1,hwaddr=BC:24:11:5A:09:14,ip=10.0.0.155",
                                                "firewall=0,gw=10.0.0.1,hwaddr=BC:24:11:5A:09:14,ip=10.0.0.155"))
    edit(lxc / "103.conf", lambda s: s.replace("ip=10.0.0.10/24", "ip=10.0.0.11/24"))
    (lxc / "901.conf").unlink()
    (drift / "nodes" / "phoenix2" / "qemu-server" / "120.conf").write_text(
        "name: scratch\nnet0: virtio=BC:24:11:7E:01:20,bridge=vmbr0,firewall=1\nipconfig0: ip=10.0.0.120/24\nmemory: 1024\n")
    traefik = drift / "proxy" / "traefik" / "traefik-dynamic.yml"
    edit(traefik, lambda s: s.replace("Host(`ollama.internal.thinkheads.ai`)", "Host(`llm.internal.thinkheads.ai`)", 1))
    edit(traefik, lambda s: s.replace("https://10.0.0.10:9000", "https://10.0.0.10:9001", 1))
    edit(drift / "proxy" / "nginx" / "phoenix-gateway.conf",
         lambda s: s.replace("server_name ca.phoenix.thinkheads.ai;", "server_name ca.phoenix.thinkheads.ai old.phoenix.thinkheads.ai;", 1))


if __name__ == "__main__":
    os.umask(0o022)
    regenerate_clean()
    make_drift()
