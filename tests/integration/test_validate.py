# SPDX-License-Identifier: Apache-2.0
"""`smstudioctl validate` end to end: the shipped example manifests, broken
copies of them (errors located as path:line:column), the --json shape, the
trust rules (owner, mode, symlink targets) and --config naming the
directory. Every case works on a private copy made with explicit owner and
modes, so the outcome never depends on how the source tree was checked out
(a group-writable checkout would rightly be refused)."""

import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

SMSTUDIOCTL = os.environ.get("SMSTUDIOCTL", "smstudioctl")
SOURCE_ROOT = os.environ.get("SM_SOURCE_ROOT",
                             os.path.join(os.path.dirname(__file__), "..", ".."))
EXAMPLES = os.path.join(SOURCE_ROOT, "config", "smstudio.d")

SUMMARY_RE = re.compile(r"^(\d+) files?, (\d+) domains?, (\d+) users?, (\d+) spaces?: (.*)$")


class ValidateTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="smstudio-validate-")
        os.chmod(self.tmp, 0o755)
        self.dir = os.path.join(self.tmp, "smstudio.d")
        os.mkdir(self.dir)
        os.chmod(self.dir, 0o755)
        self.names = []
        for name in sorted(os.listdir(EXAMPLES)):
            src = os.path.join(EXAMPLES, name)
            if os.path.isfile(src) and re.search(r"\.ya?ml$", name) and not name.startswith("."):
                with open(src, encoding="utf-8") as f:
                    self.put(name, f.read())
                self.names.append(name)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def put(self, name, text, mode=0o644, where=None):
        path = os.path.join(where or self.dir, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def run_ctl(self, *args):
        env = dict(os.environ)
        return subprocess.run([SMSTUDIOCTL] + list(args), capture_output=True, text=True,
                              timeout=60, env=env)

    def validate(self, *args):
        return self.run_ctl("validate", *args)

    def summary(self, p):
        lines = p.stdout.strip().splitlines()
        self.assertTrue(lines, p.stderr)
        return lines[-1]

    def test_shipped_examples_are_valid(self):
        self.assertTrue(self.names, "no example manifests in config/smstudio.d")
        p = self.validate(self.dir)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        m = SUMMARY_RE.match(self.summary(p))
        self.assertIsNotNone(m, p.stdout)
        self.assertEqual(int(m.group(1)), len(self.names))
        self.assertGreaterEqual(int(m.group(2)), 1)
        self.assertGreaterEqual(int(m.group(3)), 1)
        self.assertEqual(m.group(5), "valid")
        # Nothing but the summary: no errors to print.
        self.assertEqual(len(p.stdout.strip().splitlines()), 1, p.stdout)

    def test_broken_copy_is_located(self):
        alice = os.path.join(self.dir, "alice.yaml")
        with open(alice, encoding="utf-8") as f:
            text = f.read()
        if not text.endswith("\n"):
            text += "\n"
        bad_line = text.count("\n") + 1
        self.put("alice.yaml", text + "groop: data_science_users\n")
        p = self.validate(self.dir)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        expected = "%s:%d:1: unknown key \"groop\"" % (alice, bad_line)
        self.assertIn(expected, p.stdout)
        self.assertIn("did you mean \"group\"", p.stdout)
        self.assertRegex(self.summary(p), r": \d+ errors? in 1 file$")
        # Every line but the summary is a located error.
        for line in p.stdout.strip().splitlines()[:-1]:
            self.assertRegex(line, r"^/.+\.ya?ml(:\d+:\d+)?: .+")

    def test_every_error_of_a_file_is_reported(self):
        self.put("carol.yaml", "kind: User\nname: carol\ngroop: x\ncolour: blue\n")
        p = self.validate(self.dir)
        self.assertEqual(p.returncode, 1)
        self.assertIn("carol.yaml:3:1: unknown key \"groop\"", p.stdout)
        self.assertIn("carol.yaml:4:1: unknown key \"colour\"", p.stdout)

    def test_cross_file_duplicate_names_both_places(self):
        self.put("alice-again.yaml", "kind: User\nname: alice\ngroup: data_science_users\n")
        p = self.validate(self.dir)
        self.assertEqual(p.returncode, 1, p.stdout)
        # One located error naming both files.
        lines = [ln for ln in p.stdout.splitlines() if "defined twice" in ln]
        self.assertTrue(lines, p.stdout)
        self.assertRegex(lines[0], r"^/.+\.yaml:\d+:\d+: .*\"alice\"")
        self.assertIn(os.path.join(self.dir, "alice.yaml"), lines[0])
        self.assertIn(os.path.join(self.dir, "alice-again.yaml"), lines[0])

    def test_json_shape(self):
        self.put("alice.yaml~", "kind: Nonsense\n")
        self.put("carol.yaml", "kind: User\nname: carol\ngroop: x\n")
        p = self.validate("--json", self.dir)
        self.assertEqual(p.returncode, 1, p.stderr)
        out = json.loads(p.stdout)
        self.assertEqual(set(out), {"valid", "config", "directory", "files", "diagnostics",
                                    "summary"})
        self.assertIs(out["valid"], False)
        self.assertEqual(out["directory"], self.dir)
        by_name = {f["name"]: f for f in out["files"]}
        self.assertEqual(by_name["alice.yaml~"]["status"], "ignored")
        self.assertEqual(by_name["alice.yaml~"]["reason"], "an editor leftover")
        self.assertEqual(by_name["carol.yaml"]["status"], "failed")
        for name in self.names:
            self.assertEqual(by_name[name]["status"], "ok")
        self.assertEqual([f["name"] for f in out["files"]],
                         sorted(f["name"] for f in out["files"]))
        for d in out["diagnostics"]:
            self.assertEqual(set(d), {"path", "line", "column", "message"})
        located = [d for d in out["diagnostics"] if "groop" in d["message"]]
        self.assertEqual(len(located), 1)
        self.assertEqual((located[0]["line"], located[0]["column"]), (3, 1))
        s = out["summary"]
        self.assertEqual(s["files"], len(self.names) + 1)
        self.assertGreaterEqual(s["errors"], 1)
        self.assertEqual(s["files_with_errors"], 1)
        for k in ("domains", "users", "spaces", "generated_spaces"):
            self.assertIsInstance(s[k], int)

        p = self.validate("--json", self.dir + "/")
        self.assertEqual(p.returncode, 1)
        os.unlink(os.path.join(self.dir, "carol.yaml"))
        p = self.validate("--json", self.dir)
        self.assertEqual(p.returncode, 0, p.stdout)
        out = json.loads(p.stdout)
        self.assertIs(out["valid"], True)
        self.assertEqual(out["diagnostics"], [])

    def test_ignored_names_change_nothing(self):
        for name in (".hidden.yaml", "alice.yaml~", ".alice.yaml.swp", "bob.yaml.dpkg-old",
                     "bob.yaml.rpmnew", "README"):
            self.put(name, "this: [is not valid\n")
        os.mkdir(os.path.join(self.dir, "nested.yaml.d"))
        self.put("deep.yaml", "kind: Nonsense\n", where=os.path.join(self.dir, "nested.yaml.d"))
        p = self.validate(self.dir)
        self.assertEqual(p.returncode, 0, p.stdout)
        m = SUMMARY_RE.match(self.summary(p))
        self.assertEqual(int(m.group(1)), len(self.names))

    def test_untrusted_files_are_refused(self):
        alice = os.path.join(self.dir, "alice.yaml")
        os.chmod(alice, 0o664)
        p = self.validate(self.dir)
        self.assertEqual(p.returncode, 1)
        self.assertIn("%s: refused: writable by group (mode 0664)" % alice, p.stdout)
        os.chmod(alice, 0o646)
        p = self.validate(self.dir)
        self.assertIn("%s: refused: writable by others (mode 0646)" % alice, p.stdout)
        os.chmod(alice, 0o644)

        # A world-writable directory is refused as a whole.
        os.chmod(self.dir, 0o777)
        p = self.validate(self.dir)
        self.assertEqual(p.returncode, 1)
        self.assertIn("refusing the manifest directory", p.stdout)
        os.chmod(self.dir, 0o755)

        if os.geteuid() == 0:
            os.chown(alice, 65534, 65534)
            p = self.validate(self.dir)
            self.assertEqual(p.returncode, 1)
            self.assertIn("%s: refused: owned by uid 65534" % alice, p.stdout)
            os.chown(alice, 0, 0)

        p = self.validate(self.dir)
        self.assertEqual(p.returncode, 0, p.stdout)

    def test_symlinks_count_only_with_trusted_targets(self):
        targets = os.path.join(self.tmp, "targets")
        os.mkdir(targets)
        os.chmod(targets, 0o755)
        good = self.put("carol.yaml", "kind: User\nname: carol\ngroup: data_science_users\n",
                        where=targets)
        os.symlink(good, os.path.join(self.dir, "carol.yaml"))
        p = self.validate(self.dir)
        self.assertEqual(p.returncode, 0, p.stdout)
        m = SUMMARY_RE.match(self.summary(p))
        self.assertEqual(int(m.group(1)), len(self.names) + 1)

        os.chmod(good, 0o666)
        p = self.validate(self.dir)
        self.assertEqual(p.returncode, 1)
        self.assertRegex(p.stdout, r"carol\.yaml: refused: symlink target .*carol\.yaml is "
                                   r"writable by group and others")
        os.chmod(good, 0o644)

        os.chmod(targets, 0o777)
        p = self.validate(self.dir)
        self.assertEqual(p.returncode, 1)
        self.assertRegex(p.stdout, r"carol\.yaml: refused: the directory .*targets of symlink")
        os.chmod(targets, 0o755)

        os.symlink("/nonexistent/dan.yaml", os.path.join(self.dir, "dan.yaml"))
        p = self.validate(self.dir)
        self.assertEqual(p.returncode, 1)
        self.assertIn("dan.yaml: refused: cannot open the symlink's target", p.stdout)

    def test_config_names_the_directory(self):
        config = self.put("smstudiod.yaml", "manifest_dir: %s\n" % self.dir, where=self.tmp)
        p = self.run_ctl("--config", config, "validate")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertTrue(self.summary(p).endswith(": valid"))
        p = self.run_ctl("validate", "--config", config, "--json")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        out = json.loads(p.stdout)
        self.assertEqual(out["config"], config)
        self.assertEqual(out["directory"], self.dir)

        # The shipped daemon config is valid too (it names /etc/smstudio.d,
        # so check it against our copy of the manifests).
        shipped = os.path.join(SOURCE_ROOT, "config", "smstudiod.yaml")
        if os.path.exists(shipped):
            p = self.run_ctl("validate", "--config", shipped, self.dir)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

        bad = self.put("bad.yaml", "manifest_dir: %s\nintervall: 5m\n" % self.dir,
                       where=self.tmp)
        p = self.run_ctl("validate", "--config", bad)
        self.assertEqual(p.returncode, 1)
        self.assertIn("%s:2:1: unknown key \"intervall\"" % bad, p.stdout)

        p = self.run_ctl("validate", "--config", os.path.join(self.tmp, "missing.yaml"))
        self.assertEqual(p.returncode, 1)
        self.assertIn("missing.yaml", p.stdout)

    def test_usage(self):
        p = self.validate(self.dir, self.dir)
        self.assertEqual(p.returncode, 64)
        p = self.validate("--no-such-option")
        self.assertEqual(p.returncode, 64)
        p = self.validate(os.path.join(self.tmp, "nope"))
        self.assertEqual(p.returncode, 1)
        self.assertIn("cannot read the manifest directory", p.stdout)


if __name__ == "__main__":
    unittest.main()
