"""test_reload_report -- each reload says what it changed per view and zone; --check --diff-from-state says it first."""
import json
import os
import re
import signal
import socket
import tempfile
import time
import unittest

from harness import Server, copy_inventory, run_binary


def move_guest(inv, ip):
    """Gives guest 901 (copy-cuda12-8) another address: one A changed, one PTR gone, one new."""
    f = inv / "phoenix_lxc_configs.json"
    data = json.loads(f.read_text())
    data["lxc_configs"]["901"]["network_config"]["ip"] = ip
    f.write_text(json.dumps(data, indent=2))


class ReloadReport(unittest.TestCase):
    def test_reload_logs_changes_and_check_predicts_them(self):
        inv = copy_inventory()
        d = tempfile.mkdtemp(prefix="phoenix-notify-")
        path = os.path.join(d, "notify")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(path)
            sock.settimeout(10)
            server = Server(inv, env=dict(os.environ, NOTIFY_SOCKET=path)).start()
            try:
                self.assertIn("READY=1", sock.recv(4096).decode())
                state = server.state_dir
                deadline = time.monotonic() + 10
                while not os.path.exists(os.path.join(state, "served", "internal")) and time.monotonic() < deadline:
                    time.sleep(0.05)
                # Nothing edited yet: the check predicts no change.
                r = run_binary("--check", "--diff-from-state", "--inventory", str(inv), "--state-dir", str(state))
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                self.assertIn("reload would change: no zone changed", r.stdout)

                move_guest(inv, "10.0.0.202/24")
                r = run_binary("--check", "--diff-from-state", "--inventory", str(inv), "--state-dir", str(state))
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                predicted = sorted(re.findall(r"reload would change: (view .*)", r.stdout))
                self.assertEqual(len(predicted), 2, r.stdout)
                self.assertRegex(r.stdout, r"view internal, zone internal\.thinkheads\.ai\.: \+0 -0 ~1 records, serial \d+ -> \d+")
                self.assertRegex(r.stdout, r"view internal, zone 0\.0\.10\.in-addr\.arpa\.: \+1 -1 ~0 records")
                self.assertIn("reload would change: 2 zones changed (+1 -1 ~1 records)", r.stdout)

                server.signal(signal.SIGHUP)
                self.assertIn("RELOADING=1", sock.recv(4096).decode())
                status = sock.recv(4096).decode()
                self.assertIn("STATUS=serving generation 2; last reload: 2 zones changed (+1 -1 ~1 records)",
                              status.splitlines())
                logged = sorted(re.findall(r"info: reload: (view .*)", server.output()))
                # The reload reports exactly what the check predicted. The new serial may be later than the
                # predicted one (it follows the clock when the content changes, and the reload runs after
                # the check), never earlier.
                def split(lines):
                    return [re.match(r"(.*serial \d+ -> )(\d+)$", l).groups() for l in lines]
                self.assertEqual([a for a, _ in split(logged)], [a for a, _ in split(predicted)])
                for (_, got), (_, want) in zip(split(logged), split(predicted)):
                    self.assertGreaterEqual(int(got), int(want))
                self.assertEqual(server.dig("copy-cuda12-8.internal.thinkheads.ai").rdata("A"), ["10.0.0.202"])

                # After the reload, the state describes the new data: nothing left to change.
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    r = run_binary("--check", "--diff-from-state", "--inventory", str(inv), "--state-dir", str(state))
                    if "no zone changed" in r.stdout:
                        break
                    time.sleep(0.1)
                self.assertIn("reload would change: no zone changed", r.stdout)
            finally:
                rc = server.stop()
            self.assertEqual(rc, 0, server.output())

    def test_diff_from_state_without_state_says_why(self):
        r = run_binary("--check", "--diff-from-state", "--inventory", str(copy_inventory()),
                       "--state-dir", tempfile.mkdtemp(prefix="phoenix-empty-"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("no description of the served zones", r.stderr)


if __name__ == "__main__":
    unittest.main()
