# SPDX-License-Identifier: Apache-2.0
"""`smstudioctl outputs` against tests/emulator/awsemu, on the example
estate test_once.py builds (its setup and helpers are borrowed, not
copied): before the estate exists it says what is missing (exit 3) and
changes nothing; after one `smstudiod --once` every key's value is the
emulator's, read back with boto3; --json is one flat object with exactly
the original module's keys; several domains need a name; a disabled
MLflow gives null. The steps run in name order on one estate."""

import json
import os
import re
import subprocess
import unittest

import test_once
from test_once import DOMAIN, diff_calls, mutating, role_arn

SMSTUDIOCTL = os.environ.get("SMSTUDIOCTL", "smstudioctl")

# The original module's output keys, in its order (original-module.md §2.10).
KEYS = ["StudioDomainName", "StudioDomainEFSId", "StudioDomainId", "StudioDomainArn",
        "StudioBucketName", "DataScientistRoleArn", "LeadDataScientistRoleArn",
        "SageMakerExecutionRoleArn", "MlflowTrackingServerArn"]
EXIT_NOT_CREATED = 3

OTHER_DOMAIN_YAML = """kind: Domain
name: other-studio
vpc_id: vpc-0a1b2c3d4e5f60718
subnet_ids:
  - subnet-0123456789abcdef0
mlflow_enabled: false
"""


