# SPDX-License-Identifier: Apache-2.0
"""What the emulator's test modules share: starting awsemu as a
subprocess on a kernel-picked port, deadline polling, boto3 clients
pointed at it, the admin API and an AWS-error assertion.

Nothing here sleeps a fixed time: waits poll against a deadline, so the
tests are as fast as the emulator and still tolerate a loaded machine."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

HERE = os.path.dirname(os.path.abspath(__file__))
AWSEMU = os.environ.get("AWSEMU", os.path.join(HERE, "awsemu"))
sys.path.insert(0, HERE)
from emu.cli import DEFAULT_AKID, DEFAULT_SECRET  # noqa: E402

ACCOUNT = "123456789012"
REGION = "us-east-1"


def wait_for(predicate, timeout=30.0, what="condition"):
    """Poll predicate (backing off to 0.1 s) until it returns something
    true, which is returned; TimeoutError after timeout seconds."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(delay)
        delay = min(delay * 2, 0.1)
    raise TimeoutError("timed out waiting for " + what)


class Awsemu:
    """One awsemu subprocess; extra are further command-line arguments."""

    def __init__(self, directory, *extra):
        self.port_file = os.path.join(directory, "port-%d" % time.monotonic_ns())
        self.log = open(self.port_file + ".log", "w+")
        self.proc = subprocess.Popen(
            [AWSEMU, "--listen", "127.0.0.1:0", "--port-file", self.port_file] + list(extra),
            stdout=self.log, stderr=subprocess.STDOUT)

        def port():
            if self.proc.poll() is not None:
                raise RuntimeError("awsemu exited: " + self.output())
            try:
                with open(self.port_file) as f:
                    return int(f.read())
            except (FileNotFoundError, ValueError):
                return None

        self.port = wait_for(port, what="awsemu port file")
        scheme = "https" if "--tls-cert" in extra else "http"
        self.url = "%s://127.0.0.1:%d" % (scheme, self.port)

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(20)
        self.log.close()
        return code


class EmuCase(unittest.TestCase):
    """Base class: one awsemu per test class (started with EXTRA_ARGS),
    state reset before every test."""

    EXTRA_ARGS = ()

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="awsemu-test-")
        cls.emu = Awsemu(cls.tmp, *cls.EXTRA_ARGS)

    @classmethod
    def tearDownClass(cls):
        code = cls.emu.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        assert code == 0, "awsemu exit status %r on SIGTERM" % code

    def setUp(self):
        self.admin("POST", "/_emu/reset")

    def client(self, service, akid=DEFAULT_AKID, secret=DEFAULT_SECRET, token=None,
               validate=True, url=None, verify=None):
        return boto3.client(
            service, endpoint_url=url or self.emu.url, region_name=REGION,
            aws_access_key_id=akid, aws_secret_access_key=secret, aws_session_token=token,
            verify=verify,
            config=Config(retries={"total_max_attempts": 1, "mode": "standard"},
                          parameter_validation=validate))

    def admin(self, method, path, body=None):
        """One admin API call; body (if any) is sent as JSON."""
        data = json.dumps(body).encode() if body is not None else (
            b"" if method in ("POST", "PUT") else None)
        req = urllib.request.Request(self.emu.url + path, method=method, data=data)
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def assertAwsError(self, code, call, *args, **kwargs):
        """call(*args, **kwargs) must fail with AWS error code; returns
        the ClientError for further checks."""
        with self.assertRaises(ClientError) as cm:
            call(*args, **kwargs)
        self.assertEqual(cm.exception.response["Error"]["Code"], code,
                         cm.exception.response)
        return cm.exception
