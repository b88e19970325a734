# SPDX-License-Identifier: Apache-2.0
"""IAM against moto_server (issue 5: "IAM also against moto_server").

`smstudiod --once` with the IAM endpoint on a moto server started in this
process on a kernel-picked port, and SageMaker, STS and Service Catalog on
tests/emulator/awsemu, as test_engine.py runs them (its EngineCase is
reused: emulator, manifest directory, daemon config, pass helpers). What
smstudio made is read back with boto3 from moto; moto counts no calls, so
its request recorder (/moto-api/recorder) tells which IAM calls a pass made.

Scenarios: a greenfield estate (four roles with path, boundary, trust,
managed and inline policies, tags), drift made directly in moto repaired
by one pass and nothing done by the next; roles of an earlier smstudio
with one inline policy per section of the original module upgraded to the
single main document; the isolation deny kept by a pass that cannot list
the domains.

Where moto differs from IAM (none of it hides a bug of ours):
- AWS managed policies exist only with MOTO_IAM_LOAD_MANAGED_POLICIES=true;
- it accepts a Sid that is not [A-Za-z0-9] and a role's inline policies
  over IAM's 10,240 characters (test-roles.c checks both limits instead).
Like IAM, it answers policy documents URL-encoded and GetRole with the
role's tags, so the observer's paths are the ones AWS takes."""

import base64
import json
import logging
import os
import shutil
import unittest
import urllib.parse
import urllib.request

import test_engine as engine
from test_once import ACCOUNT, DOMAIN, mutating

PATH = "/smstudio/"
BOUNDARY = "DataScienceBoundary"
BOUNDARY_ARN = "arn:aws:iam::%s:policy/%s" % (ACCOUNT, BOUNDARY)
TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"},
    "Action": "sts:AssumeRole"}]}
MANAGED = ["AWSCodeCommitReadOnly", "AWSLambda_ReadOnlyAccess",
           "AmazonEC2ContainerRegistryReadOnly", "AmazonSSMReadOnlyAccess",
           "AmazonSageMakerFullAccess"]
SERVICES = ("ServicesLambda,ServicesListTags,ServicesCodeCommit,ServicesEcr,"
            "ServicesServiceCatalog,ServicesCreateStack")
S3 = "S3ReadWrite,S3List,S3DenyDeleteBucket"
# Per role kind: managed policies, the Sids of the main document in order,
# whether it carries the isolation deny.
ROLES = {
    "data-scientist": (MANAGED, "SmDenyCreateProject,SmDenyUpdateModelPackage,%s,Kms,%s,Mlflow"
                       % (SERVICES, S3), True),
    "lead-data-scientist": (MANAGED + ["AWSCodeCommitPowerUser"],
                            "%s,Kms,%s,CdkDeployCloudFormation,CdkDeployPassRole,Mlflow"
                            % (SERVICES, S3), True),
    "sagemaker-execution": (MANAGED, "%s,Kms,%s,DescribeImageVersion,Mlflow" % (SERVICES, S3),
                            True),
    "mlflow": ([], "MlflowServerS3,MlflowServerModelRegistry", False),
}
MAIN = "smstudio-permissions"
ISOLATION = "smstudio-domain-isolation"
KMS = {"Sid": "Kms", "Effect": "Allow", "Action": [
    "kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:ReEncryptFrom",
    "kms:ReEncryptTo", "kms:GenerateDataKey"], "Resource": "*"}
READS = ("Get", "List")


def name(kind):
    return "%s.%s" % (DOMAIN, kind)


def doc(value):
    """A policy document as boto3 gives it: a dict, or text from a server
    that did not decode it."""
    if isinstance(value, str):
        return json.loads(urllib.parse.unquote(value))
    return value


