# SPDX-License-Identifier: Apache-2.0
"""`smstudioctl import-seedfarmer` end to end: the binary prints the golden
manifest on stdout and the golden report on stderr, with the documented
exit status (0 complete, 2 values to fill in, 1 not converted, 64 usage),
and --json carries the same manifest and warnings."""

import json
import os
import subprocess
import tempfile
import unittest

SMSTUDIOCTL = os.environ.get("SMSTUDIOCTL", "smstudioctl")
ROOT = os.environ.get("SM_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
DATA = "tests/data/seedfarmer"


def golden(name, ext):
    with open(os.path.join(ROOT, DATA, name + ext), encoding="utf-8") as f:
        return f.read()


class ImportSeedfarmerTest(unittest.TestCase):
    def run_ctl(self, *args, stdin=None):
        # Relative paths from the source root, as the golden files name them.
        return subprocess.run([SMSTUDIOCTL] + list(args), cwd=ROOT, input=stdin,
                              capture_output=True, text=True, timeout=60)

    def assert_golden(self, name, status):
        p = self.run_ctl("import-seedfarmer", f"{DATA}/{name}.yaml")
        self.assertEqual(p.stdout, golden(name, ".expected"))
        self.assertEqual(p.stderr, golden(name, ".stderr"))
        self.assertEqual(p.returncode, status, p.stderr)

    def test_values_to_fill_in_exit_2(self):
        self.assert_golden("mlops-sagemaker", 2)

    def test_complete_exit_0(self):
        self.assert_golden("sso", 0)

    def test_not_converted_exit_1(self):
        self.assert_golden("deployment-manifest", 1)

    def test_json(self):
        p = self.run_ctl("--json", "import-seedfarmer", f"{DATA}/mlops-sagemaker.yaml")
        self.assertEqual(p.returncode, 2, p.stderr)
        out = json.loads(p.stdout)
        self.assertEqual(out["manifest"], golden("mlops-sagemaker", ".expected"))
        self.assertEqual(out["values_to_fill"], 5)
        self.assertEqual(out["errors"], [])
        lines = [f"{w['path']}:{w['line']}:{w['column']}: warning: {w['message']}\n"
                 for w in out["warnings"]]
        self.assertEqual("".join(lines) + f"{DATA}/mlops-sagemaker.yaml: converted; "
                         "5 values to fill in (marked TODO)\n", golden("mlops-sagemaker", ".stderr"))

    def test_json_not_converted(self):
        p = self.run_ctl("--json", "import-seedfarmer", f"{DATA}/deployment-manifest.yaml")
        self.assertEqual(p.returncode, 1)
        out = json.loads(p.stdout)
        self.assertIsNone(out["manifest"])
        self.assertEqual(len(out["errors"]), 1)
        self.assertIn("deployment manifest", out["errors"][0]["message"])

    def test_stdin(self):
        with open(os.path.join(ROOT, DATA, "sso.yaml"), encoding="utf-8") as f:
            text = f.read()
        p = self.run_ctl("import-seedfarmer", "-", stdin=text)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, golden("sso", ".expected").replace(f"{DATA}/sso.yaml", "-"))

    def test_missing_file(self):
        with tempfile.TemporaryDirectory() as d:
            p = self.run_ctl("import-seedfarmer", os.path.join(d, "nope.yaml"))
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stdout, "")
        self.assertIn("No such file or directory", p.stderr)

    def test_usage(self):
        p = self.run_ctl("import-seedfarmer")
        self.assertEqual(p.returncode, 64)
        self.assertIn("Usage: smstudioctl import-seedfarmer FILE", p.stderr)
        p = self.run_ctl("import-seedfarmer", "a.yaml", "b.yaml")
        self.assertEqual(p.returncode, 64)


if __name__ == "__main__":
    unittest.main()
