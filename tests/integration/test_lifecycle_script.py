# SPDX-License-Identifier: Apache-2.0
"""config/lifecycle/idle-shutdown.sh offline: its checker's decision
against a fake Jupyter server on loopback (busy kernel, recent and old
activity, terminals, an unreachable server), the DeleteApp it asks the AWS
CLI for (a fake `aws` on PATH records it), and the whole script run as a
lifecycle config would run it. Also its size against AWS's limit and
shellcheck when installed."""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SOURCE_ROOT = os.environ.get("SM_SOURCE_ROOT",
                             os.path.join(os.path.dirname(__file__), "..", ".."))
SCRIPT = os.path.join(SOURCE_ROOT, "config", "lifecycle", "idle-shutdown.sh")
sys.path.insert(0, os.path.join(SOURCE_ROOT, "tests", "emulator"))
from emutest import wait_for  # noqa: E402

BASE = "/jupyterlab/default/"


def iso(t):
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class FakeJupyter:
    """Serves api/status, api/kernels and api/terminals from self.data."""

    def __init__(self):
        self.data = {"status": {}, "kernels": [], "terminals": []}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                name = self.path[len(BASE + "api/"):] if self.path.startswith(BASE) else ""
                if name not in fake.data:
                    self.send_error(404)
                    return
                body = json.dumps(fake.data[name]).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d%s" % (self.server.server_address[1], BASE)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def load_checker(path):
    with open(SCRIPT, encoding="utf-8") as f:
        text = f.read()
    begin = text.index("# --- idle_checker.py begin ---")
    end = text.index("# --- idle_checker.py end ---")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text[begin:end])
    spec = importlib.util.spec_from_file_location("idle_checker", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class IdleShutdownTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="smstudio-lcc-")
        self.jupyter = FakeJupyter()
        self.checker = load_checker(os.path.join(self.tmp, "idle_checker.py"))
        self.now = time.time()
        started = iso(self.now - 6 * 3600)
        self.jupyter.data["status"] = {"started": started, "last_activity": started}
        # A fake AWS CLI that records its arguments.
        self.bin = os.path.join(self.tmp, "bin")
        os.mkdir(self.bin)
        self.calls = os.path.join(self.tmp, "aws-calls")
        with open(os.path.join(self.bin, "aws"), "w", encoding="utf-8") as f:
            f.write("#!/bin/sh\nprintf '%%s\\n' \"$*\" >>%s\n" % self.calls)
        os.chmod(os.path.join(self.bin, "aws"), 0o755)
        self.old_path = os.environ["PATH"]
        os.environ["PATH"] = self.bin + os.pathsep + self.old_path
        self.metadata = os.path.join(self.tmp, "resource-metadata.json")
        with open(self.metadata, "w", encoding="utf-8") as f:
            json.dump({"DomainId": "d-abc123", "SpaceName": "alice-JupyterLab-space",
                       "ResourceName": "default", "AppType": "JupyterLab",
                       "ResourceArn": "arn:aws:sagemaker:eu-west-1:123456789012:app/d-abc123/"
                                      "alice-JupyterLab-space/jupyterlab/default"}, f)

    def tearDown(self):
        os.environ["PATH"] = self.old_path
        self.jupyter.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def recorded(self):
        if not os.path.exists(self.calls):
            return []
        with open(self.calls, encoding="utf-8") as f:
            return f.read().splitlines()

    def check(self, minutes=120):
        return self.checker.check(self.jupyter.url, self.metadata, minutes * 60, now=self.now)

    def test_idle_app_is_stopped_with_delete_app(self):
        self.jupyter.data["kernels"] = [{"execution_state": "idle",
                                         "last_activity": iso(self.now - 3 * 3600)}]
        self.assertTrue(self.check())
        self.assertEqual(self.recorded(), [
            "sagemaker delete-app --region eu-west-1 --domain-id d-abc123 --app-type JupyterLab "
            "--app-name default --space-name alice-JupyterLab-space"])

    def test_activity_keeps_it_running(self):
        cases = {
            "busy kernel": {"kernels": [{"execution_state": "busy",
                                         "last_activity": iso(self.now - 5 * 3600)}]},
            "recent kernel": {"kernels": [{"execution_state": "idle",
                                           "last_activity": iso(self.now - 60)}]},
            "recent terminal": {"terminals": [{"name": "1",
                                               "last_activity": iso(self.now - 600)}]},
            "recent server activity": {"status": {"started": iso(self.now - 6 * 3600),
                                                  "last_activity": iso(self.now - 30)}},
        }
        for what, data in cases.items():
            with self.subTest(what):
                saved = dict(self.jupyter.data)
                self.jupyter.data.update(data)
                self.assertFalse(self.check())
                self.jupyter.data = saved
        self.assertEqual(self.recorded(), [])
        # The same app past a shorter timeout is stopped.
        self.jupyter.data["terminals"] = [{"name": "1", "last_activity": iso(self.now - 600)}]
        self.assertTrue(self.check(minutes=5))

    def test_decision_function(self):
        f = self.checker.idle_seconds
        st = {"started": iso(1000.0), "last_activity": iso(2000.0)}
        self.assertAlmostEqual(f(2600.0, st, [], []), 600.0, places=3)
        self.assertAlmostEqual(
            f(2600.0, st, [{"execution_state": "idle", "last_activity": iso(2500.0)}], []),
            100.0, places=3)
        self.assertEqual(f(9999.0, st, [{"execution_state": "busy"}], []), 0.0)
        self.assertEqual(f(1500.0, st, [], []), 0.0)

    def test_unreachable_server_never_stops(self):
        self.jupyter.stop()
        self.assertFalse(self.check(minutes=0))
        self.assertEqual(self.recorded(), [])
        self.jupyter = FakeJupyter()

    def test_the_script_as_a_lifecycle_config_runs_it(self):
        home = os.path.join(self.tmp, "home")
        os.mkdir(home)
        env = dict(os.environ, HOME=home, SMSTUDIO_IDLE_MINUTES="0",
                   SMSTUDIO_CHECK_SECONDS="0.05", SMSTUDIO_JUPYTER_URL=self.jupyter.url,
                   SMSTUDIO_METADATA=self.metadata)
        p = subprocess.run(["bash", SCRIPT], env=env, capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("idle shutdown: 0 minutes", p.stdout)
        calls = wait_for(self.recorded, timeout=20, what="the checker's DeleteApp")
        self.assertIn("delete-app", calls[0])
        self.assertIn("--app-name default", calls[0])

    def test_size_and_style(self):
        size = os.path.getsize(SCRIPT)
        # StudioLifecycleConfigContent: 16384 base64 characters.
        self.assertLessEqual(4 * ((size + 2) // 3), 16384)
        with open(SCRIPT, encoding="utf-8") as f:
            text = f.read()
        self.assertTrue(text.startswith("#!/bin/bash\n"))
        self.assertIn("\nset -eu\n", text)
        self.assertNotIn("https://", text)
        subprocess.run(["bash", "-n", SCRIPT], check=True)
        if shutil.which("shellcheck"):
            p = subprocess.run(["shellcheck", SCRIPT], capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, p.stdout)


if __name__ == "__main__":
    unittest.main()
