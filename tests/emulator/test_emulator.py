# SPDX-License-Identifier: Apache-2.0
"""awsemu driven by boto3, an AWS client we did not write: it must accept
what boto3 sends and answer so that boto3 parses the results and errors
as it would AWS's. Also the AWS CLI, raw unsigned and skewed requests, the
admin API, HTTPS and a clean exit on SIGTERM.

The emulator runs as a subprocess on a kernel-picked port read from
--port-file; waits poll against a deadline, nothing sleeps a fixed time."""

import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import urllib.error
import urllib.request
from unittest import mock

import boto3
import botocore.auth
from botocore.config import Config
from botocore.exceptions import ClientError

HERE = os.path.dirname(os.path.abspath(__file__))
AWSEMU = os.environ.get("AWSEMU", os.path.join(HERE, "awsemu"))
sys.path.insert(0, HERE)
from emu.cli import DEFAULT_AKID, DEFAULT_SECRET  # noqa: E402
from emutest import Awsemu, wait_for  # noqa: E402,F401  (test_admin uses both)

ACCOUNT = "123456789012"
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"},
    "Action": "sts:AssumeRole"}]})
INLINE = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]})
MANAGED = "arn:aws:iam::aws:policy/AmazonSageMakerFullAccess"


class EmulatorTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="awsemu-test-")
        cls.emu = Awsemu(cls.tmp)

    @classmethod
    def tearDownClass(cls):
        code = cls.emu.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        assert code == 0, "awsemu exit status %r on SIGTERM" % code

    def setUp(self):
        self.admin("POST", "/_emu/reset")

    # -- helpers -----------------------------------------------------------

    def client(self, service, akid=DEFAULT_AKID, secret=DEFAULT_SECRET, token=None,
               validate=True, url=None, verify=None):
        return boto3.client(
            service, endpoint_url=url or self.emu.url, region_name="us-east-1",
            aws_access_key_id=akid, aws_secret_access_key=secret, aws_session_token=token,
            verify=verify,
            config=Config(retries={"max_attempts": 1}, parameter_validation=validate))

    def admin(self, method, path):
        req = urllib.request.Request(self.emu.url + path, method=method,
                                     data=b"" if method == "POST" else None)
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def assertAwsError(self, code, call, *args, **kwargs):
        with self.assertRaises(ClientError) as cm:
            call(*args, **kwargs)
        self.assertEqual(cm.exception.response["Error"]["Code"], code,
                         cm.exception.response)
        return cm.exception

    def make_role(self, name, **kwargs):
        return self.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=TRUST,
                                              **kwargs)["Role"]

    # -- the process -------------------------------------------------------

    def test_ready_line(self):
        self.assertIn("awsemu: listening on http://127.0.0.1:%d" % self.emu.port,
                      self.emu.output())

    # -- STS and SigV4 -----------------------------------------------------

    def test_get_caller_identity(self):
        ident = self.client("sts").get_caller_identity()
        self.assertEqual(ident["Account"], ACCOUNT)
        self.assertEqual(ident["Arn"], "arn:aws:iam::%s:user/awsemu" % ACCOUNT)
        self.assertTrue(ident["UserId"].startswith("AIDA"))

    def test_assume_role_credentials_are_accepted(self):
        role = self.make_role("Assumable", MaxSessionDuration=7200)
        out = self.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="s1",
                                             DurationSeconds=7200)
        creds = out["Credentials"]
        self.assertTrue(creds["AccessKeyId"].startswith("ASIA"))
        left = creds["Expiration"] - datetime.datetime.now(datetime.timezone.utc)
        self.assertGreater(left.total_seconds(), 7000)
        arn = "arn:aws:sts::%s:assumed-role/Assumable/s1" % ACCOUNT
        self.assertEqual(out["AssumedRoleUser"]["Arn"], arn)
        temp = self.client("sts", creds["AccessKeyId"], creds["SecretAccessKey"],
                           creds["SessionToken"])
        ident = temp.get_caller_identity()
        self.assertEqual(ident["Arn"], arn)
        self.assertEqual(ident["UserId"], role["RoleId"] + ":s1")
        # The same key without its session token is not valid.
        bare = self.client("sts", creds["AccessKeyId"], creds["SecretAccessKey"])
        self.assertAwsError("InvalidClientTokenId", bare.get_caller_identity)

    def test_assume_role_refusals(self):
        sts = self.client("sts")
        self.assertAwsError("AccessDenied", sts.assume_role,
                            RoleArn="arn:aws:iam::%s:role/Nope" % ACCOUNT,
                            RoleSessionName="s1")
        role = self.make_role("Short")
        err = self.assertAwsError("ValidationError", sts.assume_role, RoleArn=role["Arn"],
                                  RoleSessionName="s1", DurationSeconds=7200)
        self.assertIn("MaxSessionDuration", str(err))

    def test_wrong_secret(self):
        sts = self.client("sts", secret="not-the-secret")
        err = self.assertAwsError("SignatureDoesNotMatch", sts.get_caller_identity)
        self.assertEqual(err.response["ResponseMetadata"]["HTTPStatusCode"], 403)
        iam = self.client("iam", secret="not-the-secret")
        self.assertAwsError("SignatureDoesNotMatch", iam.list_roles)

    def test_unknown_key(self):
        sts = self.client("sts", akid="AKIAUNKNOWN000000000")
        self.assertAwsError("InvalidClientTokenId", sts.get_caller_identity)

    def test_json_protocol_auth_errors(self):
        sm = self.client("sagemaker", akid="AKIAUNKNOWN000000000")
        err = self.assertAwsError("UnrecognizedClientException", sm.list_domains)
        headers = err.response["ResponseMetadata"]["HTTPHeaders"]
        self.assertEqual(headers["x-amzn-errortype"], "UnrecognizedClientException")
        self.assertTrue(headers["x-amzn-requestid"])
        sm = self.client("sagemaker", secret="wrong")
        self.assertAwsError("InvalidSignatureException", sm.list_domains)

    def test_missing_authentication(self):
        req = urllib.request.Request(self.emu.url + "/", method="POST",
                                     data=b"Action=GetCallerIdentity&Version=2011-06-15")
        with self.assertRaises(urllib.error.HTTPError) as cm:
            urllib.request.urlopen(req, timeout=10)
        self.assertEqual(cm.exception.code, 403)
        body = cm.exception.read().decode()
        self.assertIn("<Code>MissingAuthenticationToken</Code>", body)
        self.assertIn('xmlns="https://sts.amazonaws.com/doc/2011-06-15/"', body)
        self.assertIn("<Type>Sender</Type>", body)

    def test_skewed_clock(self):
        late = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) \
            - datetime.timedelta(minutes=20)
        with mock.patch.object(botocore.auth, "get_current_datetime", return_value=late):
            err = self.assertAwsError("SignatureDoesNotMatch",
                                      self.client("sts").get_caller_identity)
            self.assertIn("Signature expired", str(err))
            err = self.assertAwsError("InvalidSignatureException",
                                      self.client("sagemaker").list_domains)
            self.assertIn("Signature expired", str(err))

    # -- model validation --------------------------------------------------

    def test_missing_required_member(self):
        iam = self.client("iam", validate=False)
        err = self.assertAwsError("ValidationError", iam.create_role, RoleName="NoTrust")
        self.assertIn("'assumeRolePolicyDocument'", str(err))
        self.assertIn("must not be null", str(err))

    def test_value_out_of_bounds(self):
        iam = self.client("iam")
        err = self.assertAwsError("ValidationError", iam.create_role, RoleName="r" * 65,
                                  AssumeRolePolicyDocument=TRUST)
        self.assertIn("'roleName'", str(err))
        self.assertIn("less than or equal to 64", str(err))
        err = self.assertAwsError("ValidationError", iam.create_role, RoleName="ok",
                                  AssumeRolePolicyDocument=TRUST, MaxSessionDuration=50000)
        self.assertIn("'maxSessionDuration'", str(err))
        err = self.assertAwsError("ValidationError", iam.create_role, RoleName="bad name!",
                                  AssumeRolePolicyDocument=TRUST)
        self.assertIn("regular expression pattern", str(err))
        self.assertEqual(self.client("iam").list_roles()["Roles"], [])

    def test_json_validation(self):
        sm = self.client("sagemaker", validate=False)
        err = self.assertAwsError("ValidationException", sm.list_apps, SortBy="Bogus")
        self.assertIn("'sortBy'", str(err))
        self.assertIn("enum value set", str(err))
        err = self.assertAwsError("ValidationException", sm.list_domains, MaxResults=1000)
        self.assertIn("'maxResults'", str(err))
        self.assertEqual(err.response["ResponseMetadata"]["HTTPStatusCode"], 400)

    # -- IAM roles ---------------------------------------------------------

    def test_role_crud(self):
        iam = self.client("iam")
        role = self.make_role("Exec", Path="/service-role/", Description="d",
                              Tags=[{"Key": "team", "Value": "ml"}])
        self.assertEqual(role["Arn"], "arn:aws:iam::%s:role/service-role/Exec" % ACCOUNT)
        self.assertTrue(role["RoleId"].startswith("AROA"))
        self.assertEqual(len(role["RoleId"]), 21)
        got = iam.get_role(RoleName="exec")["Role"]     # names are case-insensitive
        self.assertEqual(got["RoleName"], "Exec")
        self.assertEqual(got["AssumeRolePolicyDocument"], json.loads(TRUST))
        self.assertEqual(got["Tags"], [{"Key": "team", "Value": "ml"}])
        self.assertEqual(got["MaxSessionDuration"], 3600)
        self.assertAwsError("EntityAlreadyExists", self.make_role, "EXEC")
        iam.update_assume_role_policy(RoleName="Exec", PolicyDocument=INLINE)
        self.assertEqual(iam.get_role(RoleName="Exec")["Role"]["AssumeRolePolicyDocument"],
                         json.loads(INLINE))
        self.assertAwsError("MalformedPolicyDocument", iam.update_assume_role_policy,
                            RoleName="Exec", PolicyDocument="{not json")
        iam.delete_role(RoleName="Exec")
        err = self.assertAwsError("NoSuchEntity", iam.get_role, RoleName="Exec")
        self.assertEqual(err.response["ResponseMetadata"]["HTTPStatusCode"], 404)
        self.assertAwsError("NoSuchEntity", iam.delete_role, RoleName="Exec")

    def test_policy_documents_are_url_encoded_on_the_wire(self):
        self.make_role("Raw")
        iam = self.client("iam")
        iam.put_role_policy(RoleName="Raw", PolicyName="p", PolicyDocument=INLINE)
        seen = []
        iam.meta.events.register("after-call.iam.GetRolePolicy",
                                 lambda http_response, **kw: seen.append(http_response.text))
        iam.get_role_policy(RoleName="Raw", PolicyName="p")
        self.assertIn("<PolicyDocument>%7B%22Version%22%3A", seen[0])

    def test_tags(self):
        iam = self.client("iam")
        self.make_role("Tagged", Tags=[{"Key": "a", "Value": "1"}])
        iam.tag_role(RoleName="Tagged", Tags=[{"Key": "A", "Value": "2"},
                                              {"Key": "b", "Value": "3"}])
        tags = iam.list_role_tags(RoleName="Tagged")
        self.assertFalse(tags["IsTruncated"])
        self.assertEqual(sorted((t["Key"], t["Value"]) for t in tags["Tags"]),
                         [("A", "2"), ("b", "3")])
        iam.untag_role(RoleName="Tagged", TagKeys=["a"])
        self.assertEqual(iam.list_role_tags(RoleName="Tagged")["Tags"],
                         [{"Key": "b", "Value": "3"}])
        self.assertAwsError("NoSuchEntity", iam.tag_role, RoleName="Nope",
                            Tags=[{"Key": "k", "Value": "v"}])
        self.assertAwsError("LimitExceeded", iam.tag_role, RoleName="Tagged",
                            Tags=[{"Key": "k%d" % i, "Value": "v"} for i in range(50)])

    def test_policies_and_delete_conflict(self):
        iam = self.client("iam")
        self.make_role("Pol")
        iam.attach_role_policy(RoleName="Pol", PolicyArn=MANAGED)
        iam.attach_role_policy(RoleName="Pol", PolicyArn=MANAGED)   # idempotent
        attached = iam.list_attached_role_policies(RoleName="Pol")["AttachedPolicies"]
        self.assertEqual(attached, [{"PolicyName": "AmazonSageMakerFullAccess",
                                     "PolicyArn": MANAGED}])
        self.assertAwsError("InvalidInput", iam.attach_role_policy, RoleName="Pol",
                            PolicyArn="arn:aws:iam::aws:notapolicy")
        iam.put_role_policy(RoleName="Pol", PolicyName="inline", PolicyDocument=INLINE)
        self.assertEqual(iam.list_role_policies(RoleName="Pol")["PolicyNames"], ["inline"])
        got = iam.get_role_policy(RoleName="Pol", PolicyName="inline")
        self.assertEqual(got["PolicyDocument"], json.loads(INLINE))
        self.assertEqual(got["RoleName"], "Pol")
        self.assertAwsError("NoSuchEntity", iam.get_role_policy, RoleName="Pol",
                            PolicyName="other")
        self.assertAwsError("MalformedPolicyDocument", iam.put_role_policy, RoleName="Pol",
                            PolicyName="bad", PolicyDocument="[1,")
        err = self.assertAwsError("DeleteConflict", iam.delete_role, RoleName="Pol")
        self.assertEqual(err.response["ResponseMetadata"]["HTTPStatusCode"], 409)
        iam.detach_role_policy(RoleName="Pol", PolicyArn=MANAGED)
        self.assertAwsError("NoSuchEntity", iam.detach_role_policy, RoleName="Pol",
                            PolicyArn=MANAGED)
        self.assertAwsError("DeleteConflict", iam.delete_role, RoleName="Pol")
        iam.delete_role_policy(RoleName="Pol", PolicyName="inline")
        self.assertEqual(iam.list_role_policies(RoleName="Pol")["PolicyNames"], [])
        iam.delete_role(RoleName="Pol")

    def test_permissions_boundary(self):
        iam = self.client("iam")
        self.make_role("Bounded")
        iam.put_role_permissions_boundary(RoleName="Bounded", PermissionsBoundary=MANAGED)
        pb = iam.get_role(RoleName="Bounded")["Role"]["PermissionsBoundary"]
        self.assertEqual(pb, {"PermissionsBoundaryType": "Policy",
                              "PermissionsBoundaryArn": MANAGED})
        iam.delete_role_permissions_boundary(RoleName="Bounded")
        self.assertNotIn("PermissionsBoundary", iam.get_role(RoleName="Bounded")["Role"])

    def test_list_roles_pagination(self):
        for i in range(25):
            self.make_role("Paged%02d" % i, Path="/paged/")
        self.make_role("Elsewhere")
        pages = list(self.client("iam").get_paginator("list_roles").paginate(
            PathPrefix="/paged/", PaginationConfig={"PageSize": 10}))
        self.assertEqual([len(p["Roles"]) for p in pages], [10, 10, 5])
        self.assertEqual([p["IsTruncated"] for p in pages], [True, True, False])
        names = [r["RoleName"] for p in pages for r in p["Roles"]]
        self.assertEqual(names, ["Paged%02d" % i for i in range(25)])
        self.assertEqual(len(self.client("iam").list_roles()["Roles"]), 26)

    # -- admin API, CLI, HTTPS ---------------------------------------------

    def test_admin_calls_and_state(self):
        self.client("sts").get_caller_identity()
        self.client("sts").get_caller_identity()
        self.make_role("Counted")
        self.assertAwsError("NoSuchEntity", self.client("iam").get_role, RoleName="Nope")
        self.assertEqual(self.admin("GET", "/_emu/calls"), {
            "iam:CreateRole": 1, "iam:GetRole": 1, "sts:GetCallerIdentity": 2})
        state = self.admin("GET", "/_emu/state")
        self.assertEqual(state["account"], ACCOUNT)
        self.assertIn("counted", state["services"]["iam"]["roles"])
        self.admin("POST", "/_emu/reset")
        self.assertEqual(self.admin("GET", "/_emu/calls"), {})
        self.assertEqual(self.admin("GET", "/_emu/state")["services"]["iam"]["roles"], {})

    def test_aws_cli(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(AWS_ACCESS_KEY_ID=DEFAULT_AKID, AWS_SECRET_ACCESS_KEY=DEFAULT_SECRET,
                   AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE=os.devnull,
                   AWS_SHARED_CREDENTIALS_FILE=os.devnull)
        out = subprocess.run(["aws", "--endpoint-url", self.emu.url, "--output", "json",
                              "sts", "get-caller-identity"], env=env, check=True,
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(json.loads(out.stdout)["Account"], ACCOUNT)

    def test_https(self):
        sys.path.insert(0, os.path.join(HERE, "..", "integration"))
        from awsfakes import make_test_ca
        ca, cert, key = make_test_ca(self.tmp)
        tls = Awsemu(self.tmp, "--tls-cert", cert, "--tls-key", key)
        try:
            self.assertIn("listening on https://", tls.output())
            ident = self.client("sts", url=tls.url, verify=ca).get_caller_identity()
            self.assertEqual(ident["Account"], ACCOUNT)
            bad = self.client("sts", url=tls.url, verify=ca, secret="wrong")
            self.assertAwsError("SignatureDoesNotMatch", bad.get_caller_identity)
        finally:
            self.assertEqual(tls.stop(), 0)


if __name__ == "__main__":
    unittest.main()