class OutputsTest(test_once.OnceTest):
    """test_once's class for its emulator, estate and helpers; its own
    steps are switched off below (they are test_once's to run)."""

    def ctl(self, *args, **aws_env):
        """smstudioctl with the daemon's config and the emulator's keys
        (aws_env overrides them); asserts the command made no mutating
        call."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(AWS_ACCESS_KEY_ID="AKIDEXAMPLE",
                   AWS_SECRET_ACCESS_KEY="awsemu/EXAMPLE/secret/key/0123456789abc",
                   AWS_EC2_METADATA_DISABLED="true", HOME=self.home)
        env.update(aws_env)
        before = self.calls()
        p = subprocess.run([SMSTUDIOCTL, "--config", self.config] + list(args),
                           capture_output=True, text=True, timeout=60, env=env)
        self.assertEqual(mutating(diff_calls(before, self.calls())), {}, args)
        return p

    def write_manifest(self, name, text):
        path = os.path.join(self.mdir, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(path, 0o644)
        return path

    def edit_manifest(self, name, edit):
        """Rewrite a manifest with edit(text) until the test ends."""
        with open(os.path.join(self.mdir, name), encoding="utf-8") as f:
            original = f.read()
        self.addCleanup(self.write_manifest, name, original)
        self.write_manifest(name, edit(original))

    def test_1_nothing_created_yet(self):
        p = self.ctl("outputs")
        self.assertEqual(p.returncode, EXIT_NOT_CREATED, p.stdout + p.stderr)
        self.assertEqual(p.stdout, "")
        self.assertIn("not created in AWS yet", p.stderr)
        for what in ("domain mlops-studio", "MLflow tracking server mlflow",
                     "IAM role mlops-studio.data-scientist",
                     "IAM role mlops-studio.lead-data-scientist",
                     "IAM role mlops-studio.sagemaker-execution"):
            self.assertIn(what, p.stderr)
        # No ARN is made up for a role that does not exist.
        self.assertNotIn("arn:", p.stdout + p.stderr)

        p = self.ctl("--json", "outputs")
        self.assertEqual(p.returncode, EXIT_NOT_CREATED, p.stderr)
        self.assertEqual(json.loads(p.stdout)["error"]["code"], "NotCreated")

    def test_2_outputs_are_the_estates(self):
        p = self.once()
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)

        before = self.calls()
        p = self.ctl("--json", "outputs")
        self.assertEqual(p.returncode, 0, p.stderr)
        out = json.loads(p.stdout)
        self.assertEqual(list(out), KEYS)
        used = diff_calls(before, self.calls())
        self.assertEqual(used.get("sagemaker:DescribeDomain"), 1, used)
        self.assertEqual(used.get("iam:GetRole"), 3, used)

        sm = self.client("sagemaker")
        iam = self.client("iam")
        summary, = [d for d in sm.list_domains()["Domains"] if d["DomainName"] == DOMAIN]
        domain = sm.describe_domain(DomainId=summary["DomainId"])
        server, = sm.list_mlflow_tracking_servers()["TrackingServerSummaries"]
        self.assertEqual(out, {
            "StudioDomainName": DOMAIN,
            "StudioDomainEFSId": domain["HomeEfsFileSystemId"],
            "StudioDomainId": domain["DomainId"],
            "StudioDomainArn": domain["DomainArn"],
            "StudioBucketName": "mlops-studio-bucket",
            "DataScientistRoleArn": iam.get_role(
                RoleName=DOMAIN + ".data-scientist")["Role"]["Arn"],
            "LeadDataScientistRoleArn": iam.get_role(
                RoleName=DOMAIN + ".lead-data-scientist")["Role"]["Arn"],
            "SageMakerExecutionRoleArn": iam.get_role(
                RoleName=DOMAIN + ".sagemaker-execution")["Role"]["Arn"],
            "MlflowTrackingServerArn": server["TrackingServerArn"],
        })
        self.assertEqual(out["SageMakerExecutionRoleArn"], role_arn("sagemaker-execution"))
        self.assertTrue(out["StudioDomainEFSId"].startswith("fs-"), out)

        # Text: the same values, one aligned "Key  value" line each; a
        # domain named on the command line gives the same answer.
        for args in (("outputs",), ("outputs", DOMAIN)):
            p = self.ctl(*args)
            self.assertEqual(p.returncode, 0, p.stderr)
            lines = p.stdout.splitlines()
            self.assertEqual([line.split()[0] for line in lines], KEYS)
            self.assertEqual({line.split()[0]: line.split()[1] for line in lines}, out)
            columns = {re.match(r"\S+ {2,}", line).end() for line in lines}
            self.assertEqual(len(columns), 1, p.stdout)

    def test_3_several_domains_need_a_name(self):
        # With two domains, users must say whose they are.
        for name in ("alice.yaml", "bob.yaml"):
            self.edit_manifest(name, lambda text: text + "domain: %s\n" % DOMAIN)
        path = self.write_manifest("10-other.yaml", OTHER_DOMAIN_YAML)
        self.addCleanup(os.unlink, path)
        p = self.ctl("outputs")
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("2 domains: name one of mlops-studio, other-studio", p.stderr)

        p = self.ctl("outputs", DOMAIN)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(DOMAIN, p.stdout)

        # Declared but never created: exit 3, naming the domain and its roles.
        p = self.ctl("--json", "outputs", "other-studio")
        self.assertEqual(p.returncode, EXIT_NOT_CREATED, p.stdout + p.stderr)
        self.assertIn("domain other-studio", p.stderr)
        self.assertIn("IAM role other-studio.data-scientist", p.stderr)
        self.assertNotIn("MLflow", p.stderr)
        self.assertEqual(json.loads(p.stdout)["error"]["code"], "NotCreated")

        p = self.ctl("outputs", "nosuch")
        self.assertEqual(p.returncode, 1)
        self.assertIn('no domain "nosuch"', p.stderr)
        self.assertIn("(domains: mlops-studio, other-studio)", p.stderr)

        p = self.ctl("outputs", "a", "b")
        self.assertEqual(p.returncode, 64)

    def test_4_mlflow_disabled_is_null(self):
        self.edit_manifest("00-domain.yaml", lambda text: text.replace(
            "mlflow_enabled: true", "mlflow_enabled: false"))
        before = self.calls()
        p = self.ctl("--json", "outputs")
        self.assertEqual(p.returncode, 0, p.stderr)
        out = json.loads(p.stdout)
        self.assertEqual(list(out), KEYS)
        self.assertIsNone(out["MlflowTrackingServerArn"])
        self.assertIsNotNone(out["StudioDomainArn"])
        self.assertNotIn("sagemaker:ListMlflowTrackingServers",
                         diff_calls(before, self.calls()))

    def test_5_aws_errors_exit_1(self):
        secret = "not/the/emulator/secret/key/0123456789abcd"
        p = self.ctl("--json", "outputs", AWS_SECRET_ACCESS_KEY=secret)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("access denied by", p.stderr)
        # Every call failed (IAM and SageMaker name the fault differently);
        # the first answer is reported, once, as one JSON document.
        code = json.loads(p.stdout)["error"]["code"]
        self.assertIn(code, ("SignatureDoesNotMatch", "InvalidSignatureException"))
        self.assertIn(code, p.stderr)
        self.assertEqual(p.stderr.count("smstudioctl:"), 1, p.stderr)
        self.assertNotIn(secret, p.stdout + p.stderr)


for _name in vars(test_once.OnceTest):
    if _name.startswith("test_") and _name not in vars(OutputsTest):
        setattr(OutputsTest, _name, None)


if __name__ == "__main__":
    unittest.main()
