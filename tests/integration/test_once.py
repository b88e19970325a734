# SPDX-License-Identifier: Apache-2.0
"""`smstudiod --once` end to end against tests/emulator/awsemu, on a private
copy of the example estate (config/smstudio.d). The steps build on each
other, in order: a dry run on an empty account changes nothing; a pass
converges the estate; a second pass makes no mutating call; drift made
out of band is repaired; a removed user is offboarded; a broken manifest
deletes nothing. Each step asserts the emulator's state and its call
counters, never only the daemon's own account of what it did. The estate
includes the Studio lifecycle config of config/lifecycle/idle-shutdown.sh
(server_lifecycle_name: studio-auto-shutdown)."""

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
import urllib.request

SMSTUDIOD = os.environ.get("SMSTUDIOD", "smstudiod")
SOURCE_ROOT = os.environ.get("SM_SOURCE_ROOT",
                             os.path.join(os.path.dirname(__file__), "..", ".."))
EXAMPLES = os.path.join(SOURCE_ROOT, "config", "smstudio.d")
LIFECYCLE_SCRIPT = os.path.join(SOURCE_ROOT, "config", "lifecycle", "idle-shutdown.sh")
sys.path.insert(0, os.path.join(SOURCE_ROOT, "tests", "emulator"))
from emutest import Awsemu, wait_for  # noqa: E402
from emutest import DEFAULT_AKID, DEFAULT_SECRET, REGION  # noqa: E402

ACCOUNT = "123456789012"
DOMAIN = "mlops-studio"
READ_PREFIXES = ("List", "Describe", "Get")
SUMMARY_RE = re.compile(r"^pass: (\d+) rounds, (\d+) changes, (\d+) failures$", re.M)


def role_arn(suffix):
    return "arn:aws:iam::%s:role/%s.%s" % (ACCOUNT, DOMAIN, suffix)


def mutating(counts):
    """The operations of a /_emu/calls answer (or a difference of two)
    that change something, with their counts."""
    return {op: n for op, n in counts.items()
            if n and not op.split(":", 1)[1].startswith(READ_PREFIXES)}


def diff_calls(before, after):
    return {op: after[op] - before.get(op, 0) for op in after if after[op] != before.get(op, 0)}


