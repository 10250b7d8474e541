"""phoenix-netgen audit / diff / apply / rollback / reach --deployed against fake /etc/pve trees.

tests/data/pve/clean is the bundled example as Proxmox would hold it (firewall files written by
`apply`, guest configs in pct.conf(5)/qm.conf(5) format, a cluster layout under nodes/); drift is the
same tree with one deliberate difference of each kind. When netgen's output changes, rebuild both with
tests/data/pve/make-fixtures.py (it keeps the hand-written guest configs)."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import unittest
from pathlib import Path

from harness import SOURCE_DIR
from netgen import EXAMPLE, HAVE_SHARED, NETGEN, SHARED_INVENTORY, copy_inventory, netgen, rmtree

DATA = SOURCE_DIR / "tests" / "data" / "pve"
HYP, LXC, VM = "phoenix_hypervisor_config.json", "phoenix_lxc_configs.json", "phoenix_vm_configs.json"


def tree_copy(name="clean"):
    dst = Path(tempfile.mkdtemp(prefix="netgen-pve-")) / "pve"
    shutil.copytree(DATA / name, dst, symlinks=True)
    return dst


def proxy_args(root):
    return ["--traefik-dir", str(root / "proxy" / "traefik"), "--nginx-conf", str(root / "proxy" / "nginx" / "phoenix-gateway.conf")]


def audit(root, inventory=EXAMPLE, proxies=True):
    r = netgen("audit", "--json", "--pve-root", str(root), *(proxy_args(root) if proxies else []), inventory=inventory)
    if r.returncode not in (0, 1):
        raise AssertionError(f"audit exited {r.returncode}:\n{r.stderr}")
    doc = json.loads(r.stdout)
    assert doc["matches"] == (r.returncode == 0), (r.returncode, doc)
    return r.returncode, doc["findings"]


def snapshot(root):
    """Every file under root: relative path -> (bytes, mtime_ns)."""
    out = {}
    for p in sorted(Path(root).rglob("*")):
        if p.is_file() and not p.is_symlink():
            out[str(p.relative_to(root))] = (p.read_bytes(), p.stat().st_mtime_ns)
    return out


class AuditTest(unittest.TestCase):
    def test_clean_tree_matches_the_example(self):
        code, findings = audit(DATA / "clean")
        self.assertEqual(findings, [])
        self.assertEqual(code, 0)

    def test_clean_tree_is_what_apply_writes(self):
        # The checked-in firewall and proxy files are exactly the generated ones: diff finds nothing.
        r = netgen("diff", "--pve-root", str(DATA / "clean"), *proxy_args(DATA / "clean"), inventory=EXAMPLE)
        self.assertEqual((r.returncode, r.stdout), (0, ""), r.stderr)

    def test_each_injected_difference_is_reported_with_file_and_line(self):
        code, findings = audit(DATA / "drift")
        self.assertEqual(code, 1)
        got = {(f["code"], f["deployed"]["file"].split("/drift/")[1], f["deployed"]["line"],
                (f.get("inventory") or {}).get("pointer")) for f in findings if f["code"] != "guest-missing"}
        expected = {
            ("deployed-invalid", "firewall/950.fw", 7, None),
            ("cluster-disabled", "firewall/cluster.fw", 6, "/firewall/enabled"),
            ("policy-differs", "firewall/cluster.fw", 7, "/firewall/default_input_policy"),
            ("rule-order", "firewall/101.fw", 12, "/lxc_configs/101/firewall/rules/0"),
            ("rule-missing", "firewall/102.fw", 9, "/lxc_configs/102/firewall/rules/4"),
            ("enable-differs", "firewall/103.fw", 5, "/lxc_configs/103/firewall/enabled"),
            ("rule-extra", "firewall/103.fw", 12, "/lxc_configs/103/firewall"),
            ("rule-disabled", "firewall/1001.fw", 11, "/vms/1/firewall/rules/0"),
            ("file-missing", "firewall/1002.fw", 0, "/vms/2/firewall"),
            ("stale-file", "firewall/900.fw", 0, None),
            ("foreign-file", "firewall/950.fw", 0, None),
            ("guest-ip-differs", "lxc/103.conf", 7, "/lxc_configs/103/network_config/ip"),
            ("nic-firewall-off", "lxc/914.conf", 8, "/lxc_configs/914/firewall/enabled"),
            ("guest-extra", "nodes/phoenix2/qemu-server/120.conf", 1, None),
            ("route-missing", "proxy/traefik/traefik-dynamic.yml", 0, "/lxc_configs/914/traefik_service"),
            ("route-extra", "proxy/traefik/traefik-dynamic.yml", 11, None),
            ("route-differs", "proxy/traefik/traefik-dynamic.yml", 8, "/lxc_configs/103/traefik_service"),
            ("route-extra", "proxy/nginx/phoenix-gateway.conf", 25, None),
        }
        self.assertEqual(got, expected)
        missing = [f for f in findings if f["code"] == "guest-missing"]
        self.assertEqual([f["inventory"]["pointer"] for f in missing], ["/lxc_configs/901"])
        text = netgen("audit", "--pve-root", str(DATA / "drift"), inventory=EXAMPLE).stdout
        self.assertIn("error nic-firewall-off: ", text)
        self.assertIn("/drift/lxc/914.conf:8: net0 has firewall=0", text)
        self.assertIn("(fix: pct set 914 -net0 name=eth0,bridge=vmbr0,firewall=1,gw=10.0.0.1,hwaddr=BC:24:11:5A:09:14,"
                      "ip=10.0.0.155/24,type=veth)", text)

    def test_snapshot_sections_do_not_override_the_current_config(self):
        # 914.conf's [before-driver-update] snapshot has firewall=0 and another address; the clean
        # audit above proves they are not read. Dropping the current net0 makes the snapshot's the only one.
        root = tree_copy()
        try:
            conf = root / "nodes" / "phoenix" / "lxc" / "914.conf"
            text = conf.read_text()
            conf.write_text("\n".join(l for l in text.split("\n") if not l.startswith("net0: name=eth0,bridge=vmbr0,firewall=1")))
            _, findings = audit(root, proxies=False)
            self.assertEqual([f["code"] for f in findings], ["nic-firewall-off"])
            self.assertIn("no network device", findings[0]["message"])
        finally:
            rmtree(root.parent)

    def test_same_meaning_in_other_words_is_no_difference(self):
        # An alias for the address, a macro for the port, other case, no -log, another comment.
        root = tree_copy()
        try:
            fw = root / "firewall"
            (fw / "cluster.fw").write_text((fw / "cluster.fw").read_text() + "\n[ALIASES]\n\ntraefik 10.0.0.12/32\n")
            p = fw / "103.fw"
            text = p.read_text()
            old = "IN ACCEPT -source 10.0.0.12 -p tcp -dport 9000 -log nolog # Allow Traefik to reach Step-CA"
            self.assertIn(old, text)
            p.write_text(text.replace(old, "in accept -source dc/traefik -p TCP -dport 9000 # the CA"))
            p = fw / "101.fw"
            text = p.read_text()
            p.write_text(text + "IN HTTPS(ACCEPT)\n")
            code, findings = audit(root, proxies=False)
            self.assertEqual([(f["code"], f["deployed"]["line"]) for f in findings], [("rule-extra", 14)])
            p.write_text(text.replace("IN ACCEPT -p tcp -dport 80,443 -log nolog", "IN Web(ACCEPT)"))
            self.assertEqual(len(audit(root, proxies=False)[1]), 2)  # a two-entry macro is two rules, not this one
        finally:
            rmtree(root.parent)

    def test_traefik_yaml_in_any_style_and_broken_yaml(self):
        root = tree_copy()
        try:
            t = root / "proxy" / "traefik"
            # Flow style, other quoting, another file of the directory: the same routes.
            gen = (t / "traefik-dynamic.yml").read_text()
            (t / "traefik-dynamic.yml").write_text(gen.split("http:")[0] + "http: {}\n")
            # qdrant's router carries what its stack's labels say: entry point, middlewares, TLS.
            extra = {"qdrant": ", entryPoints: ['websecure'], middlewares: [secure-headers@file, 'compress@file'],"
                               " tls: {certResolver: internal-resolver}"}
            (t / "by-hand.yaml").write_text(
                "http:\n  routers:\n" + "".join(
                    f"    {n}: {{rule: 'Host(`{n}.internal.thinkheads.ai`) || Host(`{n}.phoenix.thinkheads.ai`)', service: {n}"
                    f"{extra.get(n, '')}}}\n"
                    for n in ("ca", "ollama", "portainer", "qdrant")) +
                "  services:\n" + "".join(
                    f"    {n}: {{loadBalancer: {{servers: [{{url: '{u}'}}]}}}}\n"
                    for n, u in (("ca", "https://10.0.0.10:9000"), ("ollama", "http://10.0.0.155:11434"),
                                 ("portainer", "https://10.0.0.111:9443"), ("qdrant", "http://10.0.0.102:6333"))))
            self.assertEqual(audit(root), (0, []))
            # The router without its TLS, or with the middlewares in the other order, serves qdrant differently.
            hand = (t / "by-hand.yaml").read_text()
            for old, new in ((", tls: {certResolver: internal-resolver}", ""),
                             ("[secure-headers@file, 'compress@file']", "[compress@file, secure-headers@file]")):
                self.assertIn(old, hand)
                (t / "by-hand.yaml").write_text(hand.replace(old, new))
                code, findings = audit(root)
                self.assertEqual(code, 1)
                self.assertEqual(sorted((f["code"], Path(f["deployed"]["file"]).name, f["deployed"]["line"],
                                         f["message"].split("'")[0]) for f in findings),
                                 [("route-differs", "by-hand.yaml", 6, "qdrant.internal.thinkheads.ai"),
                                  ("route-differs", "by-hand.yaml", 6, "qdrant.phoenix.thinkheads.ai")])
            (t / "by-hand.yaml").write_text(hand)
            (t / "broken.yml").write_text("http:\n  routers: [\n")
            code, findings = audit(root)
            self.assertEqual([(f["code"], Path(f["deployed"]["file"]).name) for f in findings], [("deployed-invalid", "broken.yml")])
        finally:
            rmtree(root.parent)

    def test_host_fw_of_a_node_is_reported(self):
        root = tree_copy()
        try:
            (root / "nodes" / "phoenix" / "host.fw").write_text("[OPTIONS]\n\nenable: 1\n\n[RULES]\n\n|IN SSH(ACCEPT)\n")
            self.assertEqual(audit(root, proxies=False), (0, []))  # a disabled rule filters nothing
            (root / "nodes" / "phoenix" / "host.fw").write_text("[OPTIONS]\n\nenable: 0\n\n[RULES]\n\nIN ACCEPT -p tcp -dport 8080\n")
            code, findings = audit(root, proxies=False)
            self.assertEqual(code, 1)
            self.assertEqual(sorted((f["code"], f["deployed"]["line"]) for f in findings), [("host-disabled", 3), ("host-rules", 7)])
        finally:
            rmtree(root.parent)

    def test_bad_usage_exits_2(self):
        for args in (["audit"], ["reach", "traefik", "portainer", "9443", "--deployed"], ["check", "--deployed"]):
            r = netgen(*args, "--pve-root", "/nonexistent/pve", inventory=EXAMPLE)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn("--pve-root", r.stderr)

    def test_inventory_without_traefik_reports_the_deployed_nginx_routes(self):
        def no_traefik(f):
            f[LXC]["lxc_configs"]["102"]["name"] = "Proxy-Internal"
            for zone in f[HYP]["dns_server"]["authoritative_zones"]:
                for r in zone["records"]:
                    if r["hostname"] == "traefik":
                        r["hostname"] = "proxy"
        inv = copy_inventory(EXAMPLE, no_traefik)
        try:
            code, findings = audit(DATA / "clean", inv)
            self.assertEqual(code, 1)
            nginx = str(DATA / "clean" / "proxy" / "nginx" / "phoenix-gateway.conf")
            extra = [f for f in findings if f["code"] == "route-extra" and f["deployed"]["file"] == nginx]
            self.assertTrue(extra and all(f["deployed"]["line"] > 0 for f in extra), findings)
        finally:
            rmtree(inv)

    def test_apply_refuses_a_missing_pve_root(self):
        tmp = Path(tempfile.mkdtemp(prefix="netgen-pve-"))
        try:
            missing = tmp / "pev"  # a typo for pve
            r = netgen("apply", "--pve-root", str(missing), "--backup-dir", str(tmp / "backups"), inventory=EXAMPLE)
            self.assertEqual(r.returncode, 2, (r.stdout, r.stderr))
            self.assertIn("is not a directory (--pve-root); nothing written", r.stderr)
            self.assertEqual(list(tmp.iterdir()), [])
        finally:
            rmtree(tmp)


class ApplyTest(unittest.TestCase):
    def setUp(self):
        self.root = tree_copy()
        self.backups = self.root.parent / "backups"
        fw = self.root / "firewall"
        (fw / "950.fw").write_text("[RULES]\n\nIN ACCEPT -p tcp -dport 22\n")  # not netgen's
        (fw / "notes.txt").write_text("admin notes\n")
        for p in self.root.rglob("*"):  # an old tree: a rewrite would show as a new mtime
            if p.is_file() and not p.is_symlink():
                os.utime(p, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))

    def tearDown(self):
        rmtree(self.root.parent)

    def apply(self, inventory, *extra, env=None):
        cmd = [NETGEN, "apply", "--inventory", str(inventory), "--pve-root", str(self.root), *proxy_args(self.root),
               "--backup-dir", str(self.backups), *extra]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})})

    @staticmethod
    def changed_inventory():
        def edit(f):
            del f[LXC]["lxc_configs"]["914"]["firewall"]  # 914.fw is no longer produced
            f[LXC]["lxc_configs"]["102"]["firewall"]["rules"][4]["port"] = "6334"
        return copy_inventory(EXAMPLE, edit)

    def test_apply_rewrites_only_changes_and_rollback_restores_byte_for_byte(self):
        before = snapshot(self.root)
        inv = self.changed_inventory()
        try:
            dry = self.apply(inv, "--dry-run")
            self.assertEqual(dry.returncode, 0, dry.stderr)
            self.assertIn("-OUT ACCEPT -dest 10.0.0.102 -p tcp -dport 6333", dry.stdout)
            self.assertIn("+OUT ACCEPT -dest 10.0.0.102 -p tcp -dport 6334", dry.stdout)
            self.assertIn("914.fw: netgen wrote it, the inventory no longer produces it", dry.stdout)
            self.assertEqual(snapshot(self.root), before)
            self.assertFalse(self.backups.exists())

            r = self.apply(inv)
            self.assertEqual(r.returncode, 0, r.stderr)
            after = snapshot(self.root)
            changed = {k for k in before if k in after and after[k] != before[k]}
            self.assertEqual(changed, {"firewall/102.fw", "firewall/.phoenix-netgen-manifest.json"})
            self.assertEqual(set(before) - set(after), {"firewall/914.fw"})
            self.assertIn("removed " + str(self.root / "firewall" / "914.fw"), r.stdout)
            self.assertEqual(after["firewall/950.fw"], before["firewall/950.fw"])
            self.assertEqual(after["firewall/notes.txt"], before["firewall/notes.txt"])
            code, findings = audit(self.root, inv)
            self.assertEqual([f["code"] for f in findings], ["foreign-file"])  # 950.fw, left alone

            again = self.apply(inv)
            self.assertEqual((again.returncode, again.stdout), (0, "nothing to change\n"))
            self.assertEqual(snapshot(self.root), after)

            backup = r.stdout.split("\n")[0].split()[1]
            rb = subprocess.run([NETGEN, "rollback", backup], capture_output=True, text=True, timeout=60)
            self.assertEqual(rb.returncode, 0, rb.stderr)
            restored = snapshot(self.root)
            self.assertEqual({k: v[0] for k, v in restored.items()}, {k: v[0] for k, v in before.items()})
            self.assertEqual([f["code"] for f in audit(self.root)[1]], ["foreign-file"])
        finally:
            rmtree(inv)

    def test_diff_output_is_a_patch(self):
        inv = self.changed_inventory()
        try:
            cwd = self.root.parent
            r = subprocess.run([NETGEN, "diff", "--inventory", str(inv), "--pve-root", "pve"], capture_output=True,
                               text=True, timeout=60, cwd=cwd)
            self.assertEqual(r.returncode, 1, r.stderr)
            p = subprocess.run(["patch", "-p0", "--forward", "--batch"], input=r.stdout, capture_output=True,
                               text=True, cwd=cwd)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertFalse((self.root / "firewall" / "914.fw").exists())
            r2 = subprocess.run([NETGEN, "diff", "--inventory", str(inv), "--pve-root", "pve"], capture_output=True,
                                text=True, timeout=60, cwd=cwd)
            self.assertEqual((r2.returncode, r2.stdout), (0, ""))
        finally:
            rmtree(inv)

    def test_refusals(self):
        before = snapshot(self.root)
        bad = copy_inventory(EXAMPLE, lambda f: f[LXC]["lxc_configs"]["102"]["firewall"]["rules"][0].update(port="99999"))
        # Traefik's rule to the backends removed: check reports route-dropped errors.
        dropped = copy_inventory(EXAMPLE, lambda f: f[LXC]["lxc_configs"]["914"]["firewall"]["rules"].clear())
        try:
            for extra in ((), ("--force",)):
                r = self.apply(bad, *extra)
                self.assertEqual(r.returncode, 1)
                self.assertIn("the inventory has errors; nothing written", r.stderr)
            r = self.apply(dropped)
            self.assertEqual(r.returncode, 1)
            self.assertIn("route-dropped", r.stderr)
            self.assertIn("nothing written (--force writes anyway)", r.stderr)
            self.assertEqual(snapshot(self.root), before)
            r = self.apply(dropped, "--force")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertNotIn("firewall/914.fw", snapshot(self.root))  # no rules left: no 914.fw
        finally:
            rmtree(bad)
            rmtree(dropped)

    def test_hand_edits_foreign_files_and_a_broken_manifest(self):
        fw = self.root / "firewall"
        (fw / "102.fw").write_text((fw / "102.fw").read_text() + "IN ACCEPT -p tcp -dport 22 # by hand\n")
        m = json.loads((fw / ".phoenix-netgen-manifest.json").read_text())
        m["files"] = [f for f in m["files"] if f["path"] != "cluster.fw"]
        (fw / ".phoenix-netgen-manifest.json").write_text(json.dumps(m))
        (fw / "cluster.fw").write_text((fw / "cluster.fw").read_text().replace("policy_in: DROP", "policy_in: ACCEPT"))
        r = netgen("diff", "--pve-root", str(self.root), inventory=EXAMPLE)
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"# {fw / '102.fw'} was edited since netgen wrote it", r.stdout)
        self.assertIn(f"# {fw / 'cluster.fw'} was not written by netgen; apply replaces it", r.stdout)
        self.assertIn("-IN ACCEPT -p tcp -dport 22 # by hand", r.stdout)
        (fw / ".phoenix-netgen-manifest.json").write_text("{not json")
        before = snapshot(self.root)
        r = self.apply(EXAMPLE)
        self.assertEqual(r.returncode, 2)
        self.assertIn(".phoenix-netgen-manifest.json: not a netgen manifest", r.stderr)
        self.assertEqual(snapshot(self.root), before)

    def test_killed_apply_leaves_every_file_old_or_new(self):
        inv = self.changed_inventory()
        pristine = tree_copy()
        try:
            new_root = tree_copy()
            subprocess.run([NETGEN, "apply", "--inventory", str(inv), "--pve-root", str(new_root), *proxy_args(new_root),
                            "--backup-dir", str(self.backups / "new")], check=True, capture_output=True, timeout=60)
            old, new = snapshot(pristine), snapshot(new_root)
            rmtree(new_root.parent)
            # Writes of one apply here: 3 backup files + backup.json, the manifest (old and new names),
            # 102.fw, the final manifest. Kill at each, before and after its rename.
            kills = 0
            for point in [f"{stage}:{n}" for n in range(1, 10) for stage in ("temp", "rename")]:
                shutil.rmtree(self.root)
                shutil.copytree(DATA / "clean", self.root, symlinks=True)
                r = self.apply(inv, env={"PHOENIX_NETGEN_TEST_KILL": point})
                if r.returncode == 0:
                    continue  # fewer writes than n: the run finished
                self.assertEqual(r.returncode, -signal.SIGKILL, (point, r.stderr))
                kills += 1
                now = snapshot(self.root)
                for name, (data, _) in now.items():
                    if ".netgen-tmp." in name:
                        continue  # a temporary file: never read by Proxmox (not <vmid>.fw), removed by the next apply
                    self.assertIn(data, [old.get(name, (None,))[0], new.get(name, (None,))[0]], (point, name))
                fin = self.apply(inv)
                self.assertEqual(fin.returncode, 0, (point, fin.stderr))
                self.assertEqual({k: v[0] for k, v in snapshot(self.root).items()}, {k: v[0] for k, v in new.items()}, point)
            self.assertGreaterEqual(kills, 14)  # every write of the run, killed before and after its rename
        finally:
            rmtree(inv)
            rmtree(pristine.parent)


class OutDirTest(unittest.TestCase):
    def test_out_removes_only_stale_files_it_wrote(self):
        out = Path(tempfile.mkdtemp(prefix="netgen-out-"))
        inv = copy_inventory(EXAMPLE, lambda f: f[LXC]["lxc_configs"]["914"].pop("firewall"))
        try:
            (out / "950.fw").write_text("hand-written\n")
            r = netgen("firewall", "--out", str(out), inventory=EXAMPLE)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertTrue((out / "914.fw").exists())
            # Another command in the same directory owns its own files only.
            self.assertEqual(netgen("traefik", "--out", str(out), inventory=EXAMPLE).returncode, 0)
            r = netgen("firewall", "--out", str(out), inventory=inv)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn(f"removed {out / '914.fw'} (netgen wrote it before; the inventory no longer produces it)", r.stdout)
            self.assertIn(f"unchanged {out / '102.fw'}", r.stdout)
            self.assertFalse((out / "914.fw").exists())
            self.assertEqual((out / "950.fw").read_text(), "hand-written\n")
            self.assertTrue((out / "traefik-dynamic.yml").exists())
            # A failed run removes nothing.
            bad = copy_inventory(EXAMPLE, lambda f: f[LXC]["lxc_configs"]["102"]["firewall"]["rules"][0].update(port="0"))
            self.assertEqual(netgen("firewall", "--out", str(out), inventory=bad).returncode, 1)
            self.assertTrue((out / "102.fw").exists())
            rmtree(bad)
        finally:
            rmtree(out)
            rmtree(inv)


def reach(root, src, dst, pp):
    r = netgen("reach", src, dst, pp, "--json", "--deployed", "--pve-root", str(root), inventory=EXAMPLE)
    if r.returncode not in (0, 1):
        raise AssertionError(f"reach exited {r.returncode}:\n{r.stderr}")
    return json.loads(r.stdout)


class DeployedReachTest(unittest.TestCase):
    def setUp(self):
        self.root = tree_copy()

    def tearDown(self):
        rmtree(self.root.parent)

    def edit(self, rel, old, new):
        p = self.root / rel
        text = p.read_text()
        self.assertIn(old, text)
        p.write_text(text.replace(old, new))

    def test_allowed_names_the_live_rules(self):
        doc = reach(self.root, "traefik", "portainer", "9443")
        self.assertEqual(doc["verdict"], "ALLOW", doc)
        self.assertEqual([(Path(s["where"]["file"]).name, s["where"]["pointer"]) for s in doc["steps"]],
                         [("102.fw", "line 13"), ("1001.fw", "line 11")])

    def test_disabled_rule_drops_at_policy(self):
        self.edit("firewall/1001.fw", "IN ACCEPT -source 10.0.0.12", "|IN ACCEPT -source 10.0.0.12")
        doc = reach(self.root, "traefik", "portainer", "9443")
        self.assertEqual(doc["verdict"], "DROP")
        self.assertEqual(doc["steps"][-1]["level"], "vm 1001 (Portainer) IN")
        self.assertIn("policy_in DROP", doc["steps"][-1]["reason"])
        self.assertTrue(doc["steps"][-1]["where"]["file"].endswith("firewall/1001.fw"))

    def test_deployed_drop_rule_decides_with_its_line(self):
        self.edit("firewall/1001.fw", "[RULES]\n\n", "[RULES]\n\nIN DROP -source 10.0.0.0/24 -p tcp -dport 9443 -log info\n")
        doc = reach(self.root, "10.0.0.12", "10.0.0.111", "9443/tcp")
        self.assertEqual(doc["verdict"], "DROP")
        self.assertEqual(doc["steps"][-1]["where"]["pointer"], "line 11")
        # The inventory alone still allows it.
        r = netgen("reach", "10.0.0.12", "10.0.0.111", "9443/tcp", inventory=EXAMPLE)
        self.assertEqual(r.returncode, 0)

    def test_nic_without_firewall_is_not_filtered(self):
        # 102's OUT rules do not allow 8080, yet with firewall=0 on its NIC nothing filters it.
        self.assertEqual(reach(self.root, "traefik", "ollama", "8080")["verdict"], "DROP")
        self.edit("nodes/phoenix/lxc/102.conf", "firewall=1", "firewall=0")
        self.edit("nodes/phoenix/lxc/914.conf", "firewall=1,gw", "firewall=0,gw")
        doc = reach(self.root, "traefik", "ollama", "8080")
        self.assertEqual(doc["verdict"], "ALLOW", doc)
        self.assertEqual([s["where"]["file"].rsplit("/", 1)[1] for s in doc["steps"]], ["102.conf", "914.conf"])
        self.assertIn("firewall=0", doc["steps"][0]["where"]["pointer"])

    def test_macro_group_alias_and_iface(self):
        fw = self.root / "firewall"
        cluster = (fw / "cluster.fw").read_text()
        (fw / "cluster.fw").write_text(cluster + "\n[ALIASES]\n\ntraefik 10.0.0.12 # the proxy\n\n[IPSET admins]\n\n10.0.0.12\n\n[group web]\n\nIN HTTPS(ACCEPT) -source traefik\nIN Web(ACCEPT) -source +admins\n")
        self.edit("firewall/914.fw", "[RULES]\n\n", "[RULES]\n\nIN ACCEPT -i net1 -p tcp -dport 8443\nGROUP web -i net0\n")
        self.assertEqual(reach(self.root, "traefik", "ollama", "443")["verdict"], "ALLOW")
        self.assertEqual(reach(self.root, "traefik", "ollama", "80")["verdict"], "ALLOW")
        self.assertEqual(reach(self.root, "traefik", "ollama", "8443")["verdict"], "DROP")  # other NIC's rule

    def test_each_level_decides_from_the_deployed_files(self):
        # Source guest OUT: a deployed rule the inventory does not have.
        self.edit("firewall/102.fw", "[RULES]\n\n", "[RULES]\n\nOUT REJECT -dest 10.0.0.111\n")
        doc = reach(self.root, "traefik", "portainer", "9443")
        self.assertEqual((doc["verdict"], doc["steps"][-1]["level"], doc["steps"][-1]["where"]["pointer"]),
                         ("DROP", "lxc 102 (Traefik-Internal) OUT", "line 11"))
        self.assertEqual(len(doc["steps"]), 1)
        # Host IN: cluster.fw's rule allows DNS from the subnet, its policy drops the rest.
        doc = reach(self.root, "10.0.0.155", "host", "53/udp")
        self.assertEqual((doc["verdict"], doc["steps"][-1]["where"]["pointer"]), ("ALLOW", "line 14"))
        doc = reach(self.root, "203.0.113.7", "host", "53/udp")
        self.assertEqual(doc["verdict"], "DROP")
        self.assertEqual(doc["steps"][-1]["level"], "cluster.fw (host 10.0.0.13) IN")
        self.assertTrue(doc["steps"][-1]["where"]["file"].endswith("firewall/cluster.fw"))
        # Host OUT policy as deployed.
        self.edit("firewall/cluster.fw", "policy_out: ACCEPT", "policy_out: DROP")
        doc = reach(self.root, "host", "10.0.0.155", "11434")
        self.assertEqual((doc["verdict"], doc["steps"][0]["level"]), ("DROP", "cluster.fw (host 10.0.0.13) OUT"))

    def test_cluster_disabled_lets_everything_through(self):
        self.edit("firewall/cluster.fw", "enable: 1", "enable: 0")
        doc = reach(self.root, "203.0.113.7", "10.0.0.111", "22/tcp")
        self.assertEqual(doc["verdict"], "ALLOW")
        self.assertTrue(doc["steps"][0]["where"]["file"].endswith("cluster.fw"))

    def test_check_deployed_reports_the_dropped_route_at_the_deployed_file(self):
        self.edit("firewall/1001.fw", "IN ACCEPT -source 10.0.0.12", "|IN ACCEPT -source 10.0.0.12")
        r = netgen("check", "--json", "--deployed", "--pve-root", str(self.root), inventory=EXAMPLE)
        self.assertEqual(r.returncode, 1, r.stderr)
        dropped = [f for f in json.loads(r.stdout)["findings"] if f["code"] == "route-dropped"]
        self.assertTrue(dropped)
        self.assertTrue(any(w["file"].endswith("firewall/1001.fw") for f in dropped for w in f["where"]), dropped)
        self.assertEqual(netgen("check", "--deployed", "--pve-root", str(DATA / "clean"), inventory=EXAMPLE).returncode, 0)


def guest_configs(inventory, root):
    """Guest configs for every guest of an inventory, as Proxmox would hold them (net0 per guest)."""
    lxc = json.loads((inventory / LXC).read_text()).get("lxc_configs", {})
    vms = json.loads((inventory / VM).read_text()).get("vms", [])
    (root / "lxc").mkdir(parents=True, exist_ok=True)
    (root / "qemu-server").mkdir(parents=True, exist_ok=True)
    def fw(g):
        f = g.get("firewall")
        return 1 if isinstance(f, dict) and f.get("enabled") else 0
    for vmid, g in lxc.items():
        ip = (g.get("network_config") or {}).get("ip", "dhcp")
        (root / "lxc" / f"{vmid}.conf").write_text(
            f"hostname: {g.get('name', '')}\nnet0: name=eth0,bridge=vmbr0,firewall={fw(g)},ip={ip},type=veth\n")
    for g in vms:
        ip = (g.get("network_config") or {}).get("ip", "dhcp")
        (root / "qemu-server" / f"{g['vmid']}.conf").write_text(
            f"name: {g.get('name', '')}\nipconfig0: ip={ip}\nnet0: virtio=BC:24:11:00:00:01,bridge=vmbr0,firewall={fw(g)}\n")


def tree_from_dry_run(test, inventory, cwd):
    """A host tree made from `apply --dry-run` output alone: its diff, applied with patch(1)."""
    args = ["--pve-root", "pve", "--traefik-dir", "pve/traefik", "--nginx-conf", "pve/nginx/gw.conf"]
    r = subprocess.run([NETGEN, "apply", "--dry-run", "--inventory", str(inventory), *args], capture_output=True,
                       text=True, timeout=60, cwd=cwd)
    test.assertEqual(r.returncode, 0, r.stderr)
    test.assertFalse((cwd / "pve").exists())  # a dry run writes nothing
    p = subprocess.run(["patch", "-p0", "--batch"], input=r.stdout, capture_output=True, text=True, cwd=cwd)
    test.assertEqual(p.returncode, 0, p.stdout + p.stderr)
    guest_configs(inventory, cwd / "pve")
    return args


class DryRunTreeTest(unittest.TestCase):
    def test_example_tree_from_dry_run_audits_clean(self):
        cwd = Path(tempfile.mkdtemp(prefix="netgen-dry-"))
        try:
            args = tree_from_dry_run(self, EXAMPLE, cwd)
            r = subprocess.run([NETGEN, "audit", "--inventory", str(EXAMPLE), *args], capture_output=True, text=True,
                               timeout=60, cwd=cwd)
            self.assertEqual((r.returncode, r.stdout.splitlines()[-1]), (0, "0 errors, 0 warnings: the host matches the inventory"), r.stdout)
            conf = cwd / "pve" / "lxc" / "102.conf"
            conf.write_text(conf.read_text().replace("firewall=1", "firewall=0"))
            r = subprocess.run([NETGEN, "audit", "--inventory", str(EXAMPLE), *args], capture_output=True, text=True,
                               timeout=60, cwd=cwd)
            self.assertEqual(r.returncode, 1)
            self.assertIn("error nic-firewall-off: pve/lxc/102.conf:2: net0 has firewall=0", r.stdout)
        finally:
            rmtree(cwd)


@unittest.skipUnless(HAVE_SHARED, "the real inventory is not here")
class RealInventoryTest(unittest.TestCase):
    def test_tree_from_dry_run_audits_clean(self):
        cwd = Path(tempfile.mkdtemp(prefix="netgen-real-dry-"))
        try:
            args = tree_from_dry_run(self, SHARED_INVENTORY, cwd)
            r = subprocess.run([NETGEN, "audit", "--inventory", str(SHARED_INVENTORY), *args], capture_output=True,
                               text=True, timeout=60, cwd=cwd)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        finally:
            rmtree(cwd)

    def test_audit_of_its_own_apply_is_clean(self):
        root = Path(tempfile.mkdtemp(prefix="netgen-real-")) / "pve"
        try:
            root.mkdir()
            args = ["--pve-root", str(root), "--traefik-dir", str(root / "traefik"), "--nginx-conf", str(root / "nginx" / "gw.conf")]
            # --force: the real inventory has check errors (reported by check); apply still writes it.
            r = netgen("apply", *args, "--force", "--backup-dir", str(root.parent / "b"), inventory=SHARED_INVENTORY)
            self.assertEqual(r.returncode, 0, r.stderr)
            guest_configs(SHARED_INVENTORY, root)
            a = netgen("audit", *args, inventory=SHARED_INVENTORY)
            self.assertEqual(a.returncode, 0, a.stdout + a.stderr)
            (root / "firewall" / "900.fw").write_text((root / "firewall" / "900.fw").read_text().replace("enable: 1", "enable: 0"))
            a = netgen("audit", *args, inventory=SHARED_INVENTORY)
            self.assertEqual(a.returncode, 1)
            self.assertIn("900.fw:5: enable is 0 deployed", a.stdout)
        finally:
            rmtree(root.parent)


if __name__ == "__main__":
    unittest.main()
