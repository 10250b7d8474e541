"""Privileges (issue 5): never serve as root. As root: bind, then drop to --user; without --user, refuse."""
import os
import pwd
import signal
import socket
import subprocess
import tempfile
import unittest
from pathlib import Path

from dnswire import udp_ask
from harness import BINARY, Server, copy_inventory, free_port
from test_reload import Flipper, reload_and_wait

NAME = "ollama.internal.thinkheads.ai"


def status_ids(pid):
    """Real, effective, saved, fs uids and gids, and supplementary groups, from /proc."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("Uid", "Gid", "Groups"):
            out[key] = [int(v) for v in value.split()]
    return out


def readable_inventory():
    inv = copy_inventory()
    os.chmod(inv, 0o755)  # mkdtemp is 0700: the dropped user must re-read it on SIGHUP
    for f in inv.iterdir():
        os.chmod(f, 0o644)
    return inv


@unittest.skipUnless(os.geteuid() == 0, "needs root")
class PrivilegeTest(unittest.TestCase):
    def test_user_drops_root_after_binding(self):
        nobody = pwd.getpwnam("nobody")
        parent = tempfile.mkdtemp(prefix="phoenix-state-")
        os.chmod(parent, 0o755)
        state = Path(parent) / "state"  # missing: created for, and owned by, the user
        inv = readable_inventory()
        server = Server(inv, args=["--user", "nobody"], state_dir=str(state)).start()
        try:
            ids = status_ids(server.proc.pid)
            self.assertEqual(ids["Uid"], [nobody.pw_uid] * 4, ids)
            self.assertEqual(ids["Gid"], [nobody.pw_gid] * 4, ids)
            self.assertEqual(ids["Groups"], [nobody.pw_gid], ids)
            # Every thread, not only the main one.
            for task in Path(f"/proc/{server.proc.pid}/task").iterdir():
                self.assertNotIn(0, status_ids(f"{server.proc.pid}/task/{task.name}")["Uid"])
            self.assertIn("privileges: running as nobody", server.output())
            self.assertNotIn("is not readable by nobody", server.output())
            self.assertEqual(udp_ask(server.port, NAME).addresses(), ["10.0.0.155"])
            self.assertEqual(os.stat(state).st_uid, nobody.pw_uid)
            self.assertEqual(os.stat(state / "serials.json").st_uid, nobody.pw_uid)
            # Reload still works as the user, and still writes the state.
            Flipper(inv).put("B")
            reload_and_wait(server)
            self.assertEqual(udp_ask(server.port, NAME).addresses(), ["10.0.0.156"])
            self.assertNotIn("cannot save serials", server.output())
        finally:
            rc = server.stop()
        self.assertEqual(rc, 0, server.output())

    def test_inventory_the_user_cannot_read_is_flagged_at_start(self):
        inv = copy_inventory()  # mkdtemp: 0700, root's
        server = Server(inv, args=["--user", "nobody"], state_dir=tempfile.mkdtemp()).start()
        try:
            self.assertIn(f"privileges: inventory {inv} is not readable by nobody; reloads will fail", server.output())
            # The state dir exists and is root's: serials stay in memory, and it says so.
            self.assertIn("serials are kept in memory only", server.output())
            self.assertEqual(udp_ask(server.port, NAME).addresses(), ["10.0.0.155"])
            # A reload as nobody fails and keeps the data.
            reload_and_wait(server, ok=False)
            self.assertEqual(udp_ask(server.port, NAME).addresses(), ["10.0.0.155"])
        finally:
            rc = server.stop()
        self.assertEqual(rc, 0, server.output())

    def run_refused(self, *args):
        port = free_port()
        p = subprocess.run([BINARY, "--inventory", str(copy_inventory()), "--listen", f"127.0.0.1:{port}",
                            "--state-dir", tempfile.mkdtemp(), "--upstream", "none", *args], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertNotIn("serving", p.stdout + p.stderr)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", port))  # refused before binding: the port is still free
        return p.stdout + p.stderr

    def test_root_without_user_is_refused(self):
        out = self.run_refused()
        self.assertIn("refusing to serve as root", out)
        self.assertIn("--user", out)

    def test_unknown_user_is_refused(self):
        self.assertIn("unknown user phoenix-no-such-user", self.run_refused("--user", "phoenix-no-such-user"))

    def test_user_root_is_refused(self):
        self.assertIn("refusing to serve as root", self.run_refused("--user", "root"))


if __name__ == "__main__":
    unittest.main()