class IamMotoTest(engine.EngineCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # moto reads both when first imported: nothing has imported it yet.
        os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
        os.environ["MOTO_RECORDER_FILEPATH"] = os.path.join(cls.tmp, "moto-recording")
        try:
            from moto.server import ThreadedMotoServer

            # werkzeug would log every request of every pass to stderr.
            logging.getLogger("werkzeug").setLevel(logging.ERROR)
            cls.moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            cls.moto.start()
        except BaseException:
            super().tearDownClass()
            raise
        cls.moto_url = "http://%s:%d" % cls.moto.get_host_and_port()

    @classmethod
    def tearDownClass(cls):
        cls.moto.stop()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.moto_admin("/moto-api/reset")
        self.moto_admin("/moto-api/recorder/reset-recording")
        self.moto_admin("/moto-api/recorder/start-recording")
        with open(self.config, encoding="utf-8") as f:
            text = f.read()
        iam_line = "  iam: %s\n" % self.emu.url
        self.assertIn(iam_line, text)
        with open(self.config, "w", encoding="utf-8") as f:
            f.write(text.replace(iam_line, "  iam: %s\n" % self.moto_url))
        # test_engine's domain with all four roles, a path and a boundary.
        domain = engine.DOMAIN_YAML % {"auth": "IAM"}
        self.assertIn("mlflow_enabled: false\n", domain)
        self.write("00-domain.yaml", domain.replace(
            "mlflow_enabled: false\n",
            "mlflow_enabled: true\nmlflow_artifact_store_bucket_name: mlops-studio-artifacts\n"
            "role_path: %s\npermissions_boundary: %s\n" % (PATH, BOUNDARY)))
        self.iam = self.client()
        self.iam.create_policy(PolicyName=BOUNDARY, PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))

    # -- helpers -----------------------------------------------------------

    def moto_admin(self, path):
        req = urllib.request.Request(self.moto_url + path, method="POST", data=b"")
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.read()

    def client(self):
        import boto3

        return boto3.client("iam", endpoint_url=self.moto_url, region_name="us-east-1",
                            aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="moto")

    def iam_calls(self):
        """Every IAM action moto answered since the recording started, in
        order (boto3's own calls in this test included)."""
        with urllib.request.urlopen(self.moto_url + "/moto-api/recorder/download-recording",
                                    timeout=10) as resp:
            lines = resp.read().decode().splitlines()
        actions = []
        for line in lines:
            entry = json.loads(line)
            body = entry.get("body") or ""
            if entry.get("body_encoded"):
                body = base64.b64decode(body).decode()
            actions.append(urllib.parse.parse_qs(body).get("Action", ["?"])[0])
        return actions

    def iam_mutations(self, since=0):
        """The IAM mutations moto answered since the since'th call, with
        their counts."""
        made = {}
        for action in self.iam_calls()[since:]:
            if not action.startswith(READS):
                made[action] = made.get(action, 0) + 1
        return made

    def iam_pass(self, code):
        """A pass that must exit with code; (process, the IAM mutations it
        made, the emulator calls it made)."""
        before = len(self.iam_calls())
        p, used = self.once_counted(code=code)
        return p, self.iam_mutations(before), used

    def assertConvergedEverywhere(self):
        """Nothing to do: no mutating call on the emulator, none on moto."""
        p, made, used = self.iam_pass(0)
        self.assertEqual(made, {}, p.stdout)
        self.assertEqual(mutating(used), {}, p.stdout)
        self.assertIn(" 0 changes, 0 failures", p.stdout)

    def role(self, kind):
        return self.iam.get_role(RoleName=name(kind))["Role"]

    def inline(self, kind):
        names = self.iam.list_role_policies(RoleName=name(kind))["PolicyNames"]
        return {n: doc(self.iam.get_role_policy(RoleName=name(kind), PolicyName=n)[
            "PolicyDocument"]) for n in names}

    def attached(self, kind):
        return sorted(p["PolicyName"] for p in self.iam.list_attached_role_policies(
            RoleName=name(kind))["AttachedPolicies"])

    def snapshot(self):
        """Everything smstudio keeps on the four roles, comparable with ==."""
        out = {}
        for kind in ROLES:
            r = self.role(kind)
            out[kind] = {
                "path": r["Path"], "trust": doc(r["AssumeRolePolicyDocument"]),
                "boundary": r.get("PermissionsBoundary", {}).get("PermissionsBoundaryArn"),
                "tags": {t["Key"]: t["Value"] for t in r.get("Tags", [])},
                "managed": self.attached(kind), "inline": self.inline(kind)}
        return out

    def assertEstate(self):
        """The four roles as smstudio makes them; returns snapshot()."""
        listed = self.iam.list_roles(PathPrefix=PATH)["Roles"]
        self.assertEqual(sorted(r["RoleName"] for r in listed), sorted(map(name, ROLES)))
        domain_id = self.domain()["DomainId"]
        snap = self.snapshot()
        for kind, (managed, sids, isolated) in ROLES.items():
            got = snap[kind]
            self.assertEqual(got["path"], PATH, kind)
            self.assertEqual(self.role(kind)["Arn"],
                             "arn:aws:iam::%s:role%s%s" % (ACCOUNT, PATH, name(kind)))
            self.assertEqual(got["trust"], TRUST, kind)
            self.assertEqual(got["boundary"], BOUNDARY_ARN, kind)
            self.assertEqual(got["tags"], {engine.TAG: "smstudio", "team": "mlops"}, kind)
            self.assertEqual(got["managed"], sorted(managed), kind)
            # One main document (plus the isolation deny): one read each.
            self.assertEqual(sorted(got["inline"]), sorted([MAIN] + [ISOLATION] * isolated),
                             kind)
            main = got["inline"][MAIN]
            self.assertEqual(main["Version"], "2012-10-17")
            self.assertEqual(",".join(s["Sid"] for s in main["Statement"]), sids, kind)
            if kind != "mlflow":
                self.assertIn(KMS, main["Statement"], kind)
            if isolated:
                iso = got["inline"][ISOLATION]["Statement"]
                self.assertEqual(len(iso), 1)
                self.assertEqual(iso[0]["Sid"], "DomainResourceIsolation")
                self.assertEqual(iso[0]["Condition"]["StringNotEquals"][
                    "aws:ResourceTag/sagemaker:domain-arn"],
                    "arn:aws:sagemaker:us-east-1:%s:domain/%s" % (ACCOUNT, domain_id))
        mlflow = snap["mlflow"]["inline"][MAIN]["Statement"][0]
        self.assertEqual(sorted(mlflow["Resource"]), [
            "arn:aws:s3:::mlops-studio-artifacts", "arn:aws:s3:::mlops-studio-artifacts/*"])
        return snap

    # -- the scenarios -----------------------------------------------------

    def test_greenfield_then_drift_repaired(self):
        self.greenfield("alice")
        made = self.iam_mutations()
        # 4 roles, 16 attachments, 4 main documents, 3 isolation denies;
        # and the boundary policy this test made.
        self.assertEqual(made, {"CreatePolicy": 1, "CreateRole": 4, "AttachRolePolicy": 16,
                                "PutRolePolicy": 7})
        want = self.assertEstate()
        self.assertEqual(self.profiles()["alice"]["UserSettings"]["ExecutionRole"],
                         self.role("data-scientist")["Arn"])
        self.assertConvergedEverywhere()

        # Drift, straight into IAM: a document rewritten, an attachment
        # gone, a tag gone, a trust policy widened, a boundary removed.
        self.iam.put_role_policy(RoleName=name("data-scientist"), PolicyName=MAIN,
                                 PolicyDocument=json.dumps({
                                     "Version": "2012-10-17", "Statement": [{
                                         "Sid": "Mine", "Effect": "Allow", "Action": "s3:*",
                                         "Resource": "*"}]}))
        self.iam.detach_role_policy(RoleName=name("lead-data-scientist"),
                                    PolicyArn="arn:aws:iam::aws:policy/AmazonSageMakerFullAccess")
        self.iam.untag_role(RoleName=name("sagemaker-execution"), TagKeys=["team"])
        self.iam.update_assume_role_policy(RoleName=name("mlflow"), PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {
                    "Service": ["sagemaker.amazonaws.com", "lambda.amazonaws.com"]}}]}))
        self.iam.delete_role_permissions_boundary(RoleName=name("mlflow"))
        self.assertNotEqual(self.snapshot(), want)

        p, made, used = self.iam_pass(2)
        self.assertEqual(made, {"PutRolePolicy": 1, "AttachRolePolicy": 1, "TagRole": 1,
                                "UpdateAssumeRolePolicy": 1, "PutRolePermissionsBoundary": 1},
                         p.stdout)
        self.assertEqual(mutating(used), {}, "no SageMaker change was due")
        self.assertEqual(self.snapshot(), want)
        self.assertConvergedEverywhere()

    def test_roles_of_an_earlier_smstudio_are_upgraded(self):
        # The data scientist role as smstudio made it before one main
        # document: a policy per section of the original module, plus one
        # somebody added by hand, which is not ours to remove.
        split = ("smstudio-sagemaker-deny", "smstudio-services", "smstudio-kms", "smstudio-s3",
                 "smstudio-mlflow")
        self.iam.create_role(
            RoleName=name("data-scientist"), Path=PATH, AssumeRolePolicyDocument=json.dumps(TRUST),
            PermissionsBoundary=BOUNDARY_ARN,
            Tags=[{"Key": engine.TAG, "Value": "smstudio"}, {"Key": "team", "Value": "mlops"}])
        for policy in MANAGED:
            self.iam.attach_role_policy(RoleName=name("data-scientist"),
                                        PolicyArn="arn:aws:iam::aws:policy/" + policy)
        for i, policy in enumerate(split):
            self.iam.put_role_policy(
                RoleName=name("data-scientist"), PolicyName=policy, PolicyDocument=json.dumps({
                    "Version": "2012-10-17", "Statement": [{
                        "Effect": "Allow", "Action": "s3:GetObject%d" % i, "Resource": "*"}]}))
        by_hand = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "athena:GetQueryResults", "Resource": "*"}]}
        self.iam.put_role_policy(RoleName=name("data-scientist"), PolicyName="team-athena",
                                 PolicyDocument=json.dumps(by_hand))
        start = len(self.iam_calls())

        self.greenfield("alice")
        made = self.iam_mutations(start)
        # The old role is kept and repaired, not recreated: its five split
        # documents deleted, the main one and the isolation deny put.
        self.assertEqual(made.get("CreateRole"), 3, made)
        self.assertEqual(made.get("DeleteRolePolicy"), len(split), made)
        self.assertEqual(made.get("PutRolePolicy"), 7, made)
        inline = self.inline("data-scientist")
        self.assertEqual(sorted(inline), sorted([MAIN, ISOLATION, "team-athena"]))
        self.assertEqual(inline["team-athena"], by_hand)
        self.assertEqual(",".join(s["Sid"] for s in inline[MAIN]["Statement"]),
                         ROLES["data-scientist"][1])
        self.assertConvergedEverywhere()

    def test_isolation_kept_when_the_domain_cannot_be_listed(self):
        # A pass that cannot list the domains cannot name the domain id the
        # isolation deny needs: it must leave the deny in place, not take it
        # away from every user of the domain until the listing works again.
        self.greenfield("alice")
        # Without the observed cache, as a daemon whose state_dir was lost:
        # nothing else remembers the domain id.
        shutil.rmtree(os.path.join(self.dir, "state"))
        self.admin("POST", "/_emu/faults", [{"operation": "sagemaker:ListDomains",
                                             "kind": "error5xx"}])
        before = len(self.iam_calls())
        p = self.once()
        self.admin("DELETE", "/_emu/faults")
        self.assertNotIn("DeleteRolePolicy", self.iam_mutations(before), p.stdout)
        for kind, (_, _, isolated) in ROLES.items():
            self.assertEqual(ISOLATION in self.inline(kind), isolated, kind)


if __name__ == "__main__":
    unittest.main()
