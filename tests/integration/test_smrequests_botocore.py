# SPDX-License-Identifier: Apache-2.0
"""Every SageMaker request src/reconcile/smrequests.c builds, checked
against botocore's model of the API, then sent to the emulator.

tests/tools/smrequests-dump prints the requests for the shipped estate
(config/smstudio.d) in three variants: as written (IAM), in SSO mode, and
with every optional setting. Each must pass botocore's ParamValidator for
its operation's input shape (types, required members, minimums) and the
model's constraints botocore leaves to the service (enums, maximum
lengths, patterns). Then each variant is replayed against awsemu with
boto3 in dependency order (lifecycle config, domain, profiles, spaces,
MLflow, then the updates): every call must succeed, and sm_request_diff() of each
request against the emulator's Describe output afterwards must be empty
(a second pass would change nothing)."""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import botocore.session
from botocore import xform_name
from botocore.validate import ParamValidator

SOURCE_ROOT = os.environ.get("SM_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
DUMP = os.environ.get("SMREQUESTS_DUMP")
MANIFESTS = os.path.join(SOURCE_ROOT, "config", "smstudio.d")

ALL_OPERATIONS = {
    "CreateStudioLifecycleConfig", "CreateDomain", "UpdateDomain", "CreateUserProfile",
    "UpdateUserProfile", "CreateSpace", "UpdateSpace", "CreateMlflowTrackingServer",
    "UpdateMlflowTrackingServer", "AddTags",
}


def dump():
    out = subprocess.run([DUMP, MANIFESTS], check=True, capture_output=True, text=True,
                         timeout=60)
    return [json.loads(line) for line in out.stdout.splitlines()]


# Unicode classes of the model's patterns that Python's re lacks, narrowed
# to what they mean for the ASCII-and-Latin values we send.
UNICODE_CLASSES = {r"\p{L}": "a-zA-Z\u00c0-\u024f", r"\p{Z}": " \u00a0", r"\p{N}": "0-9"}


def model_pattern(pattern):
    for cls, chars in UNICODE_CLASSES.items():
        pattern = pattern.replace(cls, chars)
    return pattern


def constraint_errors(value, shape, path="params"):
    """What botocore's validator does not check: enums, max, patterns."""
    errors = []
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure":
        for key, member in value.items():
            errors += constraint_errors(member, shape.members[key], path + "." + key)
    elif kind == "list":
        if "max" in meta and len(value) > meta["max"]:
            errors.append("%s: %d items, max %d" % (path, len(value), meta["max"]))
        for i, item in enumerate(value):
            errors += constraint_errors(item, shape.member, "%s[%d]" % (path, i))
    elif kind == "string":
        if shape.enum and value not in shape.enum:
            errors.append("%s: %r not in %s" % (path, value, shape.enum))
        if "max" in meta and len(value) > meta["max"]:
            errors.append("%s: %d characters, max %d" % (path, len(value), meta["max"]))
        if "pattern" in meta and not re.fullmatch(model_pattern(meta["pattern"]), value):
            errors.append("%s: %r does not match %s" % (path, value, meta["pattern"]))
    elif kind in ("integer", "long"):
        if "max" in meta and value > meta["max"]:
            errors.append("%s: %d over max %d" % (path, value, meta["max"]))
    return errors


@unittest.skipUnless(DUMP, "SMREQUESTS_DUMP not set (run through meson test)")
class BotocoreShapes(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.model = botocore.session.get_session().get_service_model("sagemaker")
        cls.requests = dump()

    def test_every_request_is_valid(self):
        validator = ParamValidator()
        self.assertGreater(len(self.requests), 20)
        for req in self.requests:
            shape = self.model.operation_model(req["operation"]).input_shape
            with self.subTest(variant=req["variant"], operation=req["operation"]):
                report = validator.validate(req["params"], shape)
                self.assertFalse(report.has_errors(), report.generate_report())
                self.assertEqual(constraint_errors(req["params"], shape), [])

    def test_coverage(self):
        seen = {}
        for req in self.requests:
            seen.setdefault(req["variant"], set()).add(req["operation"])
        self.assertEqual(set(seen), {"iam", "sso", "full"})
        for variant, ops in seen.items():
            self.assertEqual(ops, ALL_OPERATIONS, variant)

    def test_sso_identity_only_in_sso(self):
        for req in self.requests:
            if req["operation"] != "CreateUserProfile":
                continue
            params = req["params"]
            if req["variant"] == "iam":
                self.assertNotIn("SingleSignOnUserIdentifier", params)
                self.assertNotIn("SingleSignOnUserValue", params)
            else:
                self.assertEqual(params["SingleSignOnUserIdentifier"], "UserName")
                self.assertEqual(params["SingleSignOnUserValue"], params["UserProfileName"])

    def test_artifact_uri_joined_once(self):
        uris = {r["params"]["ArtifactStoreUri"] for r in self.requests
                if r["operation"] == "CreateMlflowTrackingServer"}
        self.assertIn("s3://mlops-studio-artifacts/mlflow/", uris)
        for uri in uris:
            self.assertNotIn("//", uri[len("s3://"):])

    def test_diff_mode_reports(self):
        # The --diff mode the emulator check relies on does report drift.
        create = next(r["params"] for r in self.requests
                      if r["operation"] == "CreateSpace" and r["variant"] == "iam")
        observed = json.loads(json.dumps(create))
        observed["SpaceSettings"]["AppType"] = "CodeEditor"
        line = json.dumps({"request": create, "observed": observed}) + "\n"
        out = subprocess.run([DUMP, "--diff"], input=line, check=True, capture_output=True,
                             text=True, timeout=60)
        self.assertEqual(json.loads(out.stdout)["diffs"], [{
            "path": "SpaceSettings.AppType", "observed": "CodeEditor",
            "desired": "JupyterLab", "immutable": True}])


@unittest.skipUnless(DUMP, "SMREQUESTS_DUMP not set (run through meson test)")
class EmulatorAccepts(unittest.TestCase):
    """The requests, replayed against awsemu, all succeed."""

    @classmethod
    def setUpClass(cls):
        emulator_dir = os.path.join(SOURCE_ROOT, "tests", "emulator")
        sys.path.insert(0, emulator_dir)
        import emutest  # noqa: E402

        cls.emutest = emutest
        cls.tmp = tempfile.mkdtemp(prefix="smrequests-")
        cls.emu = emutest.Awsemu(cls.tmp)
        cls.requests = dump()

    @classmethod
    def tearDownClass(cls):
        code = cls.emu.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        assert code == 0, "awsemu exit status %r" % code

    def client(self):
        import boto3
        from botocore.config import Config

        return boto3.client(
            "sagemaker", endpoint_url=self.emu.url, region_name=self.emutest.REGION,
            aws_access_key_id=self.emutest.DEFAULT_AKID,
            aws_secret_access_key=self.emutest.DEFAULT_SECRET,
            config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))

    def replay(self, variant):
        import urllib.request

        urllib.request.urlopen(urllib.request.Request(
            self.emu.url + "/_emu/reset", method="POST", data=b""), timeout=10).read()
        sm = self.client()
        reqs = [r for r in self.requests if r["variant"] == variant]
        order = ["CreateStudioLifecycleConfig", "CreateDomain", "CreateUserProfile",
                 "CreateSpace", "CreateMlflowTrackingServer", "AddTags", "UpdateDomain",
                 "UpdateUserProfile", "UpdateSpace", "UpdateMlflowTrackingServer"]
        lcc_arns = {}
        domain = {}
        sent = []
        for op in order:
            for req in (r for r in reqs if r["operation"] == op):
                params = json.loads(json.dumps(req["params"]))
                if "DomainId" in params:
                    params["DomainId"] = domain["DomainId"]
                if op == "AddTags":
                    params["ResourceArn"] = domain["DomainArn"]
                if op in ("CreateDomain", "UpdateDomain"):
                    # The dump made up the lifecycle config ARN; use the real one.
                    jl = params["DefaultUserSettings"].get("JupyterLabAppSettings", {})
                    if "LifecycleConfigArns" in jl:
                        arn = lcc_arns[jl["LifecycleConfigArns"][0].rsplit("/", 1)[1]]
                        jl["LifecycleConfigArns"] = [arn]
                        jl["DefaultResourceSpec"]["LifecycleConfigArn"] = arn
                with self.subTest(variant=variant, operation=op):
                    out = getattr(sm, xform_name(op))(**params)
                sent.append((op, params))
                if op == "CreateStudioLifecycleConfig":
                    lcc_arns[params["StudioLifecycleConfigName"]] = \
                        out["StudioLifecycleConfigArn"]
                if op == "CreateDomain":
                    domain = {"DomainId": out["DomainId"], "DomainArn": out["DomainArn"]}
                    self.emutest.wait_for(
                        lambda: sm.describe_domain(DomainId=domain["DomainId"])["Status"]
                        == "InService", what="domain InService")
                if op == "CreateMlflowTrackingServer":
                    name = params["TrackingServerName"]
                    self.emutest.wait_for(
                        lambda: sm.describe_mlflow_tracking_server(TrackingServerName=name)[
                            "TrackingServerStatus"] == "Created", what="MLflow Created")
        self.assert_no_diff(sm, sent, domain)
        return sm, domain

    def assert_no_diff(self, sm, sent, domain):
        """What was sent shows no diff in what Describe answers now: the
        next pass would make no call."""
        describe = {
            "StudioLifecycleConfig": ("describe_studio_lifecycle_config",
                                      ["StudioLifecycleConfigName"]),
            "Domain": ("describe_domain", ["DomainId"]),
            "UserProfile": ("describe_user_profile", ["DomainId", "UserProfileName"]),
            "Space": ("describe_space", ["DomainId", "SpaceName"]),
            "MlflowTrackingServer": ("describe_mlflow_tracking_server",
                                     ["TrackingServerName"]),
        }
        pairs = []
        for op, params in sent:
            kind = re.sub(r"^(Create|Update)", "", op)
            if kind not in describe:
                continue
            method, keys = describe[kind]
            observed = getattr(sm, method)(**{k: params.get(k, domain.get(k)) for k in keys})
            observed.pop("ResponseMetadata", None)
            pairs.append((op, {"request": params, "observed": observed}))
        stdin = "".join(json.dumps(p, default=str) + "\n" for _, p in pairs)
        out = subprocess.run([DUMP, "--diff"], input=stdin, check=True, capture_output=True,
                             text=True, timeout=60)
        results = [json.loads(line) for line in out.stdout.splitlines()]
        self.assertEqual(len(results), len(pairs))
        for (op, pair), result in zip(pairs, results):
            with self.subTest(operation=op):
                self.assertEqual(result["diffs"], [], pair)

    def test_iam(self):
        sm, domain = self.replay("iam")
        desc = sm.describe_domain(DomainId=domain["DomainId"])
        self.assertEqual(desc["AuthMode"], "IAM")
        self.assertEqual(desc["AppNetworkAccessType"], "VpcOnly")
        spaces = sm.list_spaces(DomainIdEquals=domain["DomainId"])["Spaces"]
        self.assertEqual(len(spaces), 2)

    def test_sso(self):
        sm, domain = self.replay("sso")
        profile = sm.describe_user_profile(DomainId=domain["DomainId"], UserProfileName="alice")
        self.assertEqual(profile["SingleSignOnUserValue"], "alice")

    def test_full(self):
        self.replay("full")


if __name__ == "__main__":
    unittest.main()
