# SPDX-License-Identifier: Apache-2.0
"""smstudiod in the foreground (the daemon, not --once) against
tests/emulator/awsemu on a private copy of the example estate, with the
sd_notify socket bound by the test. The steps build on each other, in
name order: READY, STATUS and WATCHDOG after the first pass; a manifest
dropped into the directory reaches the emulator within 2 s; triggers
during a pass coalesce into exactly one more; SIGHUP with a broken config
keeps the running one; Plan; pause, resume; approve of a guarded
deletion; an unprivileged peer reads but is refused changes; 200
concurrent clients served past one stalled half-way through a request; a
second instance is refused; SIGTERM during a pass stops promptly with
STOPPING=1 and exit 0. Apart: a control socket passed by
systemd-socket-activate is served.

Every wait is a condition polled against a deadline, never a fixed sleep."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

SMSTUDIOD = os.environ.get("SMSTUDIOD", "smstudiod")
SOURCE_ROOT = os.environ.get("SM_SOURCE_ROOT",
                             os.path.join(os.path.dirname(__file__), "..", ".."))
HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(SOURCE_ROOT, "config", "smstudio.d")
IDL = os.path.join(SOURCE_ROOT, "src", "daemon", "io.smstudio.varlink")
LIFECYCLE_SCRIPT = os.path.join(SOURCE_ROOT, "config", "lifecycle", "idle-shutdown.sh")
sys.path.insert(0, os.path.join(SOURCE_ROOT, "tests", "emulator"))
sys.path.insert(0, HERE)
from emutest import Awsemu, EmuCase, wait_for  # noqa: E402
import varlinkclient  # noqa: E402

WATCHDOG_USEC = 400000


class NotifySocket:
    """The NOTIFY_SOCKET a service manager would bind: every datagram kept
    as a dict of its KEY=VALUE lines, in arrival order."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.messages = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                return
            fields = dict(line.split("=", 1) for line in data.decode().splitlines()
                          if "=" in line)
            with self.lock:
                self.messages.append(fields)

    def count(self, key, value=None):
        with self.lock:
            return sum(1 for m in self.messages
                       if key in m and (value is None or m[key] == value))

    def since(self, n):
        with self.lock:
            return list(self.messages[n:])

    def mark(self):
        with self.lock:
            return len(self.messages)

    def close(self):
        self.sock.close()


def aws_env(home):
    env = dict(os.environ)
    env.update({
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "awsemu/EXAMPLE/secret/key/0123456789abc",
        "AWS_EC2_METADATA_DISABLED": "true",
        "HOME": home,
    })
    for var in ("AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL",
                "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_SESSION_TOKEN",
                "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID",
                "JOURNAL_STREAM"):
        env.pop(var, None)
    return env