class OnceTest(unittest.TestCase):
    """One emulator and one estate for the whole class: test_<n>_ methods
    run in name order and each starts from the state the previous left."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="smstudio-once-")
        os.chmod(cls.tmp, 0o755)
        cls.emu = Awsemu(cls.tmp, "--async-delay-ms", "200")
        cls.mdir = os.path.join(cls.tmp, "smstudio.d")
        os.mkdir(cls.mdir)
        os.chmod(cls.mdir, 0o755)
        for name in sorted(os.listdir(EXAMPLES)):
            if name.endswith(".yaml"):
                shutil.copyfile(os.path.join(EXAMPLES, name), os.path.join(cls.mdir, name))
                os.chmod(os.path.join(cls.mdir, name), 0o644)
        cls.state = os.path.join(cls.tmp, "state")
        cls.home = os.path.join(cls.tmp, "home")
        os.mkdir(cls.home)
        cls.config = os.path.join(cls.tmp, "smstudiod.yaml")
        with open(cls.config, "w", encoding="utf-8") as f:
            f.write("region: us-east-1\n"
                    "manifest_dir: %s\n"
                    "state_dir: %s\n"
                    "lifecycle_script: %s\n"
                    "endpoints:\n" % (cls.mdir, cls.state, os.path.abspath(LIFECYCLE_SCRIPT)))
            for service in ("sagemaker", "iam", "sts", "servicecatalog"):
                f.write("  %s: %s\n" % (service, cls.emu.url))

    @classmethod
    def tearDownClass(cls):
        code = cls.emu.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        assert code == 0, "awsemu exit status %r on SIGTERM" % code

    # -- helpers -----------------------------------------------------------

    def admin(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else (
            b"" if method == "POST" else None)
        req = urllib.request.Request(self.emu.url + path, method=method, data=data)
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def calls(self):
        return self.admin("GET", "/_emu/calls")

    def sagemaker(self):
        return self.admin("GET", "/_emu/state")["services"]["sagemaker"]

    def iam_roles(self):
        return self.admin("GET", "/_emu/state")["services"]["iam"]["roles"]

    def once(self, *args):
        p = self.once_with(self.config, *args)
        if "--json" not in args:
            self.assertRegex(p.stdout, SUMMARY_RE, p.stdout + p.stderr)
        return p

    def once_with(self, config, *args):
        env = dict(os.environ)
        env.update({
            "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
            "AWS_SECRET_ACCESS_KEY": "awsemu/EXAMPLE/secret/key/0123456789abc",
            "AWS_EC2_METADATA_DISABLED": "true",
            "HOME": self.home,
        })
        for var in ("AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL",
                    "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_SESSION_TOKEN"):
            env.pop(var, None)
        return subprocess.run([SMSTUDIOD, "--once", "--config", config] + list(args),
                              capture_output=True, text=True, timeout=240, env=env)

    def client(self, service):
        """A boto3 client on the emulator, to read back as a user would."""
        import boto3
        from botocore.config import Config

        return boto3.client(service, endpoint_url=self.emu.url, region_name=REGION,
                            aws_access_key_id=DEFAULT_AKID,
                            aws_secret_access_key=DEFAULT_SECRET,
                            config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))

    def domain(self):
        found = [d for d in self.sagemaker()["domains"].values() if d["DomainName"] == DOMAIN]
        self.assertEqual(len(found), 1, "exactly one domain %s" % DOMAIN)
        return found[0]

    def space(self, name):
        return self.sagemaker()["spaces"].get("%s/%s" % (self.domain()["DomainId"], name))

    def profile(self, name):
        return self.sagemaker()["user_profiles"].get("%s/%s" % (self.domain()["DomainId"], name))

    def assertOurs(self, arn):
        tags = self.sagemaker()["tags"].get(arn, {})
        self.assertEqual(tags.get("smstudio:managed-by"), "smstudio", arn)

    def assertConverged(self):
        """A pass now has nothing to do and makes no mutating call."""
        before = self.calls()
        p = self.once()
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(mutating(diff_calls(before, self.calls())), {}, p.stdout)
        return p

    # -- the steps ---------------------------------------------------------

    def test_1_dry_run_changes_nothing(self):
        p = self.once("--dry-run")
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        for line in ("+ role/mlops-studio.sagemaker-execution  create  CreateRole",
                     "+ role/mlops-studio.data-scientist  create  CreateRole",
                     "+ domain/mlops-studio  create  CreateDomain"):
            self.assertIn(line, p.stdout)
        # Profiles wait for their domain: reported, not planned.
        self.assertRegex(p.stdout, r"! user-profile/mlops-studio/alice  blocked: ")
        calls = self.calls()
        self.assertIn("sts:GetCallerIdentity", calls)
        self.assertEqual(mutating(calls), {}, calls)
        self.assertEqual(self.sagemaker()["domains"], {})
        self.assertEqual(self.iam_roles(), {})

        p = self.once("--dry-run", "--json")
        self.assertEqual(p.returncode, 2, p.stderr)
        report = json.loads(p.stdout)
        self.assertTrue(report["dry_run"])
        self.assertEqual(report["rounds_run"], 1)
        self.assertEqual(report["failures"], 0)
        actions = report["rounds"][0]["plan"]["actions"]
        self.assertEqual(report["changes"], len(actions))
        self.assertIn("CreateDomain", [a["operation"] for a in actions])
        self.assertNotIn("outcomes", report["rounds"][0])
        self.assertEqual(mutating(self.calls()), {})

    def test_2_pass_converges_the_estate(self):
        p = self.once()
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        m = SUMMARY_RE.search(p.stdout)
        self.assertEqual(int(m.group(3)), 0, p.stdout + p.stderr)
        self.assertGreater(int(m.group(2)), 0)
        calls = self.calls()
        # Each create exactly once: no retry made a duplicate.
        self.assertEqual(calls.get("sagemaker:CreateDomain"), 1, calls)
        self.assertEqual(calls.get("sagemaker:CreateUserProfile"), 2, calls)
        self.assertEqual(calls.get("sagemaker:CreateSpace"), 2, calls)
        self.assertEqual(calls.get("sagemaker:CreateMlflowTrackingServer"), 1, calls)
        self.assertEqual(calls.get("iam:CreateRole"), 4, calls)

        roles = self.iam_roles()
        self.assertEqual(sorted(roles), sorted("%s.%s" % (DOMAIN, s) for s in (
            "data-scientist", "lead-data-scientist", "sagemaker-execution", "mlflow")))
        for name, role in roles.items():
            self.assertIn({"Key": "smstudio:managed-by", "Value": "smstudio"}, role["Tags"],
                          name)
            self.assertTrue(role["InlinePolicies"], name)
        for name in ("data-scientist", "lead-data-scientist", "sagemaker-execution"):
            role = roles["%s.%s" % (DOMAIN, name)]
            self.assertTrue(role["AttachedPolicies"], name)
            # The isolation deny policy names the domain: the second phase ran.
            self.assertIn("smstudio-domain-isolation", role["InlinePolicies"], name)

        d = self.domain()
        self.assertEqual(d["Status"], "InService")
        self.assertEqual(d["AuthMode"], "IAM")
        self.assertEqual(d["AppNetworkAccessType"], "VpcOnly")
        self.assertEqual(d["DefaultUserSettings"]["ExecutionRole"],
                         role_arn("sagemaker-execution"))
        idle = d["DefaultUserSettings"]["JupyterLabAppSettings"]["AppLifecycleManagement"][
            "IdleSettings"]
        self.assertEqual(idle["IdleTimeoutInMinutes"], 120)
        self.assertOurs(d["DomainArn"])

        # The idle shutdown script, as a content-addressed JupyterLab
        # lifecycle config attached to the domain's JupyterLab apps.
        lccs = self.sagemaker()["studio_lifecycle_configs"]
        self.assertEqual(len(lccs), 1, lccs)
        lcc = next(iter(lccs.values()))
        self.assertRegex(lcc["StudioLifecycleConfigName"], r"^studio-auto-shutdown-[0-9a-f]{8}$")
        self.assertEqual(lcc["StudioLifecycleConfigAppType"], "JupyterLab")
        with open(LIFECYCLE_SCRIPT, "rb") as f:
            self.assertEqual(base64.b64decode(lcc["StudioLifecycleConfigContent"]), f.read())
        self.assertOurs(lcc["StudioLifecycleConfigArn"])
        jl = d["DefaultUserSettings"]["JupyterLabAppSettings"]
        self.assertEqual(jl["LifecycleConfigArns"], [lcc["StudioLifecycleConfigArn"]])
        self.assertEqual(jl["DefaultResourceSpec"]["LifecycleConfigArn"],
                         lcc["StudioLifecycleConfigArn"])

        for user, role in (("alice", "data-scientist"), ("bob", "lead-data-scientist")):
            prof = self.profile(user)
            self.assertIsNotNone(prof, user)
            self.assertEqual(prof["Status"], "InService")
            self.assertEqual(prof["UserSettings"]["ExecutionRole"], role_arn(role))
            self.assertOurs(prof["UserProfileArn"])
            space = self.space("%s-JupyterLab-space" % user)
            self.assertIsNotNone(space, user)
            self.assertEqual(space["Status"], "InService")
            self.assertEqual(space["OwnershipSettings"]["OwnerUserProfileName"], user)
            self.assertEqual(space["SpaceSharingSettings"]["SharingType"], "Private")
            self.assertEqual(space["SpaceSettings"]["AppType"], "JupyterLab")
            self.assertOurs(space["SpaceArn"])
        self.assertEqual(self.space("bob-JupyterLab-space")["SpaceSettings"][
            "JupyterLabAppSettings"]["DefaultResourceSpec"]["InstanceType"], "ml.m5.2xlarge")

        servers = self.sagemaker()["mlflow_servers"]
        self.assertEqual(len(servers), 1, servers)
        server = next(iter(servers.values()))
        self.assertEqual(server["ArtifactStoreUri"], "s3://mlops-studio-artifacts/mlflow/")
        self.assertEqual(server["TrackingServerSize"], "Small")
        self.assertEqual(server["RoleArn"], role_arn("mlflow"))
        self.assertOurs(server["TrackingServerArn"])

        # SageMaker projects (enable_custom_sagemaker_projects: true): the
        # portfolio enabled, its share accepted, the three roles of the
        # original associated (not MLflow's), each once.
        sm = self.client("sagemaker")
        self.assertEqual(sm.get_sagemaker_servicecatalog_portfolio_status()["Status"], "Enabled")
        sc = self.client("servicecatalog")
        shares = [p for p in sc.list_accepted_portfolio_shares()["PortfolioDetails"]
                  if p["ProviderName"] == "Amazon SageMaker"]
        self.assertEqual(len(shares), 1, shares)
        principals = sc.list_principals_for_portfolio(PortfolioId=shares[0]["Id"])["Principals"]
        self.assertEqual(sorted(p["PrincipalARN"] for p in principals),
                         sorted(role_arn(s) for s in (
                             "data-scientist", "lead-data-scientist", "sagemaker-execution")))
        self.assertEqual({p["PrincipalType"] for p in principals}, {"IAM"})
        calls = self.calls()
        self.assertEqual(calls.get("sagemaker:EnableSagemakerServicecatalogPortfolio"), 1, calls)
        self.assertEqual(calls.get("servicecatalog:AssociatePrincipalWithPortfolio"), 3, calls)

        self.assertTrue(os.path.isfile(os.path.join(self.state, "observed-cache.json")))
        self.assertEqual(os.stat(self.state).st_mode & 0o777, 0o700)

    def test_3_second_pass_makes_no_mutating_call(self):
        before = self.calls()
        p = self.assertConverged()
        self.assertIn("pass: 1 rounds, 0 changes, 0 failures", p.stdout)
        used = diff_calls(before, self.calls())
        self.assertEqual(used.get("sts:GetCallerIdentity"), 1, used)
        # Steady state: List calls, no Describe of anything unchanged.
        self.assertFalse([op for op in used if ":Describe" in op], used)

    def test_4_drift_is_repaired(self):
        domain_id = self.domain()["DomainId"]
        out = self.admin("POST", "/_emu/call/sagemaker/UpdateSpace", {
            "DomainId": domain_id, "SpaceName": "bob-JupyterLab-space",
            "SpaceSettings": {"JupyterLabAppSettings": {
                "DefaultResourceSpec": {"InstanceType": "ml.t3.large"}}}})
        self.assertIn("SpaceArn", out)

        # The emulator settles a transition on a read; an out-of-band read
        # leaves the counters alone.
        def settled():
            s = self.admin("POST", "/_emu/call/sagemaker/DescribeSpace",
                           {"DomainId": domain_id, "SpaceName": "bob-JupyterLab-space"})
            return s["Status"] == "InService" and s
        space = wait_for(settled, what="the out-of-band update to settle")
        self.assertEqual(space["SpaceSettings"]["JupyterLabAppSettings"]["DefaultResourceSpec"]
                         ["InstanceType"], "ml.t3.large")

        before = self.calls()
        p = self.once()
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn("~ space/mlops-studio/bob-JupyterLab-space  update  UpdateSpace", p.stdout)
        self.assertEqual(mutating(diff_calls(before, self.calls())),
                         {"sagemaker:UpdateSpace": 1})
        self.assertEqual(self.space("bob-JupyterLab-space")["SpaceSettings"][
            "JupyterLabAppSettings"]["DefaultResourceSpec"]["InstanceType"], "ml.m5.2xlarge")
        self.assertConverged()

    def test_5_removed_user_is_offboarded(self):
        os.unlink(os.path.join(self.mdir, "bob.yaml"))
        before = self.calls()
        p = self.once()
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn("- user-profile/mlops-studio/bob", p.stdout)
        self.assertNotIn("deletion guard tripped", p.stdout)
        used = mutating(diff_calls(before, self.calls()))
        self.assertEqual(used.get("sagemaker:DeleteSpace"), 1, used)
        self.assertEqual(used.get("sagemaker:DeleteUserProfile"), 1, used)
        self.assertIsNone(self.space("bob-JupyterLab-space"))
        self.assertIsNone(self.profile("bob"))
        # Nothing of alice's was touched.
        self.assertEqual(self.profile("alice")["Status"], "InService")
        self.assertEqual(self.space("alice-JupyterLab-space")["Status"], "InService")
        self.assertConverged()

    def test_6_broken_manifest_deletes_nothing(self):
        path = os.path.join(self.mdir, "alice.yaml")
        with open(path, "a", encoding="utf-8") as f:
            f.write("instance_tpye: ml.t3.large\n")
        before = self.calls()
        p = self.once()
        # Her last good content stays in force: nothing to do at all.
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertRegex(p.stderr, re.escape(path) + r":\d+:\d+: ")
        self.assertEqual(mutating(diff_calls(before, self.calls())), {})
        self.assertEqual(self.profile("alice")["Status"], "InService")
        self.assertEqual(self.space("alice-JupyterLab-space")["Status"], "InService")

    def test_7_usage_and_config_errors_exit_1(self):
        # Without --once smstudiod is the daemon (tests/integration/test_daemon.py);
        # here only the argument errors, which exit before anything runs.
        p = subprocess.run([SMSTUDIOD, "--no-such-option"], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(p.returncode, 1)
        self.assertIn("Usage: smstudiod", p.stderr)
        p = subprocess.run([SMSTUDIOD, "--once", "stray-argument"], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(p.returncode, 1)
        self.assertIn("unexpected argument 'stray-argument'", p.stderr)
        bad = os.path.join(self.tmp, "bad.yaml")
        with open(bad, "w", encoding="utf-8") as f:
            f.write("region: us-east-1\nintervall: 5m\n")
        p = subprocess.run([SMSTUDIOD, "--once", "--config", bad], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(p.returncode, 1)
        self.assertRegex(p.stderr, re.escape(bad) + r":2:1: ")
        p = subprocess.run([SMSTUDIOD, "--once", "--config", bad + ".missing"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 1)
        # A domain wants a lifecycle config and the script is not there:
        # a configuration error naming the key and the path, before any call.
        with open(self.config, encoding="utf-8") as f:
            text = f.read()
        missing = os.path.join(self.tmp, "no-such-script.sh")
        with open(bad, "w", encoding="utf-8") as f:
            f.write(text.replace(os.path.abspath(LIFECYCLE_SCRIPT), missing))
        before = self.calls()
        p = self.once_with(bad)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("lifecycle_script %s cannot be used: No such file or directory" % missing,
                      p.stderr)
        self.assertIn("domain mlops-studio sets server_lifecycle_name", p.stderr)
        self.assertEqual(diff_calls(before, self.calls()), {})


if __name__ == "__main__":
    unittest.main()
