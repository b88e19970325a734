# SPDX-License-Identifier: Apache-2.0
"""smstudioctl's daemon verbs against a fake varlink server (varlink_fake):
what each verb sends, its text and --json output and its exit status, the
socket it picks, a daemon that is absent, refuses or denies, colour only on
a terminal, and the bash completion. The real daemon end to end is
test_daemon's."""

import copy
import json
import os
import pty
import re
import shutil
import socket
import subprocess
import tempfile
import unittest

from varlink_fake import Reply, VarlinkFake

SMSTUDIOCTL = os.environ.get("SMSTUDIOCTL", "smstudioctl")
SOURCE_ROOT = os.environ.get(
    "SM_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
COMPLETION = os.path.join(SOURCE_ROOT, "shell-completion", "bash", "smstudioctl")
PRIVILEGED = ("io.smstudio.Reconcile", "io.smstudio.Pause", "io.smstudio.Resume",
              "io.smstudio.Approve", "io.smstudio.SetLogLevel")
NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]

LAST_PASS = {
    "number": 7, "trigger": "timer", "started": "2026-11-26T18:00:00.250Z",
    "finished": "2026-11-26T18:00:02.350Z", "result": "changed", "rounds": 2,
    "changes": 3, "failures": 0, "api_calls": 41, "error": None,
}
STATUS = {
    "version": "0.1.0", "instance": "smstudio",
    "config_path": "/etc/smstudio/smstudiod.yaml", "config_generation": 2,
    "manifest_generation": 5, "manifests_complete": True, "paused": False,
    "pause_reason": None, "deletions_held": 0, "running": None, "last_pass": LAST_PASS,
    "next_pass": "2099-01-01T00:00:00Z",
    "counts": {"converged": 12, "pending": 1, "failing": 0, "conflict": 0, "held": 0},
}
ALICE = {
    "name": "user-profile/mlops-studio/alice", "kind": "user-profile", "phase": "failing",
    "message": "update: UserSettings.ExecutionRole", "manifest": "users/alice.yaml:3",
    "last_action": "update", "last_action_time": "2026-11-26T18:00:01Z",
    "last_error": {"code": "ResourceLimitExceeded", "message": "too many profiles",
                   "request_id": "8f1e-req-42", "time": "2026-11-26T18:00:02Z"},
    "drift_repaired": 1,
}
RESOURCES = [
    {"name": "domain/mlops-studio", "kind": "domain", "phase": "converged",
     "message": "in sync", "manifest": "domain.yaml:1", "last_action": None,
     "last_action_time": None, "last_error": None, "drift_repaired": 0},
    ALICE,
    {"name": "role/mlops-studio.data-scientist", "kind": "role", "phase": "pending",
     "message": "create", "manifest": "domain.yaml:1", "last_action": "create",
     "last_action_time": "2026-11-26T18:00:01Z", "last_error": None, "drift_repaired": 0},
]
DIFF = "+ user-profile/mlops-studio/bob (users/bob.yaml:1)\n~ space/mlops-studio/shared\n"
PLAN = {"changes": 2, "diff": DIFF, "plan": {"actions": [{"op": "create"}, {"op": "update"}]}}
METRICS = ("# HELP smstudio_passes_total Passes run.\n# TYPE smstudio_passes_total counter\n"
           "smstudio_passes_total{result=\"changed\"} 7\n")
OUTPUTS = {"StudioDomainName": "mlops-studio", "StudioDomainEFSId": None,
           "StudioDomainId": "d-abc123"}


def resources_reply(params, uid):
    name = params.get("name")
    if name is None:
        return {"resources": RESOURCES}
    found = [r for r in RESOURCES if r["name"] == name]
    if not found:
        return Reply({"name": name}, error="io.smstudio.NoSuchResource")
    return {"resources": found}


def log_level_reply(params, uid):
    if params.get("level") not in ("err", "warning", "notice", "info", "debug"):
        return Reply({"level": params.get("level")}, error="io.smstudio.InvalidLogLevel")
    return {}


class CtlDaemonTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="smstudio-ctl-")
        os.chmod(self.tmp, 0o755)  # nobody must reach the socket inside
        self.sock = os.path.join(self.tmp, "smstudiod.sock")
        self.replies = {
            "io.smstudio.Status": copy.deepcopy(STATUS),
            "io.smstudio.Resources": resources_reply,
            "io.smstudio.Plan": PLAN,
            "io.smstudio.Reconcile":
                lambda p, uid: {"pass": LAST_PASS if p.get("wait") else None},
            "io.smstudio.Pause": {},
            "io.smstudio.Resume": {},
            "io.smstudio.Approve": {"deletions": 2},
            "io.smstudio.Outputs": {"outputs": OUTPUTS},
            "io.smstudio.Metrics": {"text": METRICS},
            "io.smstudio.SetLogLevel": log_level_reply,
        }
        self.fake = VarlinkFake(self.sock, self.replies, privileged=PRIVILEGED)

    def tearDown(self):
        self.fake.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def env(self, **extra):
        env = dict(os.environ)
        env.pop("NO_COLOR", None)
        env.update(extra)
        return env

    def ctl(self, *args, sock=True, prefix=(), env=None):
        argv = list(prefix) + [SMSTUDIOCTL] + (["-s", self.sock] if sock else []) + list(args)
        return subprocess.run(argv, capture_output=True, text=True, timeout=60,
                              env=env or self.env())

    def ok(self, *args):
        p = self.ctl(*args)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p

    def json_of(self, *args):
        return json.loads(self.ok("--json", *args).stdout)

    # status

    def test_status_text(self):
        p = self.ok("status")
        out = p.stdout
        self.assertRegex(out, r"(?m)^Version +0\.1\.0$")
        self.assertRegex(out, r"(?m)^Instance +smstudio$")
        self.assertRegex(out, r"(?m)^Config +/etc/smstudio/smstudiod\.yaml \(generation 2\)$")
        self.assertRegex(out, r"(?m)^State +active$")
        self.assertRegex(
            out, r"(?m)^Resources +12 converged, 1 pending, 0 failing, 0 conflict, 0 held$")
        self.assertRegex(out, r"(?m)^Last pass +#7 \(timer\) changed: 3 changes, 0 failures, "
                              r"41 API calls, 2\.1 s$")
        self.assertRegex(out, r"(?m)^Running pass +-$")
        self.assertRegex(out, r"(?m)^Next pass +2099-01-01T00:00:00Z \(in ")
        self.assertRegex(out, r"(?m)^Deletions held +0$")
        self.assertNotIn("\033[", out)  # not a terminal
        self.assertEqual(self.fake.calls(), [("io.smstudio.Status", {}, 0)])
        # Every label once, in this order, the values starting in one column.
        labels = ["Version", "Instance", "Config", "Manifests", "State", "Resources",
                  "Running pass", "Last pass", "Next pass", "Deletions held"]
        lines = out.splitlines()
        self.assertEqual(len(lines), len(labels), out)
        cols = set()
        for line, label in zip(lines, labels):
            self.assertTrue(line.startswith(label + "  "), (label, line))
            cols.add(len(line) - len(line[len(label):].lstrip()))
        self.assertEqual(len(cols), 1, out)

    def test_status_json_is_the_reply(self):
        self.assertEqual(self.json_of("status"), STATUS)

    def test_status_paused_and_held(self):
        st = self.replies["io.smstudio.Status"]
        st.update(paused=True, pause_reason="db migration", next_pass=None, deletions_held=3)
        st["counts"]["held"] = 3
        st["running"] = {**LAST_PASS, "number": 8, "trigger": "manifest", "finished": None,
                         "result": "running", "changes": 1, "failures": 0, "api_calls": 9}
        p = self.ok("status")  # held and paused are deliberate: still 0
        self.assertRegex(p.stdout, r"(?m)^Running pass +#8 \(manifest\) running: 1 changes, "
                                   r"0 failures, 9 API calls so far, since "
                                   r"2026-11-26T18:00:00\.250Z$")
        self.assertRegex(p.stdout, r"(?m)^State +paused: db migration$")
        self.assertRegex(p.stdout, r"(?m)^Next pass +- \(paused\)$")
        self.assertRegex(p.stdout, r"(?m)^Deletions held +3 \(run \"smstudioctl approve\"")

    def test_status_exit_3_when_failing(self):
        st = self.replies["io.smstudio.Status"]
        cases = [
            ("counts", {**STATUS["counts"], "failing": 1}),
            ("counts", {**STATUS["counts"], "conflict": 2}),
            ("manifests_complete", False),
            ("last_pass", {**LAST_PASS, "result": "changed-and-failed", "failures": 1}),
            ("last_pass", {**LAST_PASS, "result": "error",
                           "error": "no AWS credentials"}),
        ]
        for key, value in cases:
            with self.subTest(key=key, value=value):
                saved = st[key]
                st[key] = value
                p = self.ctl("status")
                self.assertEqual(p.returncode, 3, p.stdout + p.stderr)
                p = self.ctl("--json", "status")
                self.assertEqual(p.returncode, 3)
                self.assertEqual(json.loads(p.stdout)[key], value)
                st[key] = saved
        st["last_pass"] = {**LAST_PASS, "result": "error", "error": "no AWS credentials"}
        self.assertIn("(no AWS credentials)", self.ctl("status").stdout)

    # resources

    def test_resources_table(self):
        p = self.ok("resources")
        lines = p.stdout.splitlines()
        self.assertEqual(lines[0].split(), ["NAME", "PHASE", "LAST-ACTION", "MESSAGE"])
        self.assertEqual(len(lines), 1 + len(RESOURCES))
        for col in ("PHASE", "LAST-ACTION", "MESSAGE"):
            at = lines[0].index(col)
            for line in lines[1:]:
                self.assertNotEqual(line[at - 1:at], "", line)
                self.assertEqual(line[at - 2:at], "  ", (col, line))
                self.assertNotEqual(line[at], " ", (col, line))
        self.assertRegex(lines[2], r"^user-profile/mlops-studio/alice +failing +update +"
                                   r"update: UserSettings\.ExecutionRole$")
        self.assertRegex(lines[1], r"^domain/mlops-studio +converged +- +in sync$")
        self.assertEqual(self.fake.calls("io.smstudio.Resources")[0][1], {})
        self.assertEqual(self.json_of("resources"), {"resources": RESOURCES})

    def test_resource_in_full(self):
        p = self.ok("resources", ALICE["name"])
        self.assertEqual(self.fake.calls("io.smstudio.Resources")[-1][1], {"name": ALICE["name"]})
        for pattern in [r"Name +user-profile/mlops-studio/alice", r"Kind +user-profile",
                        r"Phase +failing", r"Manifest +users/alice\.yaml:3",
                        r"Last action +update \(2026-11-26T18:00:01Z\)",
                        r"Last error +ResourceLimitExceeded: too many profiles",
                        r"Request id +8f1e-req-42", r"Error time +2026-11-26T18:00:02Z",
                        r"Drift repaired +1"]:
            self.assertRegex(p.stdout, "(?m)^" + pattern + "$")
        self.assertEqual(self.json_of("resources", ALICE["name"]), {"resources": [ALICE]})

    def test_no_such_resource(self):
        p = self.ctl("resources", "user-profile/mlops-studio/nobody")
        self.assertEqual(p.returncode, 1)
        self.assertIn("io.smstudio.Resources failed: no resource "
                      "\"user-profile/mlops-studio/nobody\" (io.smstudio.NoSuchResource)",
                      p.stderr)
        p = self.ctl("--json", "resources", "x")
        self.assertEqual(p.returncode, 1)
        err = json.loads(p.stdout)["error"]
        self.assertEqual(err["code"], "io.smstudio.NoSuchResource")
        self.assertEqual(err["method"], "io.smstudio.Resources")
        self.assertEqual(err["parameters"], {"name": "x"})

    # plan, reconcile

    def test_plan(self):
        self.assertEqual(self.ok("plan").stdout, DIFF)
        self.assertEqual(self.json_of("plan"), PLAN)
        self.replies["io.smstudio.Plan"] = {"changes": 0, "diff": "", "plan": {}}
        self.assertEqual(self.ok("plan").stdout, "No changes.\n")
        self.replies["io.smstudio.Plan"] = Reply({"reason": "a pass is running"},
                                                 error="io.smstudio.Busy")
        p = self.ctl("plan")
        self.assertEqual(p.returncode, 1)
        self.assertIn("io.smstudio.Plan failed: busy: a pass is running (io.smstudio.Busy)",
                      p.stderr)

    def test_reconcile(self):
        p = self.ok("reconcile")
        self.assertIn("pass is starting", p.stdout)
        self.assertEqual(self.fake.calls("io.smstudio.Reconcile")[-1][1], {"wait": False})
        self.assertEqual(self.json_of("reconcile"), {"pass": None})

        p = self.ok("reconcile", "--wait")
        self.assertEqual(self.fake.calls("io.smstudio.Reconcile")[-1][1], {"wait": True})
        self.assertEqual(p.stdout, "Pass #7 (timer) changed: 3 changes, 0 failures, "
                                   "41 API calls, 2.1 s\n")
        self.assertEqual(self.json_of("--wait", "reconcile"), {"pass": LAST_PASS})

        for result in ("failed", "changed-and-failed", "error"):
            failed = {**LAST_PASS, "result": result, "failures": 2}
            self.replies["io.smstudio.Reconcile"] = {"pass": failed}
            p = self.ctl("reconcile", "--wait")
            self.assertEqual(p.returncode, 3, result)
            self.assertIn(" " + result + ": 3 changes, 2 failures", p.stdout)
        self.replies["io.smstudio.Reconcile"] = {"pass": {**LAST_PASS, "result": "nothing-to-do"}}
        self.assertEqual(self.ctl("reconcile", "--wait").returncode, 0)

    # pause, resume, approve, log-level, metrics, outputs

    def test_pause_resume_approve(self):
        p = self.ok("pause", "db", "migration", "tonight")
        self.assertEqual(self.fake.calls("io.smstudio.Pause")[-1][1],
                         {"reason": "db migration tonight"})
        self.assertIn("Paused: db migration tonight", p.stdout)
        self.assertEqual(self.json_of("pause", "x"), {})
        self.assertEqual(self.ctl("pause").returncode, 64)
        self.assertEqual(self.ctl("pause", " ").returncode, 64)

        self.assertIn("Resumed", self.ok("resume").stdout)
        self.assertEqual(self.json_of("resume"), {})
        self.assertEqual(self.fake.calls("io.smstudio.Resume")[-1][1], {})

        self.assertEqual(self.ok("approve").stdout,
                         "Approved 2 deletions; a pass is starting to make them.\n")
        self.assertEqual(self.json_of("approve"), {"deletions": 2})
        self.replies["io.smstudio.Approve"] = Reply({}, error="io.smstudio.NothingToApprove")
        p = self.ctl("approve")
        self.assertEqual(p.returncode, 1)
        self.assertIn("io.smstudio.Approve failed: no deletions are held "
                      "(io.smstudio.NothingToApprove)", p.stderr)

    def test_log_level(self):
        p = self.ok("log-level", "debug")
        self.assertEqual(self.fake.calls("io.smstudio.SetLogLevel")[-1][1], {"level": "debug"})
        self.assertIn("debug", p.stdout)
        self.assertEqual(self.json_of("log-level", "info"), {})
        p = self.ctl("log-level", "loud")
        self.assertEqual(p.returncode, 1)
        self.assertIn("io.smstudio.SetLogLevel failed: no log level \"loud\"", p.stderr)
        self.assertIn("io.smstudio.InvalidLogLevel", p.stderr)
        self.assertEqual(self.ctl("log-level").returncode, 64)
        self.assertEqual(self.ctl("log-level", "a", "b").returncode, 64)

    def test_metrics_verbatim(self):
        self.assertEqual(self.ok("metrics").stdout, METRICS)
        self.assertEqual(self.json_of("metrics"), {"text": METRICS})

    def test_outputs_from_daemon(self):
        p = self.ok("outputs", "--from-daemon", "mlops-studio")
        self.assertEqual(self.fake.calls("io.smstudio.Outputs")[-1][1],
                         {"domain": "mlops-studio"})
        self.assertRegex(p.stdout, r"(?m)^StudioDomainName +mlops-studio$")
        self.assertRegex(p.stdout, r"(?m)^StudioDomainEFSId +-$")
        # The flat object the live verb prints.
        self.assertEqual(self.json_of("--from-daemon", "outputs"), OUTPUTS)
        self.assertEqual(self.fake.calls("io.smstudio.Outputs")[-1][1], {})

    # sockets, permissions, failures

    def test_socket_from_the_config(self):
        cfg = os.path.join(self.tmp, "smstudiod.yaml")
        with open(cfg, "w") as f:
            f.write("socket:\n  path: %s\n" % self.sock)
        p = self.ctl("--config", cfg, "status", sock=False)
        self.assertEqual(p.returncode, 0, p.stderr)
        p = self.ctl("--socket", self.sock, "status", sock=False)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(self.fake.calls("io.smstudio.Status")), 2)

    @unittest.skipIf(os.path.exists("/etc/smstudio/smstudiod.yaml") or
                     os.path.exists("/run/smstudio/smstudiod.sock"),
                     "this machine has a daemon config or a daemon")
    def test_default_socket(self):
        p = self.ctl("status", sock=False)
        self.assertEqual(p.returncode, 5)
        self.assertIn("/run/smstudio/smstudiod.sock does not exist", p.stderr)

    def test_daemon_absent(self):
        missing = os.path.join(self.tmp, "none.sock")
        p = self.ctl("-s", missing, "status", sock=False)
        self.assertEqual(p.returncode, 5)
        self.assertIn("cannot reach smstudiod: %s does not exist" % missing, p.stderr)
        p = self.ctl("--json", "-s", missing, "status", sock=False)
        self.assertEqual(p.returncode, 5)
        self.assertEqual(json.loads(p.stdout)["error"]["code"], "DaemonUnreachable")

        # A socket file nobody listens on: what a crashed daemon leaves.
        stale = os.path.join(self.tmp, "stale.sock")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(stale)
        s.close()
        p = self.ctl("-s", stale, "reconcile", sock=False)
        self.assertEqual(p.returncode, 5)
        self.assertIn("%s refused the connection" % stale, p.stderr)

    def test_socket_permission_denied(self):
        os.chmod(self.sock, 0o600)
        p = self.ctl("status", prefix=NOBODY)
        self.assertEqual(p.returncode, 5, p.stderr)
        self.assertIn("permission denied on %s" % self.sock, p.stderr)
        self.assertEqual(self.fake.calls(), [])

    def test_unprivileged_reads_but_is_refused_changes(self):
        p = self.ctl("status", prefix=NOBODY)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.fake.calls("io.smstudio.Status")[-1][2], 65534)
        for verb in (["reconcile"], ["pause", "x"], ["resume"], ["approve"],
                     ["log-level", "debug"]):
            with self.subTest(verb=verb):
                p = self.ctl(*verb, prefix=NOBODY)
                self.assertEqual(p.returncode, 4, p.stderr)
                self.assertRegex(p.stderr, r"io\.smstudio\.\w+ failed: only root and members "
                                           r"of the daemon's admin_group may call it "
                                           r"\(io\.smstudio\.PermissionDenied\)")
        p = self.ctl("--json", "reconcile", prefix=NOBODY)
        self.assertEqual(p.returncode, 4)
        err = json.loads(p.stdout)["error"]
        self.assertEqual((err["code"], err["method"]),
                         ("io.smstudio.PermissionDenied", "io.smstudio.Reconcile"))

    def test_timeout_and_unknown_method(self):
        self.replies["io.smstudio.Status"] = lambda p, uid: None  # never answers
        p = self.ctl("--timeout", "1", "status")
        self.assertEqual(p.returncode, 1)
        self.assertIn("io.smstudio.Status: smstudiod at %s did not answer within 1 s" % self.sock,
                      p.stderr)
        del self.replies["io.smstudio.Metrics"]
        p = self.ctl("metrics")
        self.assertEqual(p.returncode, 1)
        self.assertIn("io.smstudio.Metrics failed", p.stderr)
        self.assertIn("org.varlink.service.MethodNotFound", p.stderr)

    def test_usage(self):
        for args in (["status", "extra"], ["plan", "x"], ["resume", "x"], ["approve", "x"],
                     ["metrics", "x"], ["reconcile", "now"], ["resources", "a", "b"],
                     ["status", "--wait"], ["resources", "--from-daemon"],
                     ["--timeout", "soon", "status"], ["--timeout", "0", "status"]):
            with self.subTest(args=args):
                self.assertEqual(self.ctl(*args).returncode, 64)
        self.assertEqual(self.fake.calls(), [])

    # colour

    def run_on_pty(self, *args, **env):
        """smstudioctl with its stdout on a terminal; its output and status."""
        master, slave = pty.openpty()
        try:
            p = subprocess.Popen([SMSTUDIOCTL, "-s", self.sock] + list(args), stdout=slave,
                                 stderr=subprocess.DEVNULL, env=self.env(**env))
            os.close(slave)
            out = b""
            while True:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                out += chunk
            p.wait(timeout=30)
            return out.decode(), p.returncode
        finally:
            os.close(master)

    def test_colour_only_on_a_terminal(self):
        self.replies["io.smstudio.Status"]["counts"]["failing"] = 1
        out, rc = self.run_on_pty("status", TERM="xterm")
        self.assertEqual(rc, 3)
        self.assertIn("\033[1;31m1 failing\033[0m", out)
        out, _ = self.run_on_pty("resources", TERM="xterm")
        self.assertIn("\033[32mconverged\033[0m", out)
        # Colour codes do not shift the columns.
        plain = re.sub(r"\033\[[0-9;]*m", "", out).replace("\r\n", "\n")
        self.assertEqual(plain, self.ok("resources").stdout)
        out, _ = self.run_on_pty("resources", TERM="xterm", NO_COLOR="1")
        self.assertNotIn("\033[", out)
        self.assertNotIn("\033[", self.ctl("status").stdout)

    def test_help_man_page_and_completion_name_every_verb(self):
        help_text = self.ctl("--help").stdout
        verbs = re.findall(r"(?m)^  ([a-z][a-z-]+) ", help_text.split("Options:")[0])
        self.assertEqual(len(verbs), 13, help_text)
        with open(os.path.join(SOURCE_ROOT, "docs", "smstudioctl.1")) as f:
            man = f.read().replace("\\-", "-")
        with open(COMPLETION) as f:
            completion = f.read()
        for verb in verbs:
            self.assertRegex(man, r"(?m)^\.B[RI]? %s( |$)" % re.escape(verb), verb)
            self.assertRegex(completion, r"\b%s\b" % re.escape(verb), verb)
        for option in ("--socket", "--timeout", "--wait", "--from-daemon", "--json"):
            self.assertIn(option, help_text)
            self.assertIn(option, man)
            self.assertIn(option, completion)
        for status in ("0", "1", "3", "4", "5", "64"):
            self.assertRegex(man, r"(?m)^\.B %s$" % status)

    # bash completion

    def complete(self, *words):
        """COMPREPLY for the command line `words`, the cursor on the last."""
        script = ('source "$1"; shift; complete -p smstudioctl; COMP_WORDS=("$@"); '
                  'COMP_CWORD=$(($# - 1)); _smstudioctl; printf "%s\\n" "${COMPREPLY[@]}"')
        env = self.env(PATH=os.path.dirname(os.path.abspath(SMSTUDIOCTL)) + ":" +
                       os.environ.get("PATH", ""))
        p = subprocess.run(["bash", "--norc", "-c", script, "bash", COMPLETION] + list(words),
                           capture_output=True, text=True, timeout=60, env=env)
        self.assertEqual((p.returncode, p.stderr), (0, ""))
        lines = p.stdout.splitlines()
        self.assertEqual(lines[0], "complete -F _smstudioctl smstudioctl")
        return sorted(w for w in lines[1:] if w)

    def test_bash_completion(self):
        self.assertEqual(self.complete("smstudioctl", "re"),
                         ["reconcile", "resources", "resume"])
        self.assertIn("import-seedfarmer", self.complete("smstudioctl", ""))
        self.assertEqual(len(self.complete("smstudioctl", "")), 13)
        self.assertEqual(self.complete("smstudioctl", "--js"), ["--json"])
        self.assertEqual(self.complete("smstudioctl", "--json", "-s", self.sock, "st"),
                         ["status"])
        self.assertEqual(self.complete("smstudioctl", "log-level", "e"), ["emerg", "err"])
        self.assertEqual(self.complete("smstudioctl", "-s", self.sock, "resources", ""),
                         sorted(r["name"] for r in RESOURCES))
        self.assertEqual(self.complete("smstudioctl", "--socket", self.sock, "resources", "user"),
                         [ALICE["name"]])
        # No daemon: no names and nothing on the terminal.
        self.assertEqual(self.complete("smstudioctl", "-s", self.tmp + "/none", "resources", ""),
                         [])


if __name__ == "__main__":
    unittest.main()
