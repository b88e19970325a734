# SPDX-License-Identifier: Apache-2.0
"""Reconcile engine scenarios of issue 5, each on a fresh emulator state:
`smstudiod --once` against tests/emulator/awsemu, asserting the
emulator's state and its call counters, never only the daemon's own
account of what it did. test_once.py walks the example estate step by
step; here each scenario stands alone: a user added by dropping a file,
a user removed while she has a running app, drift repaired, an unmanaged
profile reported and left alone, the deletion guard, throttling and 5xx
storms, SSO mode and kill -9 in the middle of a 200-user greenfield;
the Studio lifecycle config created, replaced when its script changes
and detached when the manifest drops it; a profile and a space whose
creation failed, deleted and created again.

Two scenarios are expected failures because of one engine bug (tags
applied with AddTags are never re-read, so the AddTags repeats every
round): adoption with `adopt: true`, and domain tag drift repaired."""

import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest
import urllib.request

from test_once import (ACCOUNT, DOMAIN, LIFECYCLE_SCRIPT, SMSTUDIOD, SUMMARY_RE, diff_calls,
                       mutating, role_arn)

SOURCE_ROOT = os.environ.get("SM_SOURCE_ROOT",
                             os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(SOURCE_ROOT, "tests", "emulator"))
from emutest import REGION, Awsemu, wait_for  # noqa: E402

TAG = "smstudio:managed-by"

# A smaller estate than the example's: no MLflow, no projects, so each
# scenario's greenfield pass is quick; the example estate is test_once's.
DOMAIN_YAML = """kind: Domain
name: mlops-studio
vpc_id: vpc-0a1b2c3d4e5f60718
subnet_ids:
  - subnet-0123456789abcdef0
  - subnet-0fedcba9876543210
auth_mode: %(auth)s
studio_bucket_name: mlops-studio-bucket
enable_custom_sagemaker_projects: false
enable_jupyterlab_app: true
jupyterlab_app_instance_type: ml.t3.medium
mlflow_enabled: false
tags:
  team: mlops
"""


def user_yaml(name, group="data_science_users", extra=""):
    return "kind: User\nname: %s\ngroup: %s\n%s" % (name, group, extra)


