# SPDX-License-Identifier: Apache-2.0
"""`smstudiod --once`'s own records in a real systemd-journald.

As in test_journald (whose helpers start the journald), the test re-runs
this file under `unshare -m --propagation private`: a tmpfs on /run holds
journald's sockets and its volatile journal, and vanishes with the
namespace. Inside, smstudiod --once runs against awsemu on the example
estate with JOURNAL_STREAM naming its stderr, as systemd sets it for a
timer's oneshot service, so its automatic log target is the journal; one
CreateSpace is refused by the emulator so a failed action is logged too.
The records are read back with `journalctl -o json`; outside, the test
asserts their MESSAGE_IDs and fields, and that the AWS secret key the
daemon signed with is in none of them."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

SMSTUDIOD = os.environ.get("SMSTUDIOD", "smstudiod")
SOURCE_ROOT = os.environ.get("SM_SOURCE_ROOT",
                             os.path.join(os.path.dirname(__file__), "..", ".."))
HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(SOURCE_ROOT, "config", "smstudio.d")
LIFECYCLE_SCRIPT = os.path.join(SOURCE_ROOT, "config", "lifecycle", "idle-shutdown.sh")
sys.path.insert(0, os.path.join(SOURCE_ROOT, "tests", "emulator"))
sys.path.insert(0, HERE)
from emutest import Awsemu, EmuCase, wait_for  # noqa: E402
import test_journald  # noqa: E402

# log.h's SM_MESSAGE_* of the events asserted here.
CONFIG_LOADED = "3e34b6b236904b0cb4bfc135f6302bbb"
PASS_STARTED = "561aebf04360414d861aa7da63ee7b7a"
PASS_FINISHED = "ea29dc8203f6458fa3f1083695ea54d0"
ACTION_APPLIED = "b1edcf9aae3941ccb4a03b5782fdfb4d"
ACTION_FAILED = "35853620576c41ed8f76f045ffcfb1e7"

# Credentials of this test only (the emulator is told of them): the secret
# must be found in no record.
# Chosen outside and handed to the scenario, which runs in another process.
AKID = "AKIDDAEMONJOURNALD"
SECRET = os.environ.get("DAEMON_JOURNALD_SECRET",
                        "daemonJournald/SECRET/%d/0123456789abcdefEXAMPLE" % os.getpid())


def records():
    p = subprocess.run(["journalctl", "-D", "/run/log/journal", "-o", "json", "--no-pager",
                        "SYSLOG_IDENTIFIER=smstudiod"], capture_output=True, text=True,
                       timeout=10)
    return [json.loads(line) for line in p.stdout.splitlines() if line.strip()]


def inside(workdir, config):
    """Runs in the private mount namespace; writes workdir/result.json."""
    test_journald.mount_run()
    with open(os.path.join(workdir, "journald.log"), "w") as jlog:
        journald = test_journald.start_journald(jlog)
    result = {}
    try:
        env = dict(os.environ)
        for var in ("AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL",
                    "AWS_SESSION_TOKEN", "NOTIFY_SOCKET", "JOURNAL_STREAM"):
            env.pop(var, None)
        env.update({"AWS_ACCESS_KEY_ID": AKID, "AWS_SECRET_ACCESS_KEY": SECRET,
                    "AWS_EC2_METADATA_DISABLED": "true", "HOME": workdir,
                    "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE":
                    "/nonexistent"})
        with open(os.path.join(workdir, "stderr"), "w+") as err:
            p = subprocess.run(
                ["sh", "-c", 'JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2) '
                 'exec "$0" "$@"', SMSTUDIOD, "--once", "--config", config],
                env=env, stdout=subprocess.PIPE, stderr=err, text=True, timeout=60)
            err.seek(0)
            result["stderr"] = err.read()
        result["status"] = p.returncode
        result["stdout"] = p.stdout
        # Sent before it exited; journald may still be writing them.
        wait_for(lambda: any(r.get("MESSAGE_ID") == PASS_FINISHED for r in records()), 10,
                 "the pass-finished record")
        result["records"] = records()
    finally:
        test_journald.stop_journald(journald)
        with open(os.path.join(workdir, "result.json"), "w") as f:
            json.dump(result, f)


class DaemonJournaldTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        reason = test_journald.skip_reason()
        if reason:
            raise unittest.SkipTest(reason)
        cls.tmp = tempfile.mkdtemp(prefix="smstudio-daemon-journald-")
        os.chmod(cls.tmp, 0o755)
        cls.emu = Awsemu(cls.tmp, "--creds", "%s:%s" % (AKID, SECRET))
        try:
            cls.run_scenario()
        finally:
            code = cls.emu.stop()
            shutil.rmtree(cls.tmp, ignore_errors=True)
        assert code == 0, "awsemu exit status %r on SIGTERM" % code

    @classmethod
    def run_scenario(cls):
        cls.mdir = os.path.join(cls.tmp, "smstudio.d")
        os.mkdir(cls.mdir, 0o755)
        for name in sorted(os.listdir(EXAMPLES)):
            if name.endswith(".yaml"):
                shutil.copyfile(os.path.join(EXAMPLES, name), os.path.join(cls.mdir, name))
                os.chmod(os.path.join(cls.mdir, name), 0o644)
        config = os.path.join(cls.tmp, "smstudiod.yaml")
        with open(config, "w", encoding="utf-8") as f:
            f.write("region: us-east-1\nmanifest_dir: %s\nstate_dir: %s\n"
                    "lifecycle_script: %s\nendpoints:\n"
                    % (cls.mdir, os.path.join(cls.tmp, "state"),
                       os.path.abspath(LIFECYCLE_SCRIPT)))
            for service in ("sagemaker", "iam", "sts", "servicecatalog"):
                f.write("  %s: %s\n" % (service, cls.emu.url))
        # One refused call: a failed action's record, with AWS's answer.
        EmuCase.admin(cls, "POST", "/_emu/faults",
                      {"operation": "sagemaker:CreateSpace", "kind": "reject", "count": 1})
        p = subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable,
                            os.path.abspath(__file__), "--inside", cls.tmp, config],
                           capture_output=True, text=True, timeout=90,
                           env=dict(os.environ, DAEMON_JOURNALD_SECRET=SECRET))
        try:
            with open(os.path.join(cls.tmp, "journald.log")) as f:
                journald_log = f.read()
        except OSError:
            journald_log = ""
        if p.returncode != 0:
            raise AssertionError("scenario failed (%d):\n%s%s\njournald:\n%s" % (
                p.returncode, p.stdout, p.stderr, journald_log))
        with open(os.path.join(cls.tmp, "result.json")) as f:
            cls.result = json.load(f)
        cls.records = cls.result["records"]

    def messages(self):
        """For failure messages: the records' text, not all their fields."""
        return [r.get("MESSAGE") for r in self.records]

    def by_id(self, message_id):
        return [r for r in self.records if r.get("MESSAGE_ID") == message_id]

    def test_once_ran_and_logged_only_to_the_journal(self):
        # Changes and a failure (the refused CreateSpace): 6.
        self.assertEqual(self.result["status"], 6, self.messages())
        # The automatic target chose the journal: no log line on stderr.
        self.assertEqual(self.result["stderr"], "")
        self.assertIn("pass: ", self.result["stdout"])
        self.assertEqual(len(self.by_id(CONFIG_LOADED)), 1, self.messages())

    def test_pass_started_and_finished(self):
        started, finished = self.by_id(PASS_STARTED), self.by_id(PASS_FINISHED)
        self.assertEqual(len(started), 1, self.messages())
        self.assertEqual(len(finished), 1, self.messages())
        self.assertEqual(started[0]["SMSTUDIO_PASS"], "1")
        self.assertEqual(started[0]["PRIORITY"], "6")
        self.assertEqual(finished[0]["SMSTUDIO_PASS"], "1")
        self.assertEqual(finished[0]["SMSTUDIO_RESULT"], "changed-and-failed")
        # A pass with failures is a warning.
        self.assertEqual(finished[0]["PRIORITY"], "4")

    def test_create_user_profile_for_alice(self):
        alice = [r for r in self.records if r.get("AWS_OPERATION") == "CreateUserProfile"
                 and r.get("SMSTUDIO_RESOURCE") == "user-profile/mlops-studio/alice"]
        self.assertEqual(len(alice), 1, self.messages())
        r = alice[0]
        self.assertEqual(r["MESSAGE_ID"], ACTION_APPLIED)
        self.assertEqual(r["PRIORITY"], "6")
        self.assertEqual(r["SMSTUDIO_PASS"], "1")
        self.assertEqual(r["SMSTUDIO_ACTION"], "create")
        self.assertEqual(r["SMSTUDIO_RESULT"], "applied")
        # Its document starts on line 3, after two comment lines.
        self.assertEqual(r["SMSTUDIO_MANIFEST"], os.path.join(self.mdir, "alice.yaml") + ":3")
        self.assertEqual(r["AWS_SERVICE"], "sagemaker")
        self.assertNotIn("AWS_ERROR_CODE", r)
        # The id AWS gave the call that created her: what a support case
        # with AWS starts from.
        self.assertRegex(r.get("AWS_REQUEST_ID", ""), r"^[0-9a-f-]{16,}$")

    def test_failed_action_carries_aws_answer(self):
        failed = [r for r in self.by_id(ACTION_FAILED) if r.get("AWS_OPERATION") == "CreateSpace"]
        self.assertEqual(len(failed), 1, self.messages())
        r = failed[0]
        self.assertEqual(r["PRIORITY"], "3")
        self.assertEqual(r["SMSTUDIO_RESULT"], "failed")
        self.assertEqual(r["SMSTUDIO_ACTION"], "create")
        self.assertTrue(r["SMSTUDIO_RESOURCE"].startswith("space/mlops-studio/"), r)
        self.assertTrue(r["AWS_ERROR_CODE"])
        self.assertTrue(r["AWS_REQUEST_ID"])
        self.assertEqual(r["AWS_SERVICE"], "sagemaker")

    def test_no_secret_anywhere(self):
        self.assertTrue(self.messages())
        text = json.dumps(self.messages()) + self.result["stderr"] + self.result["stdout"]
        self.assertNotIn(SECRET, text)
        self.assertNotIn("AWS_SECRET_ACCESS_KEY", text)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--inside":
        inside(*sys.argv[2:])
    else:
        unittest.main()
