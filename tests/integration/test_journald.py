# SPDX-License-Identifier: Apache-2.0
"""The log module's journal target against a real systemd-journald.

The test re-runs this file under `unshare -m --propagation private`, so
the mounts below are private to it and vanish with it: a tmpfs on /run
(journald's sockets and its volatile journal) and one on the catalog
database directory. Inside, it starts /lib/systemd/systemd-journald with
volatile storage and nothing forwarded, runs tests/tools/log-emit (one
record per event type with every standard field set, a debug record below
the level, and a would-be secret under refused field names on every
record), reads the journal back with `journalctl -o json` and stops
journald. Outside, it asserts what the journal holds."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

SOURCE_ROOT = os.environ.get("SM_SOURCE_ROOT",
                             os.path.join(os.path.dirname(__file__), "..", ".."))
LOG_EMIT = os.environ.get("LOG_EMIT", "log-emit")
JOURNALD = "/lib/systemd/systemd-journald"
CATALOG = os.path.join(SOURCE_ROOT, "docs", "smstudio.catalog")
sys.path.insert(0, os.path.join(SOURCE_ROOT, "tests", "emulator"))
from emutest import wait_for  # noqa: E402

JOURNALD_CONF = """[Journal]
Storage=volatile
ForwardToSyslog=no
ForwardToKMsg=no
ForwardToConsole=no
ForwardToWall=no
ReadKMsg=no
RateLimitIntervalSec=0
"""
# Chosen outside and handed to the scenario, which runs in another process.
TAG = "smstudio-journald-test-%d" % os.getpid()
SECRET = "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY%d" % os.getpid()


def journal(tag):
    """Our records in the private journal: a list of dicts."""
    p = subprocess.run(["journalctl", "-D", "/run/log/journal", "-o", "json",
                        "--no-pager", "SYSLOG_IDENTIFIER=smstudiod"],
                       capture_output=True, text=True, timeout=10)
    records = [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
    return [r for r in records if str(r.get("MESSAGE", "")).startswith(tag + " ")]


def emit(argv, tag):
    """Run log-emit (it reads $LOG_EMIT_SECRET) and wait until its last
    record is in the journal."""
    p = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    out = {"status": p.returncode, "stderr": p.stderr,
           "emitted": [json.loads(line) for line in p.stdout.splitlines()]}
    present = [e for e in out["emitted"] if not e["absent"]]
    # Datagrams from one sender arrive in order and log-emit sends the
    # record below the level first, so once the last record is in the
    # journal the dropped one would be too, had it been sent.
    if p.returncode == 0 and present:
        last = present[-1]["MESSAGE"]
        wait_for(lambda: any(r.get("MESSAGE") == last for r in journal(tag)),
                 timeout=10, what="the records in the journal")
    out["records"] = journal(tag)
    return out


def skip_reason():
    """Why a private journald cannot run here, or None (also used by
    test_daemon_journald)."""
    if os.geteuid() != 0:
        return "needs root for unshare -m and mount"
    for tool in (JOURNALD, shutil.which("unshare"), shutil.which("journalctl")):
        if not tool or not os.path.exists(tool):
            return "needs systemd-journald, journalctl and unshare"
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return "unshare -m is not permitted here: " + probe.stderr
    return None


def mount_run():
    """In the private mount namespace: a tmpfs on /run with our drop-in."""
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", "/run"], check=True)
    os.makedirs("/run/systemd/journald.conf.d")
    # Drop-ins apply in name order across /etc, /run and /usr/lib: "zz" last.
    with open("/run/systemd/journald.conf.d/zz-smstudio-test.conf", "w") as f:
        f.write(JOURNALD_CONF)


def start_journald(log):
    """Start journald (output to the file log) once mount_run() ran; returns
    its Popen once its socket exists. Killed with us even if we are killed
    (the test's timeout)."""
    env = dict(os.environ, SYSTEMD_LOG_TARGET="console", SYSTEMD_LOG_LEVEL="info")
    journald = subprocess.Popen(["setpriv", "--pdeathsig", "KILL", JOURNALD],
                                stdout=log, stderr=log, env=env, stdin=subprocess.DEVNULL)
    # A bound datagram socket queues what is sent to it: once it exists,
    # nothing a client sends is lost.
    wait_for(lambda: journald.poll() is not None or
             os.path.exists("/run/systemd/journal/socket"),
             timeout=10, what="journald's socket")
    if journald.poll() is not None:
        raise RuntimeError("journald exited with %d" % journald.returncode)
    return journald


def stop_journald(journald):
    journald.terminate()
    try:
        journald.wait(timeout=5)
    except subprocess.TimeoutExpired:
        journald.kill()
        journald.wait()


def inside(workdir, log_emit, tag):
    """Runs in the private mount namespace; writes workdir/result.json."""
    mount_run()
    # journalctl -x reads the catalog database from /var/lib/systemd/catalog;
    # index ours into a private one.
    for d in ("/var/lib/systemd/catalog", "/usr/lib/systemd/catalog"):
        os.makedirs(d, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "tmpfs", d], check=True)
    shutil.copy(CATALOG, "/usr/lib/systemd/catalog/")
    subprocess.run(["journalctl", "--update-catalog"], check=True, timeout=10)

    result = {}
    with open(os.path.join(workdir, "journald.log"), "w") as jlog:
        journald = start_journald(jlog)
    try:
        result["explicit"] = emit([log_emit, tag], tag)
        # The automatic target: the journal because $JOURNAL_STREAM names
        # log-emit's stderr, as systemd would set it (see systemd.exec(5)).
        result["auto"] = emit(["sh", "-c", 'JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2) '
                               'exec "$0" "$@"', log_emit, tag + "-auto", "auto"],
                              tag + "-auto")
        first = [e for e in result["explicit"]["emitted"] if not e["absent"]][0]
        p = subprocess.run(["journalctl", "-D", "/run/log/journal", "-x", "--no-pager",
                            "MESSAGE_ID=" + first["MESSAGE_ID"]],
                           capture_output=True, text=True, timeout=10)
        result["explained"] = p.stdout
    finally:
        stop_journald(journald)
        with open(os.path.join(workdir, "result.json"), "w") as f:
            json.dump(result, f)


class JournaldTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        reason = skip_reason()
        if reason:
            raise unittest.SkipTest(reason)
        cls.tmp = tempfile.mkdtemp(prefix="smstudio-journald-")
        start = time.monotonic()
        p = subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable,
                            os.path.abspath(__file__), "--inside", cls.tmp,
                            shutil.which(LOG_EMIT) or LOG_EMIT, TAG],
                           capture_output=True, text=True, timeout=30,
                           env=dict(os.environ, LOG_EMIT_SECRET=SECRET))
        cls.elapsed = time.monotonic() - start
        try:
            with open(os.path.join(cls.tmp, "journald.log")) as f:
                cls.journald_log = f.read()
        except OSError:
            cls.journald_log = ""
        if p.returncode != 0:
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise AssertionError("scenario failed (%d):\n%s%s\njournald:\n%s" % (
                p.returncode, p.stdout, p.stderr, cls.journald_log))
        with open(os.path.join(cls.tmp, "result.json")) as f:
            cls.result = json.load(f)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def check_records(self, run):
        """Every record log-emit says it sent is in the journal once, with
        its priority, MESSAGE_ID, identifier, code location and fields."""
        self.assertEqual(run["status"], 0, run["stderr"])
        # 18 event types, one plain record and the one below the level.
        self.assertGreaterEqual(len(run["emitted"]), 20)
        for e in run["emitted"]:
            if e["absent"]:
                continue
            with self.subTest(message=e["MESSAGE"]):
                found = [r for r in run["records"] if r.get("MESSAGE") == e["MESSAGE"]]
                self.assertEqual(len(found), 1, run["records"])
                r = found[0]
                self.assertEqual(r["PRIORITY"], e["PRIORITY"])
                self.assertEqual(r.get("MESSAGE_ID"), e.get("MESSAGE_ID"))
                self.assertEqual(r["SYSLOG_IDENTIFIER"], "smstudiod")
                self.assertEqual(r["CODE_FUNC"], "emit_one")
                self.assertTrue(r["CODE_FILE"].endswith("log-emit.c"), r["CODE_FILE"])
                self.assertRegex(r["CODE_LINE"], r"^[0-9]+$")
                for name, value in e["fields"].items():
                    self.assertEqual(r.get(name), value, name)

    def test_every_record_with_every_field(self):
        self.check_records(self.result["explicit"])
        self.assertLess(self.elapsed, 30)

    def test_auto_target_follows_journal_stream(self):
        run = self.result["auto"]
        self.check_records(run)
        # Nothing went to stderr: the module chose the journal itself.
        self.assertEqual(run["stderr"], "")

    def test_every_event_type(self):
        records = self.result["explicit"]["records"]
        ids = [r["MESSAGE_ID"] for r in records if "MESSAGE_ID" in r]
        self.assertEqual(len(ids), len(set(ids)))
        ids = set(ids)
        with open(CATALOG) as f:
            catalog = {line[3:].strip() for line in f if line.startswith("-- ")}
        self.assertEqual(ids, catalog)
        self.assertEqual({r["PRIORITY"] for r in records}, {"3", "4", "5", "6"})

    def test_below_level_absent(self):
        for run in (self.result["explicit"], self.result["auto"]):
            dropped = [e for e in run["emitted"] if e["absent"]]
            self.assertEqual(len(dropped), 1)
            self.assertNotIn(dropped[0]["MESSAGE"], {r.get("MESSAGE") for r in run["records"]})
            self.assertNotIn("7", {r["PRIORITY"] for r in run["records"]})

    def test_secret_absent(self):
        for run in (self.result["explicit"], self.result["auto"]):
            self.assertTrue(run["records"])
            for r in run["records"]:
                self.assertNotIn("AWS_SECRET_ACCESS_KEY", r)
                self.assertNotIn("aws_secret_access_key", r)
                self.assertNotIn(SECRET, json.dumps(r))

    def test_catalog_explains(self):
        self.assertIn("Subject: smstudiod started", self.result["explained"])
        self.assertIn("Defined-By: smstudio", self.result["explained"])


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--inside":
        inside(*sys.argv[2:])
    else:
        unittest.main()
