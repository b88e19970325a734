# SPDX-License-Identifier: Apache-2.0
"""`smstudioctl whoami` end to end: moto is the STS, a proxy in front of it
re-checks every signature with botocore's signer, and each credential source
of the SDK chain is exercised the way an operator would configure it."""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

from awsfakes import Emulator, Imds, Moto, VerifyingProxy, make_test_ca

SMSTUDIOCTL = os.environ.get("SMSTUDIOCTL", "smstudioctl")

ENV_KEY = ("AKIAENVEXAMPLE000001", "env/secret+key/EXAMPLE0000000000000001")
SESSION_KEY = ("ASIASESSIONEXAMPLE01", "session/secret/EXAMPLE000000000000001",
               "FwoGZXIvYXdzEBYaDH session token / with+odd=chars")
PROFILE_KEY = ("AKIAPROFILEEXAMPLE01", "profile/secret/EXAMPLE000000000000001")
IMDS_KEY = ("ASIAIMDSEXAMPLE00001", "imds/secret/EXAMPLE00000000000000001",
            "IQoJb3JpZ2luX2VjEIMDS/token==")
UNKNOWN_KEY = ("AKIAUNKNOWN000000001", "not/known/anywhere")


class WhoamiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.moto = Moto()
        keys = {
            ENV_KEY[0]: (ENV_KEY[1], None),
            SESSION_KEY[0]: (SESSION_KEY[1], SESSION_KEY[2]),
            PROFILE_KEY[0]: (PROFILE_KEY[1], None),
            IMDS_KEY[0]: (IMDS_KEY[1], IMDS_KEY[2]),
        }
        cls.proxy = VerifyingProxy(cls.moto.url, keys)
        cls.tmp = tempfile.mkdtemp(prefix="smstudio-whoami-")
        cls.ca, cert, key = make_test_ca(cls.tmp)
        cls.tls_proxy = VerifyingProxy(cls.moto.url, keys, tls=(cert, key))

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()
        cls.tls_proxy.stop()
        cls.moto.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.home = tempfile.mkdtemp(prefix="home-", dir=self.tmp)
        self.proxy.throttle_next = 0
        self.proxy.expired_keys = set()
        self.seen_before = len(self.proxy.verdicts())

    def env(self, **extra):
        """A clean environment: nothing of the caller's AWS setup leaks in."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(HOME=self.home, AWS_REGION="us-east-1",
                   AWS_ENDPOINT_URL_STS=self.proxy.url,
                   AWS_EC2_METADATA_DISABLED="true",
                   AWS_CONFIG_FILE=os.path.join(self.home, "config"),
                   AWS_SHARED_CREDENTIALS_FILE=os.path.join(self.home, "credentials"))
        env.update(extra)
        return env

    def whoami(self, env, *args):
        p = subprocess.run([SMSTUDIOCTL, "whoami", "--json"] + list(args), env=env,
                           capture_output=True, text=True, timeout=60)
        return p

    def assert_identity(self, p, provider):
        self.assertEqual(p.returncode, 0, p.stderr)
        out = json.loads(p.stdout)
        self.assertEqual(out["Account"], "123456789012")
        self.assertTrue(out["Arn"].startswith("arn:aws:"), out)
        self.assertTrue(out["UserId"], out)
        self.assertEqual(out["Provider"], provider)
        self.assertEqual(out["Region"], "us-east-1")
        return out

    def new_verdicts(self, proxy=None):
        return (proxy or self.proxy).verdicts()[self.seen_before if proxy is None else 0:]

    def assert_secrets_absent(self, p, *secrets):
        for s in secrets:
            self.assertNotIn(s, p.stdout)
            self.assertNotIn(s, p.stderr)

    def test_environment_credentials(self):
        p = self.whoami(self.env(AWS_ACCESS_KEY_ID=ENV_KEY[0], AWS_SECRET_ACCESS_KEY=ENV_KEY[1]))
        self.assert_identity(p, "environment")
        self.assertEqual(self.new_verdicts(), ["OK"])
        self.assert_secrets_absent(p, ENV_KEY[1])

    def test_environment_session_token_is_signed(self):
        p = self.whoami(self.env(AWS_ACCESS_KEY_ID=SESSION_KEY[0],
                                 AWS_SECRET_ACCESS_KEY=SESSION_KEY[1],
                                 AWS_SESSION_TOKEN=SESSION_KEY[2]))
        self.assert_identity(p, "environment")
        (_, verdict, headers), = self.proxy.requests[self.seen_before:]
        self.assertEqual(verdict, "OK")
        self.assertIn("x-amz-security-token", headers["Authorization"].lower())
        self.assert_secrets_absent(p, SESSION_KEY[1], SESSION_KEY[2])

    def test_profile_from_credentials_file(self):
        with open(os.path.join(self.home, "credentials"), "w") as f:
            f.write("[default]\naws_access_key_id = %s\naws_secret_access_key = wrong\n"
                    "[dev]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
                    % (UNKNOWN_KEY[0], PROFILE_KEY[0], PROFILE_KEY[1]))
        p = self.whoami(self.env(AWS_PROFILE="dev"))
        self.assert_identity(p, "shared-credentials-file")
        self.assertEqual(self.new_verdicts(), ["OK"])

    def test_explicit_profile_beats_environment_keys(self):
        with open(os.path.join(self.home, "credentials"), "w") as f:
            f.write("[dev]\naws_access_key_id = %s\naws_secret_access_key = %s\n" % PROFILE_KEY)
        keys = dict(AWS_ACCESS_KEY_ID=ENV_KEY[0], AWS_SECRET_ACCESS_KEY=ENV_KEY[1])
        # As in botocore: AWS_PROFILE only selects a profile, environment keys
        # still win; a profile named by the program (--profile) beats them.
        p = self.whoami(self.env(AWS_PROFILE="dev", **keys))
        self.assert_identity(p, "environment")
        p = self.whoami(self.env(**keys), "--profile", "dev")
        self.assert_identity(p, "shared-credentials-file")
        self.assertEqual(self.new_verdicts(), ["OK", "OK"])

    def test_missing_profile_is_named(self):
        p = self.whoami(self.env(), "--profile", "nosuch")
        self.assertEqual(p.returncode, 1)
        self.assertIn('profile "nosuch" (from the command line) is not in', p.stderr)

    def test_profile_region_and_flag(self):
        with open(os.path.join(self.home, "config"), "w") as f:
            f.write("[profile dev]\nregion = eu-west-1\n"
                    "aws_access_key_id = %s\naws_secret_access_key = %s\n" % PROFILE_KEY)
        env = self.env()
        del env["AWS_REGION"]
        p = self.whoami(env, "--profile", "dev")
        self.assertEqual(p.returncode, 0, p.stderr)
        out = json.loads(p.stdout)
        self.assertEqual(out["Region"], "eu-west-1")
        self.assertEqual(out["Provider"], "config-file")
        # The signature's scope carries the profile's region.
        (_, verdict, headers), = self.proxy.requests[self.seen_before:]
        self.assertEqual(verdict, "OK")
        self.assertIn("/eu-west-1/sts/aws4_request", headers["Authorization"])
        # --region beats the profile, and the text output says where it came from.
        p = subprocess.run([SMSTUDIOCTL, "whoami", "--profile", "dev", "--region", "eu-north-1"],
                           env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"(?m)^Region +eu-north-1 \(from the command line\)$")
        (_, verdict, headers) = self.proxy.requests[-1]
        self.assertEqual(verdict, "OK")
        self.assertIn("/eu-north-1/sts/aws4_request", headers["Authorization"])

    def write_daemon_config(self, text):
        path = os.path.join(self.home, "smstudiod.yaml")
        with open(path, "w") as f:
            f.write(text)
        return path

    def unused_url(self):
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()  # nothing listens there now
        return "http://127.0.0.1:%d" % port

    def test_daemon_config_region_and_endpoint(self):
        # The daemon config beats the environment: AWS_REGION and
        # AWS_ENDPOINT_URL_STS point elsewhere (nothing listens at that URL).
        config = self.write_daemon_config(
            "# as the daemon would read it\n"
            "region: eu-west-2\n"
            "endpoints:\n"
            "  sts: %s\n"
            "retry:\n"
            "  max_attempts: 1\n" % self.proxy.url)
        env = self.env(AWS_ACCESS_KEY_ID=ENV_KEY[0], AWS_SECRET_ACCESS_KEY=ENV_KEY[1],
                       AWS_ENDPOINT_URL_STS=self.unused_url())
        p = self.whoami(env, "--config", config)
        self.assertEqual(p.returncode, 0, p.stderr)
        out = json.loads(p.stdout)
        self.assertEqual(out["Region"], "eu-west-2")
        self.assertEqual(out["Endpoint"], self.proxy.url)
        (_, verdict, headers), = self.proxy.requests[self.seen_before:]
        self.assertEqual(verdict, "OK")
        self.assertIn("/eu-west-2/sts/aws4_request", headers["Authorization"])

        # --region beats the config; the config's endpoint still applies.
        p = subprocess.run([SMSTUDIOCTL, "whoami", "--config", config, "--region", "eu-north-1"],
                           env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"(?m)^Region +eu-north-1 \(from the command line\)$")
        (_, verdict, headers) = self.proxy.requests[-1]
        self.assertEqual(verdict, "OK")
        self.assertIn("/eu-north-1/sts/aws4_request", headers["Authorization"])

        # Without the flag the text output names the config as the source.
        p = subprocess.run([SMSTUDIOCTL, "whoami", "--config", config], env=env,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"(?m)^Region +eu-west-2 \(from the daemon config\)$")
        self.assertEqual(self.new_verdicts(), ["OK", "OK", "OK"])

    def test_daemon_config_profile_and_flag_region(self):
        # Profile from the config, region from the command line: each is
        # named with its own source.
        with open(os.path.join(self.home, "credentials"), "w") as f:
            f.write("[dev]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
                    % PROFILE_KEY)
        config = self.write_daemon_config("profile: dev\nregion: eu-west-2\n")
        p = subprocess.run([SMSTUDIOCTL, "whoami", "--config", config, "--region", "eu-west-3"],
                           env=self.env(), capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"(?m)^Provider +shared-credentials-file$")
        self.assertRegex(p.stdout, r"(?m)^Region +eu-west-3 \(from the command line\)$")
        config = self.write_daemon_config("profile: nosuch\n")
        p = self.whoami(self.env(), "--config", config)
        self.assertEqual(p.returncode, 1)
        self.assertIn('profile "nosuch" (from the daemon config) is not in', p.stderr)

    def test_daemon_config_errors(self):
        config = self.write_daemon_config("region: eu-west-2\nendpoints:\n  stss: x\n"
                                          "concurrency: 0\n")
        p = self.whoami(self.env(), "--config", config)
        self.assertEqual(p.returncode, 1)
        self.assertIn('%s:3:3: unknown key "stss" in endpoints (did you mean "sts"?)' % config,
                      p.stderr)
        self.assertIn("%s:4:14: concurrency must be between 1 and 64, not 0" % config, p.stderr)
        self.assertEqual(json.loads(p.stdout)["error"]["code"], "InvalidConfiguration")
        # An explicit --config must exist.
        missing = os.path.join(self.home, "nosuch.yaml")
        p = self.whoami(self.env(), "--config", missing)
        self.assertEqual(p.returncode, 1)
        self.assertIn("%s: cannot read the daemon config: No such file or directory" % missing,
                      p.stderr)
        self.assertEqual(self.new_verdicts(), [])

    def test_imdsv2_credentials(self):
        imds = Imds("smstudio-node", {"AccessKeyId": IMDS_KEY[0],
                                      "SecretAccessKey": IMDS_KEY[1],
                                      "Token": IMDS_KEY[2],
                                      "Expiration": "2099-01-01T00:00:00Z"})
        try:
            p = self.whoami(self.env(AWS_EC2_METADATA_DISABLED="false",
                                     AWS_EC2_METADATA_SERVICE_ENDPOINT=imds.url))
            self.assert_identity(p, "imds")
            self.assertEqual(self.new_verdicts(), ["OK"])
            puts = [h for m, _, h in imds.log if m == "PUT"]
            self.assertGreaterEqual(len(puts), 1)
            self.assertEqual(puts[0]["X-aws-ec2-metadata-token-ttl-seconds"], "21600")
            self.assertTrue(all(h.get("X-aws-ec2-metadata-token") == Imds.TOKEN
                                for m, _, h in imds.log if m == "GET"))
            self.assert_secrets_absent(p, IMDS_KEY[1], IMDS_KEY[2])
        finally:
            imds.stop()

    def test_region_from_imds(self):
        imds = Imds("r", {"AccessKeyId": IMDS_KEY[0], "SecretAccessKey": IMDS_KEY[1],
                          "Token": IMDS_KEY[2], "Expiration": "2099-01-01T00:00:00Z"},
                    region="ap-southeast-2")
        try:
            env = self.env(AWS_EC2_METADATA_DISABLED="false",
                           AWS_EC2_METADATA_SERVICE_ENDPOINT=imds.url,
                           AWS_ACCESS_KEY_ID=ENV_KEY[0], AWS_SECRET_ACCESS_KEY=ENV_KEY[1])
            del env["AWS_REGION"]
            p = self.whoami(env)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(json.loads(p.stdout)["Region"], "ap-southeast-2")
        finally:
            imds.stop()

    def test_no_credentials_says_where_it_looked(self):
        p = self.whoami(self.env())
        self.assertEqual(p.returncode, 1)
        err = p.stderr.lower()
        self.assertIn("credentials", err)
        self.assertIn("environment", err)
        self.assertIn(os.path.join(self.home, "credentials"), p.stderr)
        self.assertEqual(self.new_verdicts(), [])

    def test_no_region(self):
        env = self.env(AWS_ACCESS_KEY_ID=ENV_KEY[0], AWS_SECRET_ACCESS_KEY=ENV_KEY[1])
        del env["AWS_REGION"]
        p = self.whoami(env)
        self.assertEqual(p.returncode, 1)
        self.assertIn("region", p.stderr)

    def test_access_denied(self):
        p = self.whoami(self.env(AWS_ACCESS_KEY_ID=UNKNOWN_KEY[0],
                                 AWS_SECRET_ACCESS_KEY=UNKNOWN_KEY[1]))
        self.assertEqual(p.returncode, 1)
        self.assertIn("access denied", p.stderr)
        self.assertIn("InvalidClientTokenId", p.stderr)
        self.assert_secrets_absent(p, UNKNOWN_KEY[1])

    def test_wrong_secret_is_caught_by_the_verifier(self):
        # Proves the proxy's botocore check can fail: a known key, a wrong secret.
        p = self.whoami(self.env(AWS_ACCESS_KEY_ID=ENV_KEY[0],
                                 AWS_SECRET_ACCESS_KEY="not-the-right-secret"))
        self.assertEqual(p.returncode, 1)
        self.assertEqual(self.new_verdicts(), ["SignatureDoesNotMatch"])
        self.assertIn("SignatureDoesNotMatch", p.stderr)

    def test_expired_credentials(self):
        self.proxy.expired_keys = {SESSION_KEY[0]}
        p = self.whoami(self.env(AWS_ACCESS_KEY_ID=SESSION_KEY[0],
                                 AWS_SECRET_ACCESS_KEY=SESSION_KEY[1],
                                 AWS_SESSION_TOKEN=SESSION_KEY[2]))
        self.assertEqual(p.returncode, 1)
        self.assertIn("expired", p.stderr)

    def test_endpoint_unreachable(self):
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()  # nothing listens there now
        p = self.whoami(self.env(AWS_ACCESS_KEY_ID=ENV_KEY[0], AWS_SECRET_ACCESS_KEY=ENV_KEY[1],
                                 AWS_ENDPOINT_URL_STS="http://127.0.0.1:%d" % port,
                                 AWS_MAX_ATTEMPTS="1"))
        self.assertEqual(p.returncode, 1)
        self.assertIn("cannot reach", p.stderr)
        self.assertIn("127.0.0.1:%d" % port, p.stderr)

    def test_throttled_twice_then_answers(self):
        self.proxy.throttle_next = 2
        p = self.whoami(self.env(AWS_ACCESS_KEY_ID=ENV_KEY[0], AWS_SECRET_ACCESS_KEY=ENV_KEY[1]))
        self.assert_identity(p, "environment")
        seen = self.proxy.requests[self.seen_before:]
        self.assertEqual([v for _, v, _ in seen], ["Throttling", "Throttling", "OK"])
        # 2026 rules: throttle backoff is rand * min(1 s * 2^i, 20 s): at most
        # 1 s before the second attempt and 2 s before the third (plus slack
        # for process and network time on a loaded machine).
        self.assertLess(seen[1][0] - seen[0][0], 1.0 + 0.5)
        self.assertLess(seen[2][0] - seen[1][0], 2.0 + 0.5)

    def test_throttled_past_max_attempts_fails(self):
        self.proxy.throttle_next = 5
        p = self.whoami(self.env(AWS_ACCESS_KEY_ID=ENV_KEY[0], AWS_SECRET_ACCESS_KEY=ENV_KEY[1],
                                 AWS_MAX_ATTEMPTS="2"))
        self.assertEqual(p.returncode, 1)
        self.assertEqual(self.new_verdicts(), ["Throttling", "Throttling"])
        self.assertIn("Throttling", p.stderr)

    def test_https_with_test_ca(self):
        seen = len(self.tls_proxy.verdicts())
        env = self.env(AWS_ACCESS_KEY_ID=ENV_KEY[0], AWS_SECRET_ACCESS_KEY=ENV_KEY[1],
                       AWS_ENDPOINT_URL_STS=self.tls_proxy.url, AWS_CA_BUNDLE=self.ca)
        p = self.whoami(env)
        self.assert_identity(p, "environment")
        self.assertEqual(self.tls_proxy.verdicts()[seen:], ["OK"])

    def test_https_untrusted_certificate_is_refused(self):
        seen = len(self.tls_proxy.verdicts())
        env = self.env(AWS_ACCESS_KEY_ID=ENV_KEY[0], AWS_SECRET_ACCESS_KEY=ENV_KEY[1],
                       AWS_ENDPOINT_URL_STS=self.tls_proxy.url, AWS_MAX_ATTEMPTS="1")
        p = self.whoami(env)
        self.assertEqual(p.returncode, 1)
        self.assertIn("TLS", p.stderr)
        self.assertEqual(self.tls_proxy.verdicts()[seen:], [])

    def test_text_output(self):
        p = subprocess.run([SMSTUDIOCTL, "whoami"],
                           env=self.env(AWS_ACCESS_KEY_ID=ENV_KEY[0],
                                        AWS_SECRET_ACCESS_KEY=ENV_KEY[1]),
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"(?m)^Account +123456789012$")
        self.assertRegex(p.stdout, r"(?m)^Provider +environment$")
        self.assertRegex(p.stdout, r"(?m)^Region +us-east-1 \(from AWS_REGION\)$")


class WhoamiAssumeRoleTest(unittest.TestCase):
    """An assume-role profile end to end against our emulator: the chain
    calls STS AssumeRole signed with the source profile's keys, then signs
    GetCallerIdentity with the temporary credentials it got; the emulator
    re-checks both signatures with botocore's signer."""

    SOURCE = ("AKIASOURCEEXAMPLE001", "source/secret/EXAMPLE00000000000001")

    @classmethod
    def setUpClass(cls):
        import boto3
        cls.tmp = tempfile.mkdtemp(prefix="smstudio-assume-")
        cls.emu = Emulator(cls.tmp, "--creds", "%s:%s" % cls.SOURCE)
        iam = boto3.client("iam", endpoint_url=cls.emu.url, region_name="us-east-1",
                           aws_access_key_id=cls.SOURCE[0],
                           aws_secret_access_key=cls.SOURCE[1])
        iam.create_role(RoleName="smstudio-admin", Path="/smstudio/",
                        AssumeRolePolicyDocument=json.dumps({
                            "Version": "2012-10-17",
                            "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                           "Principal": {"AWS": "123456789012"}}]}))

    @classmethod
    def tearDownClass(cls):
        cls.emu.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_assume_role_profile(self):
        home = tempfile.mkdtemp(dir=self.tmp)
        with open(os.path.join(home, "config"), "w") as f:
            f.write("[profile deploy]\nrole_arn = arn:aws:iam::123456789012:role/smstudio/"
                    "smstudio-admin\nsource_profile = base\nrole_session_name = ci\n")
        with open(os.path.join(home, "credentials"), "w") as f:
            f.write("[base]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
                    % self.SOURCE)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(HOME=home, AWS_REGION="us-east-1", AWS_ENDPOINT_URL=self.emu.url,
                   AWS_EC2_METADATA_DISABLED="true",
                   AWS_CONFIG_FILE=os.path.join(home, "config"),
                   AWS_SHARED_CREDENTIALS_FILE=os.path.join(home, "credentials"))
        p = subprocess.run([SMSTUDIOCTL, "whoami", "--json", "--profile", "deploy"], env=env,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        out = json.loads(p.stdout)
        self.assertEqual(out["Provider"], "assume-role")
        self.assertEqual(out["Arn"],
                         "arn:aws:sts::123456789012:assumed-role/smstudio-admin/ci")
        calls = self.emu.calls()
        self.assertEqual(calls.get("sts:AssumeRole"), 1, calls)
        self.assertEqual(calls.get("sts:GetCallerIdentity"), 1, calls)
        self.assertNotIn(self.SOURCE[1], p.stdout + p.stderr)


if __name__ == "__main__":
    unittest.main()
