"""netgen -- run the real phoenix-netgen binary on an inventory and read what it wrote."""
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from harness import BUILD_DIR, EXAMPLE, SHARED_INVENTORY, copy_inventory  # noqa: F401 (re-exported)

NETGEN = os.environ.get("PHOENIX_NETGEN", str(BUILD_DIR / "tools" / "phoenix-netgen"))
HAVE_SHARED = (SHARED_INVENTORY / "phoenix_hypervisor_config.json").exists()


def netgen(*args, inventory=EXAMPLE, timeout=60):
    """Runs `phoenix-netgen ARGS --inventory DIR`; returns the CompletedProcess (text)."""
    cmd = [NETGEN, *args, "--inventory", str(inventory)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def generate(command, inventory=EXAMPLE, extra=()):
    """Runs a generator with --out into a fresh directory; returns that directory."""
    out = Path(tempfile.mkdtemp(prefix=f"netgen-{command}-"))
    r = netgen(command, "--out", str(out), *extra, inventory=inventory)
    if r.returncode != 0:
        raise AssertionError(f"phoenix-netgen {command} exited {r.returncode}:\n{r.stderr}")
    return out


def check(inventory, *extra):
    """Runs `check --json`; returns (exit code, findings list)."""
    r = netgen("check", "--json", *extra, inventory=inventory)
    if r.returncode not in (0, 1):
        raise AssertionError(f"check exited {r.returncode}:\n{r.stderr}")
    return r.returncode, json.loads(r.stdout)["findings"]


def codes(findings, severity=None):
    return sorted({f["code"] for f in findings if severity is None or f["severity"] == severity})


def rmtree(path):
    shutil.rmtree(path, ignore_errors=True)