class DaemonTest(unittest.TestCase):
    """One emulator and one daemon for the class; test_<n>_ methods run in
    name order and each starts from the state the previous left."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="smstudio-daemon-")
        os.chmod(cls.tmp, 0o755)
        cls.emu = Awsemu(cls.tmp, "--async-delay-ms", "100")
        cls.mdir = os.path.join(cls.tmp, "smstudio.d")
        os.mkdir(cls.mdir)
        os.chmod(cls.mdir, 0o755)
        for name in sorted(os.listdir(EXAMPLES)):
            if name.endswith(".yaml"):
                with open(os.path.join(EXAMPLES, name), encoding="utf-8") as f:
                    cls.install(name, f.read())
        cls.state = os.path.join(cls.tmp, "state")
        cls.home = os.path.join(cls.tmp, "home")
        os.mkdir(cls.home)
        cls.sock_path = os.path.join(cls.tmp, "run", "smstudiod.sock")
        cls.config = os.path.join(cls.tmp, "etc", "smstudiod.yaml")
        os.mkdir(os.path.dirname(cls.config))
        cls.config_text = cls.config_yaml()
        with open(cls.config, "w", encoding="utf-8") as f:
            f.write(cls.config_text)
        cls.notify = NotifySocket(os.path.join(cls.tmp, "notify"))
        env = aws_env(cls.home)
        env.update({"NOTIFY_SOCKET": cls.notify.path, "WATCHDOG_USEC": str(WATCHDOG_USEC)})
        cls.log = open(os.path.join(cls.tmp, "smstudiod.log"), "w+")
        cls.daemon = subprocess.Popen([SMSTUDIOD, "--config", cls.config], env=env,
                                      stdout=cls.log, stderr=subprocess.STDOUT)

    @classmethod
    def config_yaml(cls, extra=""):
        text = ("region: us-east-1\n"
                "manifest_dir: %s\n"
                "state_dir: %s\n"
                "socket:\n"
                "  path: %s\n"
                "  group: nogroup\n"
                "interval: 1h\n"
                "splay: 0\n"
                "deletion_guard:\n"
                "  max_count: 1\n"
                "lifecycle_script: %s\n"
                "endpoints:\n" % (cls.mdir, cls.state, cls.sock_path,
                                  os.path.abspath(LIFECYCLE_SCRIPT)))
        for service in ("sagemaker", "iam", "sts", "servicecatalog"):
            text += "  %s: %s\n" % (service, cls.emu.url)
        return text + extra

    @classmethod
    def install(cls, name, text):
        """Write a manifest the way a package or config management does:
        a temporary dotfile (ignored by the watch) renamed into place."""
        tmp = os.path.join(cls.mdir, "." + name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.rename(tmp, os.path.join(cls.mdir, name))

    @classmethod
    def tearDownClass(cls):
        if cls.daemon.poll() is None:
            cls.daemon.kill()
            cls.daemon.wait(10)
        cls.notify.close()
        cls.log.close()
        code = cls.emu.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        assert code == 0, "awsemu exit status %r on SIGTERM" % code

    # -- helpers -----------------------------------------------------------

    def daemon_log(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    # The emulator's admin API, as every emulator test calls it.
    admin = EmuCase.admin

    def calls(self):
        return self.admin("GET", "/_emu/calls")

    def call(self, method, parameters=None, timeout=60):
        return varlinkclient.call(self.sock_path, method, parameters, timeout=timeout)

    def ok(self, method, parameters=None, timeout=60):
        reply = self.call(method, parameters, timeout)
        self.assertNotIn("error", reply, reply)
        return reply["parameters"]

    def status(self):
        return self.ok("io.smstudio.Status")

    def alive(self):
        self.assertIsNone(self.daemon.poll(), self.daemon_log())

    def wait_idle(self, number=None, timeout=60):
        """Until no pass runs (and the last one is number, if given)."""
        def idle():
            self.alive()
            s = self.status()
            if s["running"] is None and s["last_pass"] and (
                    number is None or s["last_pass"]["number"] >= number):
                return s
            return None
        return wait_for(idle, timeout, "the daemon to be idle")

    # -- the steps ---------------------------------------------------------

    def test_1_ready_status_watchdog_after_the_first_pass(self):
        wait_for(lambda: self.notify.count("READY", "1"), 30, "READY=1")
        wait_for(lambda: os.path.exists(self.sock_path), 30, "the control socket")
        s = self.wait_idle(1, timeout=120)
        self.assertEqual(s["last_pass"]["number"], 1)
        self.assertEqual(s["last_pass"]["trigger"], "start")
        self.assertIn(s["last_pass"]["result"], ("changed", "nothing-to-do"), s)
        self.assertEqual(s["last_pass"]["failures"], 0, self.daemon_log())
        self.assertEqual(s["config_generation"], 1)
        self.assertFalse(s["paused"])
        self.assertIsNotNone(s["next_pass"])
        self.assertGreater(s["counts"]["converged"], 0)
        # The estate reached AWS, not only the daemon's own account of it.
        domains = self.admin("GET", "/_emu/state")["services"]["sagemaker"]["domains"]
        self.assertEqual([d["DomainName"] for d in domains.values()], ["mlops-studio"])
        # One STATUS= line per pass, naming the counts.
        wait_for(lambda: any("converged" in m.get("STATUS", "")
                             for m in self.notify.since(0)), 10, "STATUS= after the pass")
        # WATCHDOG_USEC set: pings at half the interval, from the loop.
        wait_for(lambda: self.notify.count("WATCHDOG", "1") >= 2, 10, "WATCHDOG=1")
        # The socket: mode 0660, group nogroup (the config's socket.group).
        st = os.stat(self.sock_path)
        self.assertEqual(st.st_mode & 0o777, 0o660)
        import grp
        self.assertEqual(grp.getgrgid(st.st_gid).gr_name, "nogroup")

    def test_2_dropped_manifest_reaches_aws_within_2s(self):
        before = self.calls().get("sagemaker:CreateUserProfile", 0)
        start = time.monotonic()
        self.install("carol.yaml", "kind: User\nname: carol\ngroup: data_science_users\n")
        wait_for(lambda: self.calls().get("sagemaker:CreateUserProfile", 0) > before, 2.0,
                 "CreateUserProfile for carol within 2 s")
        elapsed = time.monotonic() - start
        self.assertLess(elapsed, 2.0)
        s = self.wait_idle(2)
        self.assertEqual(s["last_pass"]["trigger"], "manifest")
        self.assertEqual(s["manifest_generation"], 2)
        profiles = self.admin("GET", "/_emu/state")["services"]["sagemaker"]["user_profiles"]
        self.assertIn("carol", [k.split("/", 1)[1] for k in profiles])

    def test_3_triggers_during_a_pass_coalesce_into_one_more(self):
        first = self.wait_idle()["last_pass"]["number"]
        # Slow every call so the pass is still running when the signals land.
        self.admin("POST", "/_emu/latency", {"operation": "*", "fixed_ms": 300})
        try:
            self.daemon.send_signal(signal.SIGUSR1)
            wait_for(lambda: self.status()["running"], 10, "a running pass")
            for _ in range(5):
                self.daemon.send_signal(signal.SIGUSR1)
            # And through the socket, coalesced the same way.
            self.assertIsNone(self.ok("io.smstudio.Reconcile", {})["pass"])
            self.assertEqual(self.status()["running"]["number"], first + 1)
            s = self.wait_idle(first + 2)
        finally:
            self.admin("DELETE", "/_emu/latency")
        # Exactly one more: when pass first+2 ended nothing was pending, so
        # nothing runs now and no pass first+3 exists.
        self.assertEqual(s["last_pass"]["number"], first + 2, s)
        self.assertIsNone(s["running"])
        # Whichever request came first names the coalesced pass.
        self.assertIn(s["last_pass"]["trigger"], ("signal", "reconcile"))

    def test_4_sighup_with_a_broken_config_keeps_the_running_one(self):
        gen = self.wait_idle()["config_generation"]
        mark = self.notify.mark()
        with open(self.config, "w", encoding="utf-8") as f:
            f.write(self.config_text + "no_such_key: 1\n")
        self.daemon.send_signal(signal.SIGHUP)
        wait_for(lambda: any(m.get("RELOADING") == "1" and "MONOTONIC_USEC" in m
                             for m in self.notify.since(mark)), 10, "RELOADING=1")
        wait_for(lambda: any(m.get("READY") == "1" for m in self.notify.since(mark)), 10,
                 "READY=1 after the reload")
        wait_for(lambda: "keeping the running one" in self.daemon_log(), 10,
                 "the reload's refusal in the log")
        self.assertIn("no_such_key", self.daemon_log())
        s = self.wait_idle()
        self.assertEqual(s["config_generation"], gen)
        self.alive()
        # A good config takes effect: the config file's watch reloads it
        # (so does SIGHUP), and the socket still answers.
        with open(self.config, "w", encoding="utf-8") as f:
            f.write(self.config_text)
        wait_for(lambda: self.status()["config_generation"] == gen + 1, 10,
                 "config generation %d from the watch" % (gen + 1))
        self.daemon.send_signal(signal.SIGHUP)
        wait_for(lambda: self.status()["config_generation"] == gen + 2, 10,
                 "config generation %d from SIGHUP" % (gen + 2))

    def test_5_plan_is_a_dry_run(self):
        self.wait_idle()
        resources = self.ok("io.smstudio.Resources")["resources"]
        alice = [r for r in resources if r["name"] == "user-profile/mlops-studio/alice"]
        self.assertEqual(len(alice), 1, resources)
        self.assertEqual(alice[0]["phase"], "converged")
        self.assertEqual(alice[0]["manifest"], os.path.join(self.mdir, "alice.yaml") + ":3")
        one = self.ok("io.smstudio.Resources", {"name": alice[0]["name"]})["resources"]
        self.assertEqual([r["name"] for r in one], [alice[0]["name"]])
        reply = self.call("io.smstudio.Resources", {"name": "user-profile/mlops-studio/zed"})
        self.assertEqual(reply.get("error"), "io.smstudio.NoSuchResource", reply)
        before = self.calls()
        p = self.ok("io.smstudio.Plan")
        self.assertEqual(p["changes"], 0, p["diff"])
        self.assertIn("actions", p["plan"])
        after = self.calls()
        mutating = [op for op in after if after[op] != before.get(op, 0)
                    and not op.split(":", 1)[1].startswith(("List", "Describe", "Get"))]
        self.assertEqual(mutating, [])

    def test_6_pause_and_resume(self):
        self.wait_idle()
        self.assertEqual(self.ok("io.smstudio.Pause", {"reason": "change window"}), {})
        with open(os.path.join(self.state, "paused")) as f:
            self.assertEqual(f.read().strip(), "change window")
        s = self.status()
        self.assertTrue(s["paused"])
        self.assertEqual(s["pause_reason"], "change window")
        self.assertIsNone(s["next_pass"])
        reply = self.call("io.smstudio.Reconcile", {"wait": True})
        self.assertEqual(reply.get("error"), "io.smstudio.Busy", reply)
        self.assertIn("change window", reply["parameters"]["reason"])
        number = s["last_pass"]["number"]
        self.assertEqual(self.ok("io.smstudio.Resume"), {})
        self.assertFalse(os.path.exists(os.path.join(self.state, "paused")))
        s = self.wait_idle(number + 1)
        self.assertFalse(s["paused"])
        self.assertEqual(s["last_pass"]["number"], number + 1)

    def test_7_approve_a_guarded_deletion(self):
        self.wait_idle()
        reply = self.call("io.smstudio.Approve")
        self.assertEqual(reply.get("error"), "io.smstudio.NothingToApprove", reply)
        # Two of three users gone at once: over the guard's max_count of 1.
        before = self.calls().get("sagemaker:DeleteUserProfile", 0)
        for name in ("bob.yaml", "carol.yaml"):
            os.unlink(os.path.join(self.mdir, name))
        s = self.ok("io.smstudio.Reconcile", {"wait": True}, timeout=120)["pass"]
        self.assertIsNotNone(s)
        s = self.wait_idle()
        self.assertGreater(s["deletions_held"], 0, s)
        self.assertEqual(self.calls().get("sagemaker:DeleteUserProfile", 0), before)
        approved = self.ok("io.smstudio.Approve")
        self.assertEqual(approved["deletions"], s["deletions_held"])
        wait_for(lambda: self.calls().get("sagemaker:DeleteUserProfile", 0) >= before + 2, 60,
                 "the approved deletions")
        s = self.wait_idle(s["last_pass"]["number"] + 1)
        self.assertEqual(s["last_pass"]["trigger"], "approve", self.daemon_log())

    def test_8_unprivileged_peer_reads_but_cannot_change(self):
        self.wait_idle()

        def as_nobody(method, params=None):
            cmd = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                   sys.executable, os.path.join(HERE, "varlinkclient.py"), self.sock_path,
                   method]
            if params is not None:
                cmd.append(json.dumps(params))
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
            self.assertIn(p.returncode, (0, 1), p.stderr)
            return json.loads(p.stdout)

        reply = as_nobody("io.smstudio.Status")
        self.assertNotIn("error", reply, reply)
        self.assertEqual(reply["parameters"]["instance"], "smstudio")
        number = reply["parameters"]["last_pass"]["number"]
        for method, params in (("io.smstudio.Reconcile", {}),
                               ("io.smstudio.Pause", {"reason": "x"}),
                               ("io.smstudio.SetLogLevel", {"level": "debug"})):
            reply = as_nobody(method, params)
            self.assertEqual(reply.get("error"), "io.smstudio.PermissionDenied", reply)
        s = self.status()
        self.assertFalse(s["paused"])
        self.assertIsNone(s["running"])
        self.assertEqual(s["last_pass"]["number"], number)
        wait_for(lambda: "refused a privileged call from uid %d" % _nobody_uid()
                 in self.daemon_log(), 10, "the refusal in the log")

    def test_8b_a_refused_request_is_held_across_passes(self):
        """AWS refuses a request as invalid: the same request is not sent
        again by later passes, and the resource stays failing with AWS's
        error; a changed manifest (a new request) or SIGHUP sends it again."""
        op = "sagemaker:CreateUserProfile"

        def refused_once(name, text):
            number = self.wait_idle()["last_pass"]["number"]
            before = self.calls().get(op, 0)
            self.admin("POST", "/_emu/faults", {"operation": op, "kind": "reject"})
            self.addCleanup(self.admin, "DELETE", "/_emu/faults")
            self.install(name + ".yaml", text)
            wait_for(lambda: self.calls().get(op, 0) > before, 10, "the refused call")
            s = self.wait_idle(number + 1)
            self.assertEqual(self.calls().get(op, 0), before + 1)
            # A second pass (SIGUSR1) and a third (Reconcile): held, not sent.
            self.daemon.send_signal(signal.SIGUSR1)
            s = self.wait_idle(s["last_pass"]["number"] + 1)
            self.assertEqual(self.ok("io.smstudio.Reconcile", {"wait": True},
                                     timeout=120)["pass"]["number"],
                             s["last_pass"]["number"] + 1)
            s = self.wait_idle()
            self.assertEqual(self.calls().get(op, 0), before + 1, self.daemon_log())
            self.assertGreater(s["last_pass"]["failures"], 0, s)
            # Still a failure, with what AWS said when it refused.
            r = self.ok("io.smstudio.Resources",
                        {"name": "user-profile/mlops-studio/" + name})["resources"][0]
            self.assertEqual(r["phase"], "failing", r)
            self.assertTrue(r["last_error"]["code"], r)
            self.assertTrue(r["last_error"]["request_id"], r)
            # Said once in the log, however many passes held it.
            self.assertEqual(self.daemon_log().count(
                "user-profile/mlops-studio/%s CreateUserProfile: AWS refused the request "
                "as invalid" % name), 1, self.daemon_log())
            self.admin("DELETE", "/_emu/faults")
            return before

        # A changed manifest is a new request: sent, and it succeeds.
        before = refused_once("dave", "kind: User\nname: dave\ngroup: data_science_users\n")
        self.install("dave.yaml", "kind: User\nname: dave\ngroup: data_science_users\n"
                     "tags:\n  team: forecasting\n")
        wait_for(lambda: self.calls().get(op, 0) > before + 1, 10, "dave's new request")
        s = self.wait_idle()
        r = self.ok("io.smstudio.Resources",
                    {"name": "user-profile/mlops-studio/dave"})["resources"][0]
        self.assertNotEqual(r["phase"], "failing", r)
        profiles = self.admin("GET", "/_emu/state")["services"]["sagemaker"]["user_profiles"]
        self.assertIn("dave", [k.split("/", 1)[1] for k in profiles])

        # SIGHUP forgets what was refused: the same request goes again.
        before = refused_once("erin", "kind: User\nname: erin\ngroup: data_science_users\n")
        self.daemon.send_signal(signal.SIGHUP)
        wait_for(lambda: self.calls().get(op, 0) > before + 1, 10, "erin's request after SIGHUP")
        self.wait_idle()
        profiles = self.admin("GET", "/_emu/state")["services"]["sagemaker"]["user_profiles"]
        self.assertIn("erin", [k.split("/", 1)[1] for k in profiles])
        self.assertEqual(self.calls().get(op, 0), before + 2)

    def test_9a_interface_description_is_the_idl(self):
        reply = self.ok("org.varlink.service.GetInterfaceDescription",
                        {"interface": "io.smstudio"})
        with open(IDL, encoding="utf-8") as f:
            self.assertEqual(reply["description"], f.read())
        info = self.ok("org.varlink.service.GetInfo")
        self.assertIn("io.smstudio", info["interfaces"])
        metrics = self.ok("io.smstudio.Metrics")["text"]
        self.assertIn("smstudio_passes_total", metrics)
        self.assertEqual(self.ok("io.smstudio.SetLogLevel", {"level": "debug"}), {})
        reply = self.call("io.smstudio.SetLogLevel", {"level": "loud"})
        self.assertEqual(reply.get("error"), "io.smstudio.InvalidLogLevel", reply)

    def test_9b_a_second_instance_is_refused(self):
        p = subprocess.run([SMSTUDIOD, "--config", self.config], capture_output=True, text=True,
                           timeout=30, env=aws_env(self.home))
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("another smstudiod holds %s (pid %d)"
                      % (os.path.join(self.state, "lock"), self.daemon.pid), p.stderr)
        self.alive()

    def test_9c_sigterm_during_a_pass_stops_promptly(self):
        self.wait_idle()
        # Every call takes 1 s: SIGTERM lands with calls in flight, which
        # finish; no new round or call starts.
        self.admin("POST", "/_emu/latency", {"operation": "*", "fixed_ms": 1000})
        try:
            self.ok("io.smstudio.Reconcile", {})
            wait_for(lambda: self.status()["running"], 10, "a running pass")
            mark = self.notify.mark()
            start = time.monotonic()
            self.daemon.send_signal(signal.SIGTERM)
            code = self.daemon.wait(20)
        finally:
            self.admin("DELETE", "/_emu/latency")
        self.assertEqual(code, 0, self.daemon_log())
        # In-flight calls (1 s each) finish; the stop bound is 10 s.
        self.assertLess(time.monotonic() - start, 11)
        self.assertTrue(any(m.get("STOPPING") == "1" for m in self.notify.since(mark)))
        self.assertIn("SIGTERM: stopping", self.daemon_log())


@unittest.skipUnless(shutil.which("systemd-socket-activate"), "needs systemd-socket-activate")
class SocketActivationTest(unittest.TestCase):
    """The control socket passed by systemd (sd_listen_fds): served, and
    the configured path left alone. No AWS is needed to answer Status."""

    def test_passed_socket_is_served(self):
        tmp = tempfile.mkdtemp(prefix="smstudio-activation-")
        self.addCleanup(shutil.rmtree, tmp, True)
        os.chmod(tmp, 0o755)
        mdir = os.path.join(tmp, "smstudio.d")
        os.mkdir(mdir, 0o755)
        configured = os.path.join(tmp, "configured.sock")
        activated = os.path.join(tmp, "activated.sock")
        config = os.path.join(tmp, "smstudiod.yaml")
        with open(config, "w", encoding="utf-8") as f:
            # Nothing listens on the discard port: passes fail, Status answers.
            f.write("region: us-east-1\nmanifest_dir: %s\nstate_dir: %s\n"
                    "socket:\n  path: %s\nendpoints:\n" % (mdir, os.path.join(tmp, "state"),
                                                            configured))
            for service in ("sagemaker", "iam", "sts", "servicecatalog"):
                f.write("  %s: http://127.0.0.1:9\n" % service)
        env = aws_env(tmp)
        p = subprocess.Popen(["systemd-socket-activate", "-l", activated, SMSTUDIOD, "--config",
                              config], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        try:
            wait_for(lambda: os.path.exists(activated), 10, "the activation socket")
            reply = varlinkclient.call(activated, "io.smstudio.Status")
            self.assertEqual(reply["parameters"]["config_path"], config, reply)
            self.assertFalse(os.path.exists(configured))
        finally:
            p.send_signal(signal.SIGTERM)
            out = p.communicate(timeout=20)[0]
        self.assertIn("control socket passed by systemd", out)


def journal_scenario(workdir, config):
    """Runs under unshare -m (see JournalTest): a private journald on a
    tmpfs /run, smstudiod logging to it until its first pass finished, the
    records written to workdir/records.json."""
    import test_journald  # its journald helpers; imported here, not at load
    test_journald.mount_run()
    journald = test_journald.start_journald(subprocess.DEVNULL)

    def records():
        p = subprocess.run(["journalctl", "-D", "/run/log/journal", "-o", "json", "--no-pager",
                            "SYSLOG_IDENTIFIER=smstudiod"], capture_output=True, text=True,
                           timeout=10)
        return [json.loads(line) for line in p.stdout.splitlines() if line.strip()]

    daemon = None
    try:
        # JOURNAL_STREAM naming our stderr, as systemd sets it: the daemon's
        # automatic log target picks the journal.
        daemon = subprocess.Popen(
            ["sh", "-c", 'JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2) exec "$0" "$@"',
             SMSTUDIOD, "--config", config], env=aws_env(workdir),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: any(r.get("MESSAGE_ID") == PASS_FINISHED_ID for r in records()), 60,
                 "the first pass's record")
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(20)
        wait_for(lambda: any(r.get("MESSAGE") == "stopped" for r in records()), 10,
                 "the last record")
        with open(os.path.join(workdir, "records.json"), "w") as f:
            json.dump({"records": records(), "status": daemon.returncode}, f)
    finally:
        if daemon and daemon.poll() is None:
            daemon.kill()
        test_journald.stop_journald(journald)


PASS_FINISHED_ID = "ea29dc8203f6458fa3f1083695ea54d0"  # SM_MESSAGE_PASS_FINISHED
PASS_STARTED_ID = "561aebf04360414d861aa7da63ee7b7a"  # SM_MESSAGE_PASS_STARTED
DAEMON_STARTED_ID = "9ce5db7a1d4947189f62d5484b134387"  # SM_MESSAGE_DAEMON_STARTED


class JournalTest(unittest.TestCase):
    """The daemon's own records in a real systemd-journald (private mount
    namespace, as test_journald does for the log module): the pass's
    MESSAGE_ID and SMSTUDIO_PASS, and per action SMSTUDIO_RESOURCE,
    SMSTUDIO_MANIFEST, SMSTUDIO_ACTION, SMSTUDIO_RESULT, AWS_SERVICE and
    AWS_OPERATION, read back with journalctl -o json."""

    def test_records_and_fields(self):
        if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("journalctl"):
            self.skipTest("needs root, unshare and journalctl")
        if subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode != 0:
            self.skipTest("unshare -m is not permitted here")
        tmp = tempfile.mkdtemp(prefix="smstudio-daemon-journal-")
        self.addCleanup(shutil.rmtree, tmp, True)
        os.chmod(tmp, 0o755)
        emu = Awsemu(tmp)
        self.addCleanup(emu.stop)
        mdir = os.path.join(tmp, "smstudio.d")
        os.mkdir(mdir, 0o755)
        for name in ("00-domain.yaml", "alice.yaml"):
            shutil.copyfile(os.path.join(EXAMPLES, name), os.path.join(mdir, name))
            os.chmod(os.path.join(mdir, name), 0o644)
        config = os.path.join(tmp, "smstudiod.yaml")
        with open(config, "w", encoding="utf-8") as f:
            f.write("region: us-east-1\nmanifest_dir: %s\nstate_dir: %s\nsocket:\n"
                    "  path: %s\nlifecycle_script: %s\nendpoints:\n"
                    % (mdir, os.path.join(tmp, "state"), os.path.join(tmp, "sock"),
                       os.path.abspath(LIFECYCLE_SCRIPT)))
            for service in ("sagemaker", "iam", "sts", "servicecatalog"):
                f.write("  %s: %s\n" % (service, emu.url))
        p = subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable,
                            os.path.abspath(__file__), "--journal-scenario", tmp, config],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        with open(os.path.join(tmp, "records.json")) as f:
            result = json.load(f)
        self.assertEqual(result["status"], 0)
        records = result["records"]
        finished = [r for r in records if r.get("MESSAGE_ID") == PASS_FINISHED_ID]
        self.assertEqual(len(finished), 1, records)
        self.assertEqual(finished[0]["SMSTUDIO_PASS"], "1")
        self.assertEqual(finished[0]["SMSTUDIO_RESULT"], "changed")
        self.assertEqual(finished[0]["PRIORITY"], "6")
        started = [r for r in records if r.get("MESSAGE_ID") == PASS_STARTED_ID]
        self.assertEqual([r["SMSTUDIO_PASS"] for r in started], ["1"])
        self.assertTrue(any(r.get("MESSAGE_ID") == DAEMON_STARTED_ID for r in records))
        create = [r for r in records if r.get("AWS_OPERATION") == "CreateUserProfile"]
        self.assertEqual(len(create), 1, records)
        r = create[0]
        self.assertEqual(r["SMSTUDIO_RESOURCE"], "user-profile/mlops-studio/alice")
        # Its document starts on line 3, after two comment lines.
        self.assertEqual(r["SMSTUDIO_MANIFEST"], os.path.join(mdir, "alice.yaml") + ":3")
        self.assertEqual(r["SMSTUDIO_ACTION"], "create")
        self.assertEqual(r["SMSTUDIO_RESULT"], "applied")
        self.assertEqual(r["AWS_SERVICE"], "sagemaker")
        # Never a secret, in any record or field.
        self.assertNotIn("awsemu/EXAMPLE/secret", json.dumps(records))


def _nobody_uid():
    import pwd
    return pwd.getpwnam("nobody").pw_uid


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--journal-scenario":
        journal_scenario(sys.argv[2], sys.argv[3])
    else:
        unittest.main()
