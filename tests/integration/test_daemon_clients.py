# SPDX-License-Identifier: Apache-2.0
"""Many clients against the real smstudiod (foreground, awsemu, private
state directory and socket; test_daemon.py's setup and helpers are
borrowed, not copied). In name order on one daemon: once the example
estate has converged, `smstudioctl outputs --from-daemon --json` (the
daemon's io.smstudio.Outputs) is the live `smstudioctl outputs --json`,
and the daemon's errors for a domain it does not have say so; then one
client sends half a request and stalls while 200 concurrent clients, each
on its own connection, all get their io.smstudio.Status within a deadline
and a root Reconcile(wait) still completes; a missing MLflow server is
NotCreated from both; SIGTERM with reads in flight exits 0.

The daemon config has no knob for the control socket's idle timeout (60 s
by default), too long for this test: the staller is asserted still
connected and harmless, not closed."""

import json
import os
import signal
import subprocess
import threading
import time
import unittest

import test_daemon
import test_once
import varlinkclient
from emutest import wait_for

SMSTUDIOCTL = os.environ.get("SMSTUDIOCTL", "smstudioctl")
CLIENTS = 200
EXIT_NOT_CREATED = 3


class DaemonClientsTest(test_daemon.DaemonTest):
    """test_daemon's daemon and helpers; only the steps below run here
    (load_tests), test_daemon's own are its own to run."""

    client = test_once.OnceTest.client

    def ctl(self, *args):
        env = test_daemon.aws_env(self.home)
        return subprocess.run([SMSTUDIOCTL, "--config", self.config] + list(args),
                              capture_output=True, text=True, timeout=60, env=env)

    def converged(self):
        """Until a pass has ended with everything converged."""
        wait_for(lambda: os.path.exists(self.sock_path), 30, "the control socket")

        def done():
            self.alive()
            s = self.status()
            counts = s["counts"]
            if (s["running"] is None and s["last_pass"] and counts["converged"] > 0
                    and counts["pending"] == 0 and counts["failing"] == 0):
                return s
            return None
        return wait_for(done, 30, "the example estate to converge")

    def test_1_outputs_from_the_daemon_are_the_live_ones(self):
        self.converged()
        live = self.ctl("outputs", "--json")
        self.assertEqual(live.returncode, 0, live.stderr)
        before = self.calls()
        daemon = self.ctl("outputs", "--from-daemon", "--json")
        self.assertEqual(daemon.returncode, 0, daemon.stderr)
        self.assertEqual(json.loads(daemon.stdout), json.loads(live.stdout))
        # Read from AWS by the daemon, not made up from the manifest.
        after = self.calls()
        for op in ("sagemaker:ListDomains", "sagemaker:DescribeDomain", "iam:GetRole"):
            self.assertGreater(after.get(op, 0), before.get(op, 0), op)
        outputs = json.loads(daemon.stdout)
        self.assertTrue(outputs["StudioDomainId"].startswith("d-"), outputs)
        self.assertTrue(all(outputs[k] for k in ("StudioDomainArn", "StudioDomainEFSId",
                                                 "DataScientistRoleArn")), outputs)
        # The text rendering lists the same values, in the original's order.
        text = self.ctl("outputs", "--from-daemon")
        self.assertEqual(text.returncode, 0, text.stderr)
        labels = [line.split()[0] for line in text.stdout.splitlines()]
        self.assertEqual(labels, list(outputs))

    def test_2_outputs_of_a_domain_the_daemon_does_not_have(self):
        reply = self.call("io.smstudio.Outputs", {"domain": "no-such-studio"})
        self.assertEqual(reply.get("error"), "io.smstudio.NoSuchDomain", reply)
        self.assertEqual(reply["parameters"]["domain"], "no-such-studio")
        self.assertIn(json.loads(self.ctl("outputs", "--json").stdout)["StudioDomainName"],
                      reply["parameters"]["domains"])
        p = self.ctl("outputs", "--from-daemon", "--json", "no-such-studio")
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("no-such-studio", p.stderr)
        self.assertEqual(json.loads(p.stdout)["error"]["code"], "io.smstudio.NoSuchDomain")

    def test_3_200_clients_and_a_stalled_one(self):
        self.wait_idle()
        stalled = varlinkclient.Connection(self.sock_path, timeout=5)
        self.addCleanup(stalled.close)
        stalled.sock.sendall(b'{"method": "io.smstudio.Stat')
        results, errors = [], []
        lock = threading.Lock()
        barrier = threading.Barrier(CLIENTS)

        def client():
            try:
                conn = varlinkclient.Connection(self.sock_path, timeout=20)
                with conn:
                    # All connected before any asks: 200 at once, really.
                    barrier.wait(20)
                    reply = conn.call("io.smstudio.Status")
                with lock:
                    results.append(reply)
            except (OSError, threading.BrokenBarrierError, ValueError) as e:
                with lock:
                    errors.append(repr(e))

        threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
        start = time.monotonic()
        for t in threads:
            t.start()
        # Meanwhile root's Reconcile(wait) runs a whole pass to its end.
        reconcile = self.call("io.smstudio.Reconcile", {"wait": True}, timeout=30)
        for t in threads:
            t.join(30)
        elapsed = time.monotonic() - start
        self.assertEqual(errors, [])
        self.assertEqual(len(results), CLIENTS)
        for r in results:
            self.assertNotIn("error", r, r)
            self.assertEqual(r["parameters"]["instance"], "smstudio")
        self.assertLess(elapsed, 20)
        self.assertNotIn("error", reconcile, reconcile)
        self.assertIsNotNone(reconcile["parameters"]["pass"]["finished"], reconcile)
        self.assertNotEqual(reconcile["parameters"]["pass"]["result"], "error", reconcile)
        # The staller has had no answer and is still connected: sending the
        # rest of its request now gets one.
        stalled.sock.sendall(b'us"}\0')
        reply = stalled.receive()
        self.assertNotIn("error", reply, reply)
        self.assertEqual(reply["parameters"]["instance"], "smstudio")
        self.alive()

    def test_4_outputs_of_what_aws_does_not_have_yet(self):
        # Paused, so that no pass puts it back while we look.
        self.ok("io.smstudio.Pause", {"reason": "test_daemon_clients"})
        self.wait_idle()
        arn = json.loads(self.ctl("outputs", "--json").stdout)["MlflowTrackingServerArn"]
        name = arn.rsplit("/", 1)[1]
        self.client("sagemaker").delete_mlflow_tracking_server(TrackingServerName=name)
        missing = "MLflow tracking server %s" % name

        def not_created():
            reply = self.call("io.smstudio.Outputs")
            return reply if reply.get("error") == "io.smstudio.NotCreated" else None
        reply = wait_for(not_created, 20, "Outputs to say the server is missing")
        self.assertEqual(reply["parameters"]["missing"], [missing])
        live = self.ctl("outputs")
        daemon = self.ctl("outputs", "--from-daemon")
        self.assertEqual(live.returncode, EXIT_NOT_CREATED, live.stderr)
        self.assertEqual(daemon.returncode, EXIT_NOT_CREATED, daemon.stderr)
        for p in (live, daemon):
            self.assertIn("not created in AWS yet: %s (a pass of smstudiod creates them)"
                          % missing, p.stderr)

    def test_5_sigterm_with_outputs_reads_in_flight(self):
        # Reads the daemon started and never answered are dropped cleanly:
        # exit 0, and nothing for the sanitizers (leaks included) to say.
        conns = [varlinkclient.Connection(self.sock_path, timeout=5) for _ in range(5)]
        for c in conns:
            self.addCleanup(c.close)
            c.send("io.smstudio.Outputs")
        self.daemon.send_signal(signal.SIGTERM)
        self.assertEqual(self.daemon.wait(15), 0, self.daemon_log())
        self.assertNotIn("Sanitizer", self.daemon_log())


def load_tests(loader, standard_tests, pattern):
    names = sorted(n for n in vars(DaemonClientsTest) if n.startswith("test_"))
    return unittest.TestSuite(DaemonClientsTest(n) for n in names)


if __name__ == "__main__":
    unittest.main()