class EngineCase(unittest.TestCase):
    """One emulator for the class, reset before each test; each test has
    its own manifest directory and state_dir."""

    AUTH = "IAM"

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="smstudio-engine-")
        os.chmod(cls.tmp, 0o755)
        cls.emu = Awsemu(cls.tmp, "--async-delay-ms", "100")
        cls.home = os.path.join(cls.tmp, "home")
        os.mkdir(cls.home)

    @classmethod
    def tearDownClass(cls):
        code = cls.emu.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        assert code == 0, "awsemu exit status %r on SIGTERM" % code

    def setUp(self):
        self.admin("POST", "/_emu/reset")
        self.dir = tempfile.mkdtemp(prefix=self._testMethodName + "-", dir=self.tmp)
        os.chmod(self.dir, 0o755)
        self.mdir = os.path.join(self.dir, "smstudio.d")
        os.mkdir(self.mdir)
        os.chmod(self.mdir, 0o755)
        self.config = os.path.join(self.dir, "smstudiod.yaml")
        with open(self.config, "w", encoding="utf-8") as f:
            f.write("region: us-east-1\nmanifest_dir: %s\nstate_dir: %s\nendpoints:\n"
                    % (self.mdir, os.path.join(self.dir, "state")))
            for service in ("sagemaker", "iam", "sts", "servicecatalog"):
                f.write("  %s: %s\n" % (service, self.emu.url))
        self.write("00-domain.yaml", DOMAIN_YAML % {"auth": self.AUTH})

    # -- helpers -----------------------------------------------------------

    def write(self, name, text):
        path = os.path.join(self.mdir, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(path, 0o644)

    def admin(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else (
            b"" if method in ("POST", "DELETE") else None)
        req = urllib.request.Request(self.emu.url + path, method=method, data=data)
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def oob(self, service, op, params):
        """An out-of-band call (no counters move); fails the test on an
        AWS error."""
        out = self.admin("POST", "/_emu/call/%s/%s" % (service, op), params)
        self.assertNotIn("__type", out, "%s:%s %r" % (service, op, out))
        return out

    def calls(self):
        return self.admin("GET", "/_emu/calls")

    def state(self):
        return self.admin("GET", "/_emu/state")["services"]

    def sagemaker(self):
        return self.state()["sagemaker"]

    def env(self):
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
        return env

    def once(self, *args, timeout=180):
        p = subprocess.run([SMSTUDIOD, "--once", "--config", self.config] + list(args),
                           capture_output=True, text=True, timeout=timeout, env=self.env())
        self.assertRegex(p.stdout, SUMMARY_RE, p.stdout + p.stderr)
        return p

    def once_counted(self, *args, code=2, timeout=180):
        """A pass that must exit with code; (process, calls it made)."""
        before = self.calls()
        p = self.once(*args, timeout=timeout)
        self.assertEqual(p.returncode, code, p.stdout + p.stderr)
        return p, diff_calls(before, self.calls())

    def assertConverged(self):
        p, used = self.once_counted(code=0)
        self.assertIn(" 0 changes, 0 failures", p.stdout)
        self.assertEqual(mutating(used), {}, p.stdout)

    def domain(self):
        found = [d for d in self.sagemaker()["domains"].values() if d["DomainName"] == DOMAIN]
        self.assertEqual(len(found), 1, "exactly one domain %s" % DOMAIN)
        return found[0]

    def profiles(self):
        return {p["UserProfileName"]: p for p in self.sagemaker()["user_profiles"].values()}

    def spaces(self):
        return {s["SpaceName"]: s for s in self.sagemaker()["spaces"].values()}

    def tags(self, arn):
        return self.sagemaker()["tags"].get(arn, {})

    def lifecycle_configs(self):
        return {c["StudioLifecycleConfigName"]: c
                for c in self.sagemaker()["studio_lifecycle_configs"].values()}

    def patch(self, path, value):
        self.admin("POST", "/_emu/patch", {"service": "sagemaker", "path": path, "value": value})

    def greenfield(self, *users):
        for u in users:
            self.write("%s.yaml" % u, user_yaml(u))
        p, used = self.once_counted()
        self.assertIn(" 0 failures", p.stdout, p.stdout + p.stderr)
        want = sorted(n[:-5] for n in os.listdir(self.mdir) if not n.startswith("00-"))
        self.assertEqual(sorted(self.profiles()), want)
        return used


class EngineTest(EngineCase):

    def test_user_added_by_dropping_a_file(self):
        self.greenfield("alice")
        self.assertConverged()
        self.write("carol.yaml", user_yaml("carol", "lead_data_science_users"))
        p, used = self.once_counted()
        self.assertIn("+ user-profile/mlops-studio/carol", p.stdout)
        self.assertEqual(mutating(used), {"sagemaker:CreateUserProfile": 1,
                                          "sagemaker:CreateSpace": 1}, p.stdout)
        carol = self.profiles()["carol"]
        self.assertEqual(carol["Status"], "InService")
        self.assertEqual(carol["UserSettings"]["ExecutionRole"], role_arn("lead-data-scientist"))
        self.assertEqual(self.tags(carol["UserProfileArn"]).get(TAG), "smstudio")
        space = self.spaces()["carol-JupyterLab-space"]
        self.assertEqual(space["Status"], "InService")
        self.assertEqual(space["OwnershipSettings"]["OwnerUserProfileName"], "carol")
        self.assertConverged()

    def test_user_removed_with_running_app_and_private_space(self):
        self.greenfield("alice", "bob")
        domain_id = self.domain()["DomainId"]
        space = "bob-JupyterLab-space"
        self.oob("sagemaker", "CreateApp", {"DomainId": domain_id, "SpaceName": space,
                                             "AppType": "JupyterLab", "AppName": "default"})

        def app_status():
            a = self.oob("sagemaker", "DescribeApp", {
                "DomainId": domain_id, "SpaceName": space, "AppType": "JupyterLab",
                "AppName": "default"})
            return a["Status"] == "InService" and a
        wait_for(app_status, what="bob's app to be InService")

        os.unlink(os.path.join(self.mdir, "bob.yaml"))
        before = self.admin("GET", "/_emu/calls?detail=1")
        p, used = self.once_counted()
        self.assertNotIn("deletion guard", p.stdout)
        self.assertEqual(mutating(used), {"sagemaker:DeleteApp": 1, "sagemaker:DeleteSpace": 1,
                                          "sagemaker:DeleteUserProfile": 1}, p.stdout)
        # The order AWS insists on: no call answered ResourceInUse, which
        # it would for a space with a live app or a profile with a space.
        after = self.admin("GET", "/_emu/calls?detail=1")
        for op in ("sagemaker:DeleteApp", "sagemaker:DeleteSpace", "sagemaker:DeleteUserProfile"):
            self.assertEqual(after[op]["error"] - before.get(op, {}).get("error", 0), 0,
                             (op, after[op]))
        sm = self.sagemaker()
        apps = [a for a in sm["apps"].values() if a.get("SpaceName") == space]
        self.assertTrue(all(a["Status"] == "Deleted" for a in apps), apps)
        self.assertNotIn(space, self.spaces())
        self.assertNotIn("bob", self.profiles())
        self.assertEqual(self.profiles()["alice"]["Status"], "InService")
        self.assertEqual(self.spaces()["alice-JupyterLab-space"]["Status"], "InService")
        self.assertConverged()

    def test_drift_is_repaired(self):
        self.greenfield("alice")
        domain = self.domain()
        roles = self.state()["iam"]["roles"]
        ds = roles["%s.data-scientist" % DOMAIN]
        policy_name = sorted(ds["InlinePolicies"])[0]
        original_doc = ds["InlinePolicies"][policy_name]
        if isinstance(original_doc, str):
            original_doc = json.loads(original_doc)

        # Execution role swapped, an inline policy rewritten, tags removed.
        self.oob("sagemaker", "UpdateUserProfile", {
            "DomainId": domain["DomainId"], "UserProfileName": "alice",
            "UserSettings": {"ExecutionRole": role_arn("lead-data-scientist")}})
        self.oob("iam", "PutRolePolicy", {
            "RoleName": "%s.data-scientist" % DOMAIN, "PolicyName": policy_name,
            "PolicyDocument": json.dumps({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})})
        self.oob("iam", "UntagRole", {"RoleName": "%s.sagemaker-execution" % DOMAIN,
                                      "TagKeys": ["team"]})
        wait_for(lambda: self.oob("sagemaker", "DescribeUserProfile", {
            "DomainId": domain["DomainId"], "UserProfileName": "alice"})["Status"] == "InService",
            what="the out-of-band update to settle")

        p, used = self.once_counted()
        m = mutating(used)
        self.assertEqual(m.get("sagemaker:UpdateUserProfile"), 1, p.stdout)
        self.assertEqual(m.get("iam:PutRolePolicy"), 1, p.stdout)
        self.assertEqual(m.get("iam:TagRole"), 1, p.stdout)
        self.assertEqual(self.profiles()["alice"]["UserSettings"]["ExecutionRole"],
                         role_arn("data-scientist"))
        doc = self.state()["iam"]["roles"]["%s.data-scientist" % DOMAIN][
            "InlinePolicies"][policy_name]
        self.assertEqual(json.loads(doc) if isinstance(doc, str) else doc, original_doc)
        self.assertIn({"Key": "team", "Value": "mlops"},
                      self.state()["iam"]["roles"]["%s.sagemaker-execution" % DOMAIN]["Tags"])
        self.assertEqual(len(m), 3, m)
        self.assertConverged()

    def test_domain_tag_drift_repaired_when_described(self):
        # SageMaker tag calls do not move LastModifiedTime, so the
        # List-first observation cannot see a removed tag; a Describe does.
        # This pass starts without the observed cache, as a daemon with a
        # fresh state_dir would.
        self.greenfield("alice")
        domain = self.domain()
        self.oob("sagemaker", "DeleteTags", {"ResourceArn": domain["DomainArn"],
                                             "TagKeys": ["team"]})
        self.assertNotIn("team", self.tags(domain["DomainArn"]))
        shutil.rmtree(os.path.join(self.dir, "state"))
        p, used = self.once_counted()
        self.assertEqual(mutating(used), {"sagemaker:AddTags": 1}, p.stdout)
        self.assertEqual(self.tags(domain["DomainArn"]).get("team"), "mlops")
        self.assertEqual(self.tags(domain["DomainArn"]).get(TAG), "smstudio")
        self.assertConverged()

    def test_describe_sweep_finds_tag_drift(self):
        # With a warm cache only the periodic full sweep (every
        # describe_sweep_every passes) reads tags again: a removed tag is
        # invisible to a normal pass and repaired by the sweep pass.
        with open(self.config, "a", encoding="utf-8") as f:
            f.write("describe_sweep_every: 3\n")
        self.greenfield("alice")          # pass 1
        domain = self.domain()
        self.oob("sagemaker", "DeleteTags", {"ResourceArn": domain["DomainArn"],
                                             "TagKeys": ["team"]})
        p, used = self.once_counted(code=0)  # pass 2: cache warm, no sweep
        self.assertEqual(mutating(used), {}, p.stdout)
        self.assertNotIn("team", self.tags(domain["DomainArn"]))
        p, used = self.once_counted()     # pass 3: the sweep
        self.assertEqual(mutating(used), {"sagemaker:AddTags": 1}, p.stdout)
        self.assertEqual(self.tags(domain["DomainArn"]).get("team"), "mlops")

    def foreign_alice(self):
        """The domain converged, then a profile alice made by someone else
        (untagged, another execution role); returns that role."""
        self.once_counted()
        domain = self.domain()
        foreign_role = "arn:aws:iam::%s:role/someone-elses-role" % ACCOUNT
        self.oob("sagemaker", "CreateUserProfile", {
            "DomainId": domain["DomainId"], "UserProfileName": "alice",
            "UserSettings": {"ExecutionRole": foreign_role}})
        wait_for(lambda: self.oob("sagemaker", "DescribeUserProfile", {
            "DomainId": domain["DomainId"], "UserProfileName": "alice"})["Status"] == "InService",
            what="the foreign profile to be InService")
        return foreign_role

    def test_unmanaged_profile_is_a_conflict_left_alone(self):
        foreign_role = self.foreign_alice()
        self.write("alice.yaml", user_yaml("alice"))
        # A conflict is a failure: exit 4, and not a single mutating call.
        p, used = self.once_counted(code=4)
        self.assertRegex(p.stdout, r"user-profile/mlops-studio/alice .*adopt: true")
        self.assertIn(" 0 changes, 1 failures", p.stdout)
        self.assertEqual(mutating(used), {}, p.stdout)
        alice = self.profiles()["alice"]
        self.assertEqual(alice["UserSettings"]["ExecutionRole"], foreign_role)
        self.assertNotIn(TAG, self.tags(alice["UserProfileArn"]))
        self.assertNotIn("alice-JupyterLab-space", self.spaces())

    def test_unmanaged_profile_adopted_with_adopt_true(self):
        self.foreign_alice()
        self.write("alice.yaml", user_yaml("alice", extra="adopt: true\n"))
        p, used = self.once_counted()
        m = mutating(used)
        self.assertEqual(m.get("sagemaker:AddTags"), 1, p.stdout)
        self.assertEqual(m.get("sagemaker:UpdateUserProfile"), 1, p.stdout)
        self.assertEqual(m.get("sagemaker:CreateSpace"), 1, p.stdout)
        self.assertNotIn("sagemaker:CreateUserProfile", m)
        alice = self.profiles()["alice"]
        self.assertEqual(self.tags(alice["UserProfileArn"]).get(TAG), "smstudio")
        self.assertEqual(alice["UserSettings"]["ExecutionRole"], role_arn("data-scientist"))
        self.assertConverged()

    def test_deletion_guard_trips_on_an_emptied_directory(self):
        users = ["alice", "bob", "u1", "u2", "u3", "u4", "u5"]
        self.greenfield(*users)
        for u in users:
            os.unlink(os.path.join(self.mdir, "%s.yaml" % u))
        p, used = self.once_counted(code=0)
        self.assertIn("deletion guard tripped: 7 of 7 user profiles", p.stdout)
        self.assertEqual(mutating(used), {}, p.stdout)
        self.assertEqual(sorted(self.profiles()), sorted(users))

        p, used = self.once_counted("--approve-deletions")
        m = mutating(used)
        self.assertEqual(m.get("sagemaker:DeleteUserProfile"), 7, p.stdout)
        self.assertEqual(m.get("sagemaker:DeleteSpace"), 7, p.stdout)
        self.assertEqual(self.profiles(), {})
        self.assertEqual(self.spaces(), {})
        self.assertEqual(len(self.sagemaker()["domains"]), 1)
        self.assertConverged()

    def test_throttling_and_5xx_storms_still_converge(self):
        users = ("alice", "bob")
        for u in users:
            self.write("%s.yaml" % u, user_yaml(u))
        self.admin("POST", "/_emu/faults", [
            {"operation": "*", "kind": "throttle", "rate": 0.3},
            {"operation": "*", "kind": "error5xx", "rate": 0.1}])
        spaces = sorted("%s-JupyterLab-space" % u for u in users)

        def done():
            return (sorted(self.profiles()) == sorted(users) and sorted(self.spaces()) == spaces
                    and len(self.state()["iam"]["roles"]) == 3)
        # Transient errors may leave work for a further pass (a List that
        # stays throttled through the client's retries ends the pass).
        for _ in range(5):
            p = self.once(timeout=240)
            self.assertIn(p.returncode, (0, 2, 4, 6), p.stdout + p.stderr)
            if done():
                break
        self.assertTrue(done(), p.stdout + p.stderr)
        faults = self.admin("GET", "/_emu/faults")
        self.admin("DELETE", "/_emu/faults")
        self.assertTrue(all(f["injected"] for f in faults), faults)
        # Whatever the storm left (a role policy, a wait) is finished now.
        p = self.once()
        self.assertIn(p.returncode, (0, 2), p.stdout + p.stderr)
        self.assertConverged()
        # No duplicate: each create succeeded exactly once, whatever was
        # retried; the faults reached the creates too.
        detail = self.admin("GET", "/_emu/calls?detail=1")
        ok = {op: d["ok"] for op, d in detail.items() if ":Create" in op}
        self.assertEqual(ok, {"iam:CreateRole": 3, "sagemaker:CreateDomain": 1,
                              "sagemaker:CreateUserProfile": 2, "sagemaker:CreateSpace": 2},
                         detail)
        self.assertGreater(sum(d["throttled"] for d in detail.values()), 0)
        self.assertGreater(sum(d["error"] for d in detail.values()), 0)
        self.assertEqual(len(self.sagemaker()["domains"]), 1)


class LifecycleConfigTest(EngineCase):

    def jupyterlab(self):
        return self.domain()["DefaultUserSettings"].get("JupyterLabAppSettings", {})

    def test_created_replaced_when_the_script_changes_and_detached(self):
        script = os.path.join(self.dir, "idle-shutdown.sh")
        shutil.copyfile(LIFECYCLE_SCRIPT, script)
        with open(self.config, "a", encoding="utf-8") as f:
            f.write("lifecycle_script: %s\n" % script)
        self.write("00-domain.yaml", DOMAIN_YAML % {"auth": self.AUTH}
                   + "server_lifecycle_name: studio-auto-shutdown\n")
        used = self.greenfield("alice")
        self.assertEqual(used.get("sagemaker:CreateStudioLifecycleConfig"), 1, used)
        (old_name, old), = self.lifecycle_configs().items()
        self.assertRegex(old_name, r"^studio-auto-shutdown-[0-9a-f]{8}$")
        self.assertEqual(self.tags(old["StudioLifecycleConfigArn"]).get(TAG), "smstudio")
        self.assertEqual(self.tags(old["StudioLifecycleConfigArn"]).get("team"), "mlops")
        self.assertEqual(self.jupyterlab()["LifecycleConfigArns"], [old["StudioLifecycleConfigArn"]])
        self.assertEqual(self.jupyterlab()["DefaultResourceSpec"]["LifecycleConfigArn"],
                         old["StudioLifecycleConfigArn"])
        self.assertConverged()

        # A changed script is a new config: created, the domain moved onto
        # it, then the old one deleted, never while the domain named it.
        with open(script, "a", encoding="utf-8") as f:
            f.write("# tuned\n")
        before = self.admin("GET", "/_emu/calls?detail=1")
        p, used = self.once_counted()
        self.assertEqual(mutating(used), {"sagemaker:CreateStudioLifecycleConfig": 1,
                                          "sagemaker:UpdateDomain": 1,
                                          "sagemaker:DeleteStudioLifecycleConfig": 1}, p.stdout)
        after = self.admin("GET", "/_emu/calls?detail=1")
        op = "sagemaker:DeleteStudioLifecycleConfig"
        self.assertEqual(after[op]["error"] - before.get(op, {}).get("error", 0), 0, after[op])
        (new_name, new), = self.lifecycle_configs().items()
        self.assertNotEqual(new_name, old_name)
        self.assertTrue(new_name.startswith("studio-auto-shutdown-"))
        with open(script, "rb") as f:
            self.assertEqual(base64.b64decode(new["StudioLifecycleConfigContent"]), f.read())
        self.assertEqual(self.jupyterlab()["LifecycleConfigArns"], [new["StudioLifecycleConfigArn"]])
        self.assertEqual(self.jupyterlab()["DefaultResourceSpec"]["LifecycleConfigArn"],
                         new["StudioLifecycleConfigArn"])
        self.assertConverged()

        # Unset: the domain's JupyterLab list emptied, as AWS documents
        # detaching. The emulator merges DefaultResourceSpec, so the domain
        # still names the config there, and it is kept, reported as in use.
        self.write("00-domain.yaml", DOMAIN_YAML % {"auth": self.AUTH})
        p, used = self.once_counted()
        self.assertEqual(mutating(used), {"sagemaker:UpdateDomain": 1}, p.stdout)
        self.assertEqual(self.jupyterlab()["LifecycleConfigArns"], [])
        self.assertIn("! lifecycle-config/%s  waiting: ours and no longer wanted, but "
                      "domain/mlops-studio still uses it" % new_name, p.stdout)
        self.assertEqual(list(self.lifecycle_configs()), [new_name])
        self.assertConverged()
        # Once nothing names it, the next pass deletes it.
        self.patch(["domains", self.domain()["DomainId"], "DefaultUserSettings",
                    "JupyterLabAppSettings", "DefaultResourceSpec"], {})
        p, used = self.once_counted()
        self.assertEqual(mutating(used), {"sagemaker:DeleteStudioLifecycleConfig": 1}, p.stdout)
        self.assertEqual(self.lifecycle_configs(), {})
        self.assertConverged()

    def test_missing_script_is_a_config_error_only_when_wanted(self):
        with open(self.config, "a", encoding="utf-8") as f:
            f.write("lifecycle_script: %s\n" % os.path.join(self.dir, "none.sh"))
        self.greenfield("alice")
        self.write("00-domain.yaml", DOMAIN_YAML % {"auth": self.AUTH}
                   + "server_lifecycle_name: studio-auto-shutdown\n")
        before = self.calls()
        p = subprocess.run([SMSTUDIOD, "--once", "--config", self.config], capture_output=True,
                           text=True, timeout=60, env=self.env())
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("lifecycle_script %s cannot be used" % os.path.join(self.dir, "none.sh"),
                      p.stderr)
        self.assertEqual(diff_calls(before, self.calls()), {})


class FailedStateTest(EngineCase):

    def test_failed_profile_and_space_are_deleted_and_created_again(self):
        # carol has no space of her own: a failed profile with a space
        # would only be reported (its space must go first).
        self.write("carol.yaml", user_yaml("carol", extra="space: false\n"))
        self.greenfield("alice")
        domain_id = self.domain()["DomainId"]
        for path, reason in ((["user_profiles", domain_id + "/carol"], "role not assumable"),
                             (["spaces", domain_id + "/alice-JupyterLab-space"], "no capacity")):
            self.patch(path + ["FailureReason"], reason)
            self.patch(path + ["Status"], "Failed")
        p, used = self.once_counted()
        self.assertIn("user profile is Failed: role not assumable; deleting it to create it "
                      "again", p.stdout)
        self.assertIn("space is Failed: no capacity; deleting it", p.stdout)
        self.assertEqual(mutating(used), {"sagemaker:DeleteUserProfile": 1,
                                          "sagemaker:DeleteSpace": 1,
                                          "sagemaker:CreateUserProfile": 1,
                                          "sagemaker:CreateSpace": 1}, p.stdout)
        self.assertIn(" 0 failures", p.stdout)
        carol = self.profiles()["carol"]
        space = self.spaces()["alice-JupyterLab-space"]
        for obj in (carol, space):
            self.assertEqual(obj["Status"], "InService")
            self.assertNotIn("FailureReason", obj)
        self.assertEqual(carol["UserSettings"]["ExecutionRole"], role_arn("data-scientist"))
        self.assertEqual(self.tags(space["SpaceArn"]).get(TAG), "smstudio")
        self.assertConverged()

    def test_failed_profile_owning_a_space_is_reported_only(self):
        self.greenfield("alice")
        path = ["user_profiles", self.domain()["DomainId"] + "/alice"]
        self.patch(path + ["FailureReason"], "role not assumable")
        self.patch(path + ["Status"], "Failed")
        p, used = self.once_counted(code=4)
        self.assertIn("not recreated while it has apps or spaces", p.stdout)
        self.assertEqual(mutating(used), {}, p.stdout)
        self.assertEqual(self.profiles()["alice"]["Status"], "Failed")


class RegionTest(EngineCase):

    def test_region_from_instance_metadata_when_none_is_configured(self):
        with open(self.config, encoding="utf-8") as f:
            text = f.read()
        self.assertIn("region: us-east-1\n", text)
        with open(self.config, "w", encoding="utf-8") as f:
            f.write(text.replace("region: us-east-1\n", ""))
        self.write("alice.yaml", user_yaml("alice"))

        # Instance metadata turned off: nothing to go on, a config error.
        p = subprocess.run([SMSTUDIOD, "--once", "--config", self.config], capture_output=True,
                           text=True, timeout=60, env=self.env())
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("no AWS region configured", p.stderr)
        self.assertEqual(mutating(self.calls()), {})

        # The emulator serves IMDSv2 on its own port, as EC2 would.
        env = self.env()
        env.pop("AWS_EC2_METADATA_DISABLED")
        env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = self.emu.url
        p = subprocess.run([SMSTUDIOD, "--once", "--config", self.config], capture_output=True,
                           text=True, timeout=180, env=env)
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn("AWS region %s, from EC2 instance metadata" % REGION, p.stderr)
        self.assertIn(":%s:" % REGION, self.domain()["DomainArn"])
        self.assertEqual(sorted(self.profiles()), ["alice"])


class SsoTest(EngineCase):
    AUTH = "SSO"

    def test_sso_profiles_carry_the_identity(self):
        self.write("bob.yaml", user_yaml("bob", extra="sso_user_value: bob@example.com\n"))
        self.greenfield("alice")
        self.assertEqual(self.domain()["AuthMode"], "SSO")
        profiles = self.profiles()
        self.assertEqual(profiles["alice"]["SingleSignOnUserIdentifier"], "UserName")
        self.assertEqual(profiles["alice"]["SingleSignOnUserValue"], "alice")
        self.assertEqual(profiles["bob"]["SingleSignOnUserValue"], "bob@example.com")
        self.assertConverged()


class KillTest(EngineCase):

    def test_kill_9_mid_greenfield_then_converge(self):
        users = ["user%03d" % i for i in range(200)]
        for u in users:
            self.write("%s.yaml" % u, user_yaml(u))
        # 100 ms per create: 200 of them at the default concurrency of 8
        # take seconds, so the kill lands in the middle of the pass.
        self.admin("POST", "/_emu/latency", {"operation": "sagemaker:CreateUserProfile",
                                             "fixed_ms": 100})
        proc = subprocess.Popen([SMSTUDIOD, "--once", "--config", self.config],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env=self.env())
        try:
            wait_for(lambda: self.calls().get("sagemaker:CreateUserProfile", 0) >= 10,
                     timeout=120, what="some CreateUserProfile calls")
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        self.assertEqual(proc.returncode, -signal.SIGKILL)
        self.admin("DELETE", "/_emu/latency")
        killed_at = len(self.profiles())
        self.assertGreater(killed_at, 0)
        self.assertLess(killed_at, 200, "the kill came too late to test anything")
        self.assertEqual(self.spaces(), {})

        p, used = self.once_counted(timeout=240)
        self.assertIn(" 0 failures", p.stdout, p.stdout + p.stderr)
        profiles = self.profiles()
        self.assertEqual(sorted(profiles), users)
        self.assertEqual(len(self.sagemaker()["user_profiles"]), 200)
        self.assertEqual(len(self.spaces()), 200)
        self.assertTrue(all(pr["Status"] == "InService" for pr in profiles.values()))
        self.assertEqual(len(self.sagemaker()["domains"]), 1)
        # No duplicate: each profile and space was created by exactly one
        # call that succeeded, across the killed pass and this one.
        detail = self.admin("GET", "/_emu/calls?detail=1")
        self.assertEqual(detail["sagemaker:CreateUserProfile"]["ok"], 200, detail)
        self.assertEqual(detail["sagemaker:CreateSpace"]["ok"], 200, detail)
        self.assertConverged()


if __name__ == "__main__":
    unittest.main()
