# SPDX-License-Identifier: Apache-2.0
"""awsemu's test controls and credential endpoints, driven by boto3.

What the other test suites lean on: the admin API (out-of-band calls,
drift patches, counters with outcomes, config), traffic control (faults,
latency, rate caps) seen by boto3 as the AWS errors they imitate, --state
persistence across a restart, IMDSv2 and container credentials, and the
unsigned AssumeRoleWithWebIdentity. Waits poll against deadlines; timing
assertions are lower bounds only, so a slow machine cannot fail them."""

import http.client
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.utils
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError

from emutest import ACCOUNT, AWSEMU, Awsemu, wait_for
from emu.cli import DEFAULT_AKID, DEFAULT_CONTAINER_TOKEN, DEFAULT_INSTANCE_ROLE, DEFAULT_SECRET

TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"},
    "Action": "sts:AssumeRole"}]})
MANAGED = "arn:aws:iam::aws:policy/AmazonSageMakerFullAccess"

# botocore's "max_attempts" counts retries (1 means two tries); one try in all:
NO_RETRY = Config(retries={"total_max_attempts": 1, "mode": "standard"})


def request(url, method="GET", body=None, headers=None, timeout=10):
    """(status, parsed JSON or text) of one plain HTTP request."""
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
    elif method in ("POST", "PUT"):
        data = b""
    req = urllib.request.Request(url, method=method, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, text = resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        status, text = err.code, err.read().decode()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


class EmuCase(unittest.TestCase):
    """One emulator for the class; admin reset before each test."""

    extra_args = ()

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="awsemu-admin-")
        cls.emu = Awsemu(cls.tmp, *cls.extra_args)

    @classmethod
    def tearDownClass(cls):
        code = cls.emu.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        assert code == 0, "awsemu exit status %r on SIGTERM" % code

    def setUp(self):
        self.admin("POST", "/_emu/reset")

    def admin(self, method, path, body=None, expect=200):
        status, out = request(self.emu.url + path, method, body)
        self.assertEqual(status, expect, "%s %s -> %s %s" % (method, path, status, out))
        return out

    def client(self, service, akid=DEFAULT_AKID, secret=DEFAULT_SECRET, token=None,
               config=NO_RETRY, url=None):
        return boto3.client(service, endpoint_url=url or self.emu.url, region_name="us-east-1",
                            aws_access_key_id=akid, aws_secret_access_key=secret,
                            aws_session_token=token, config=config)

    def assertAwsError(self, code, fn, *args, **kwargs):
        with self.assertRaises(ClientError) as cm:
            fn(*args, **kwargs)
        self.assertEqual(cm.exception.response["Error"]["Code"], code, cm.exception)
        return cm.exception

    def make_role(self, name, **extra):
        return self.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=TRUST,
                                              **extra)["Role"]

    def oob(self, service, op, params, expect=200):
        return self.admin("POST", "/_emu/call/%s/%s" % (service, op), params, expect)

    def calls(self, detail=False):
        return self.admin("GET", "/_emu/calls" + ("?detail=1" if detail else ""))


class AdminTest(EmuCase):
    # -- config, counters, reset ------------------------------------------

    def test_config(self):
        self.assertEqual(self.admin("GET", "/_emu/config"), {"async_delay_ms": 0})
        out = self.admin("POST", "/_emu/config", {"async_delay_ms": 250})
        self.assertEqual(out, {"async_delay_ms": 250})
        self.assertEqual(self.admin("GET", "/_emu/config"), {"async_delay_ms": 250})
        self.admin("POST", "/_emu/config", {"async_delay_ms": -1}, expect=400)
        self.admin("POST", "/_emu/config", {"latency": 1}, expect=400)
        self.admin("POST", "/_emu/config", {"async_delay_ms": 0})

    def test_unknown_endpoint_and_bad_json(self):
        self.admin("GET", "/_emu/nope", expect=404)
        self.admin("POST", "/_emu/faults", b"{not json", expect=400)
        self.admin("POST", "/_emu/save", expect=400)   # no --state here

    def test_calls_plain_detail_and_reset(self):
        sts = self.client("sts")
        sts.get_caller_identity()
        sts.get_caller_identity()
        self.assertAwsError("NoSuchEntity", self.client("iam").get_role, RoleName="Nope")
        self.assertEqual(self.calls(), {"sts:GetCallerIdentity": 2, "iam:GetRole": 1})
        detail = self.calls(detail=True)
        self.assertEqual(detail["sts:GetCallerIdentity"],
                         {"ok": 2, "throttled": 0, "error": 0, "reset": 0, "calls": 2})
        self.assertEqual(detail["iam:GetRole"]["error"], 1)
        self.admin("POST", "/_emu/calls/reset")
        self.assertEqual(self.calls(), {})
        self.assertEqual(self.calls(detail=True), {})

    def test_reset_clears_traffic_control(self):
        self.admin("POST", "/_emu/faults", {"kind": "throttle"})
        self.admin("POST", "/_emu/latency", {"fixed_ms": 5})
        self.admin("POST", "/_emu/ratelimit", {"rps": 1})
        self.admin("POST", "/_emu/reset")
        self.assertEqual(self.admin("GET", "/_emu/faults"), [])
        self.assertEqual(self.admin("GET", "/_emu/latency"), {})
        self.assertEqual(self.admin("GET", "/_emu/ratelimit"), {})

    # -- out-of-band calls and drift --------------------------------------

    def test_out_of_band_call(self):
        out = self.oob("iam", "CreateRole", {"RoleName": "Unmanaged", "Path": "/team/",
                                             "AssumeRolePolicyDocument": TRUST,
                                             "Tags": [{"Key": "owner", "Value": "console"}]})
        self.assertEqual(out["Role"]["Arn"], "arn:aws:iam::%s:role/team/Unmanaged" % ACCOUNT)
        self.assertIsInstance(out["Role"]["CreateDate"], (int, float))
        role = self.client("iam").get_role(RoleName="Unmanaged")["Role"]
        self.assertEqual(role["RoleId"], out["Role"]["RoleId"])
        self.assertEqual(role["Tags"], [{"Key": "owner", "Value": "console"}])
        self.assertEqual(self.calls(), {"iam:GetRole": 1})   # the create is not counted

    def test_out_of_band_errors(self):
        params = {"RoleName": "Twice", "AssumeRolePolicyDocument": TRUST}
        self.oob("iam", "CreateRole", params)
        err = self.oob("iam", "CreateRole", params, expect=409)
        self.assertEqual(err["Code"], "EntityAlreadyExists")
        err = self.oob("iam", "CreateRole", {"RoleName": "NoTrust"}, expect=400)
        self.assertEqual(err["Code"], "ValidationError")
        self.assertIn("assumeRolePolicyDocument", err["Message"])
        err = self.oob("sagemaker", "ListDomains", {"MaxResults": 1000}, expect=400)
        self.assertEqual(err["Code"], "ValidationException")
        self.oob("iam", "NoSuchOperation", {}, expect=404)
        self.oob("ec2", "DescribeInstances", {}, expect=404)
        self.assertEqual(self.calls(), {})

    def test_out_of_band_ignores_faults(self):
        self.admin("POST", "/_emu/faults", {"kind": "throttle"})
        self.oob("sts", "GetCallerIdentity", {})

    def test_patch_role(self):
        self.make_role("Drifty", Description="as made")
        out = self.admin("POST", "/_emu/patch", {"service": "iam",
                                                 "path": ["roles", "Drifty", "Description"],
                                                 "value": "changed in the console"})
        self.assertEqual(out["resource"]["Description"], "changed in the console")
        role = self.client("iam").get_role(RoleName="Drifty")["Role"]
        self.assertEqual(role["Description"], "changed in the console")
        self.admin("POST", "/_emu/patch", {"service": "iam", "delete": True,
                                           "path": ["roles", "drifty", "Description"]})
        self.assertNotIn("Description", self.client("iam").get_role(RoleName="Drifty")["Role"])
        # A managed policy attached behind smstudio's back: a list member.
        self.admin("POST", "/_emu/patch", {
            "service": "iam", "path": ["roles", "drifty", "AttachedPolicies"],
            "value": [MANAGED]})
        attached = self.client("iam").list_attached_role_policies(RoleName="Drifty")
        self.assertEqual([p["PolicyArn"] for p in attached["AttachedPolicies"]], [MANAGED])

    def test_patch_domain_drift(self):
        role = "arn:aws:iam::%s:role/service-role/Exec" % ACCOUNT
        made = self.oob("sagemaker", "CreateDomain", {
            "DomainName": "console-made", "AuthMode": "IAM",
            "DefaultUserSettings": {"ExecutionRole": role},
            "SubnetIds": ["subnet-0123456789abcdef0"], "VpcId": "vpc-0123456789abcdef0"})
        sm = self.client("sagemaker")
        before = sm.describe_domain(DomainId=made["DomainId"])
        self.assertEqual(before["DefaultUserSettings"]["ExecutionRole"], role)
        out = self.admin("POST", "/_emu/patch", {
            "service": "sagemaker",
            "path": ["domains", made["DomainId"], "DefaultUserSettings", "ExecutionRole"],
            "value": role + "2"})
        self.assertEqual(out["resource"]["DomainId"], made["DomainId"])
        after = sm.describe_domain(DomainId=made["DomainId"])
        self.assertEqual(after["DefaultUserSettings"]["ExecutionRole"], role + "2")
        self.assertGreater(after["LastModifiedTime"], before["LastModifiedTime"])
        self.assertEqual(self.calls(), {"sagemaker:DescribeDomain": 2})

    def test_patch_bumps_last_modified_time(self):
        record = {"Status": "InService", "LastModifiedTime": 1000.0, "Setting": "a"}
        self.admin("POST", "/_emu/patch", {"service": "sagemaker", "path": ["awsemu-test"],
                                           "value": {"r-1": record}})
        before = time.time()
        out = self.admin("POST", "/_emu/patch", {"service": "sagemaker",
                                                 "path": ["awsemu-test", "r-1", "Setting"],
                                                 "value": "b"})
        self.assertEqual(out["resource"]["Setting"], "b")
        self.assertGreaterEqual(out["resource"]["LastModifiedTime"], before - 1)
        state = self.admin("GET", "/_emu/state")["services"]["sagemaker"]["awsemu-test"]
        self.assertEqual(state["r-1"]["Setting"], "b")

    def test_patch_errors(self):
        self.admin("POST", "/_emu/patch", {"service": "nope", "path": ["x"], "value": 1},
                   expect=404)
        self.admin("POST", "/_emu/patch", {"service": "iam", "path": [], "value": 1},
                   expect=400)
        self.admin("POST", "/_emu/patch", {"service": "iam", "path": ["roles", "x", "y"],
                                           "value": 1}, expect=404)
        self.admin("POST", "/_emu/patch", {"service": "iam", "path": ["roles", "x"]},
                   expect=400)
        self.admin("POST", "/_emu/patch", {"service": "iam", "path": ["roles", "x"],
                                           "delete": True}, expect=404)

    # -- faults ------------------------------------------------------------

    def test_throttle_query_and_json(self):
        self.admin("POST", "/_emu/faults", [{"operation": "iam:*", "kind": "throttle"},
                                            {"operation": "sagemaker:ListDomains",
                                             "kind": "throttle"}])
        err = self.assertAwsError("Throttling", self.client("iam").list_roles)
        self.assertEqual(err.response["ResponseMetadata"]["HTTPStatusCode"], 400)
        self.assertEqual(err.response["Error"]["Message"], "Rate exceeded")
        err = self.assertAwsError("ThrottlingException", self.client("sagemaker").list_domains)
        self.assertEqual(err.response["ResponseMetadata"]["HTTPStatusCode"], 400)
        self.client("sts").get_caller_identity()     # not matched
        detail = self.calls(detail=True)
        self.assertEqual(detail["iam:ListRoles"]["throttled"], 1)
        self.assertEqual(detail["sagemaker:ListDomains"]["throttled"], 1)
        self.assertEqual(detail["sts:GetCallerIdentity"]["ok"], 1)

    def test_throttled_call_changes_nothing(self):
        self.admin("POST", "/_emu/faults", {"operation": "iam:CreateRole", "kind": "throttle"})
        self.assertAwsError("Throttling", self.make_role, "NotMade")
        self.assertAwsError("NoSuchEntity", self.client("iam").get_role, RoleName="NotMade")

    def test_5xx(self):
        self.admin("POST", "/_emu/faults", [
            {"operation": "sts:GetCallerIdentity", "kind": "error5xx", "status": 503},
            {"operation": "sagemaker:*", "kind": "error5xx", "status": 500}])
        err = self.assertAwsError("ServiceUnavailable", self.client("sts").get_caller_identity)
        self.assertEqual(err.response["ResponseMetadata"]["HTTPStatusCode"], 503)
        err = self.assertAwsError("InternalFailure", self.client("sagemaker").list_domains)
        self.assertEqual(err.response["ResponseMetadata"]["HTTPStatusCode"], 500)
        self.assertEqual(self.calls(detail=True)["sts:GetCallerIdentity"]["error"], 1)

    def test_connection_reset(self):
        self.admin("POST", "/_emu/faults", {"operation": "sts:GetCallerIdentity",
                                            "kind": "reset", "count": 1})
        with self.assertRaises((ConnectionClosedError, EndpointConnectionError)):
            self.client("sts").get_caller_identity()
        self.client("sts").get_caller_identity()      # count 1: only the first
        detail = self.calls(detail=True)["sts:GetCallerIdentity"]
        self.assertEqual((detail["reset"], detail["ok"]), (1, 1))

    def test_reset_is_a_tcp_rst(self):
        """Not a clean close: the client's read fails with ECONNRESET."""
        self.admin("POST", "/_emu/faults", {"kind": "reset"})
        req = botocore.awsrequest.AWSRequest(
            method="POST", url=self.emu.url + "/",
            data=b"Action=GetCallerIdentity&Version=2011-06-15",
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        botocore.auth.SigV4Auth(botocore.credentials.Credentials(DEFAULT_AKID, DEFAULT_SECRET),
                                "sts", "us-east-1").add_auth(req)
        conn = http.client.HTTPConnection("127.0.0.1", self.emu.port, timeout=10)
        self.addCleanup(conn.close)
        conn.request("POST", "/", req.body, dict(req.headers.items()))
        with self.assertRaises(ConnectionResetError):
            conn.getresponse()

    def test_after_and_count(self):
        rule = self.admin("POST", "/_emu/faults", {"operation": "sts:GetCallerIdentity",
                                                   "kind": "throttle", "after": 2, "count": 2})
        self.assertEqual(rule[0]["after"], 2)
        sts = self.client("sts")
        outcomes = []
        for _ in range(6):
            try:
                sts.get_caller_identity()
                outcomes.append("ok")
            except ClientError as err:
                outcomes.append(err.response["Error"]["Code"])
        self.assertEqual(outcomes, ["ok", "ok", "Throttling", "Throttling", "ok", "ok"])
        (rule,) = self.admin("GET", "/_emu/faults")
        self.assertEqual((rule["seen"], rule["injected"]), (6, 2))
        self.admin("DELETE", "/_emu/faults")
        self.assertEqual(self.admin("GET", "/_emu/faults"), [])

    def test_rate_zero_never_fires(self):
        self.admin("POST", "/_emu/faults", {"kind": "throttle", "rate": 0.0})
        for _ in range(5):
            self.client("sts").get_caller_identity()

    def test_bad_rules(self):
        for rule in ({"kind": "explode"}, {"kind": "throttle", "rate": 2},
                     {"kind": "error5xx", "status": 502}, {"kind": "throttle", "operation": "iam"},
                     {"kind": "throttle", "after": -1}, {"kind": "throttle", "bogus": 1}, [1]):
            self.admin("POST", "/_emu/faults", rule, expect=400)
        self.assertEqual(self.admin("GET", "/_emu/faults"), [])

    def test_stall_holds_no_lock(self):
        self.admin("POST", "/_emu/faults", {"operation": "iam:GetRole", "kind": "stall",
                                            "stall_s": 3})
        self.make_role("Slow")
        done = {}

        def stalled():
            start = time.monotonic()
            done["role"] = self.client("iam").get_role(RoleName="Slow")["Role"]["RoleName"]
            done["elapsed"] = time.monotonic() - start

        t = threading.Thread(target=stalled)
        t.start()
        wait_for(lambda: self.admin("GET", "/_emu/faults")[0]["injected"] == 1,
                 what="the stall to begin")
        self.client("iam").list_roles()    # answered while GetRole stalls
        self.assertTrue(t.is_alive(), "a call stalled for 3 s ended early")
        t.join(30)
        self.assertEqual(done["role"], "Slow")
        self.assertGreaterEqual(done["elapsed"], 3.0)

    # -- latency and rate caps ----------------------------------------------

    def test_latency(self):
        sts = self.client("sts")
        self.admin("POST", "/_emu/latency", {"fixed_ms": 300, "random_ms": 100,
                                             "operation": "sts:GetCallerIdentity"})
        self.assertEqual(self.admin("GET", "/_emu/latency"),
                         {"sts:GetCallerIdentity": {"fixed_ms": 300, "random_ms": 100}})
        start = time.monotonic()
        sts.get_caller_identity()
        self.assertGreaterEqual(time.monotonic() - start, 0.3)
        self.admin("POST", "/_emu/latency", {"fixed_ms": 200})
        start = time.monotonic()
        self.client("iam").list_roles()
        self.assertGreaterEqual(time.monotonic() - start, 0.2)
        self.admin("DELETE", "/_emu/latency")
        self.assertEqual(self.admin("GET", "/_emu/latency"), {})
        self.admin("POST", "/_emu/latency", {"fixed_ms": -5}, expect=400)

    def test_rate_limit_account_wide(self):
        # rps 2: 20 calls would have to take 7.5 s for none to be throttled.
        self.admin("POST", "/_emu/ratelimit", {"rps": 2, "burst": 5})
        self.assertEqual(self.admin("GET", "/_emu/ratelimit"), {"*": {"rps": 2, "burst": 5}})
        sts = self.client("sts")
        throttled = 0
        start = time.monotonic()
        for _ in range(20):
            try:
                sts.get_caller_identity()
            except ClientError as err:
                self.assertEqual(err.response["Error"]["Code"], "Throttling")
                throttled += 1
        elapsed = time.monotonic() - start
        # At most burst + rps * elapsed calls can have passed.
        self.assertGreaterEqual(throttled, 20 - (5 + 2 * elapsed) - 1)
        self.assertGreater(throttled, 0)
        detail = self.calls(detail=True)["sts:GetCallerIdentity"]
        self.assertEqual((detail["throttled"], detail["ok"]), (throttled, 20 - throttled))
        self.admin("DELETE", "/_emu/ratelimit")
        sts.get_caller_identity()

    def test_rate_limit_per_operation(self):
        self.admin("POST", "/_emu/ratelimit", {"rps": 0.01, "burst": 1,
                                               "operation": "sagemaker:ListDomains"})
        sm = self.client("sagemaker")
        try:
            sm.list_domains()      # the first one passes the cap
        except ClientError as err:
            self.assertNotEqual(err.response["Error"]["Code"], "ThrottlingException")
        self.assertAwsError("ThrottlingException", sm.list_domains)
        for _ in range(5):
            self.client("sts").get_caller_identity()
        self.admin("POST", "/_emu/ratelimit", {"rps": 0}, expect=400)


class CredentialsTest(EmuCase):
    # -- IMDSv2 --------------------------------------------------------------

    def imds(self, path, token=None, method="GET", headers=None):
        h = dict(headers or {})
        if token:
            h["X-aws-ec2-metadata-token"] = token
        return request(self.emu.url + path, method, headers=h)

    def test_imds_token_rules(self):
        self.assertEqual(self.imds("/latest/api/token", method="PUT")[0], 400)
        for ttl in ("0", "21601", "x"):
            status, _ = self.imds("/latest/api/token", method="PUT",
                                  headers={"X-aws-ec2-metadata-token-ttl-seconds": ttl})
            self.assertEqual(status, 400, ttl)
        self.assertEqual(self.imds("/latest/meta-data/placement/region")[0], 401)
        self.assertEqual(self.imds("/latest/meta-data/placement/region", "bogus")[0], 401)

    def test_imds_credentials_usable(self):
        status, token = self.imds("/latest/api/token", method="PUT",
                                  headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})
        self.assertEqual(status, 200)
        self.assertEqual(self.imds("/latest/meta-data/placement/region", token),
                         (200, "us-east-1"))
        status, role = self.imds("/latest/meta-data/iam/security-credentials/", token)
        self.assertEqual((status, role), (200, DEFAULT_INSTANCE_ROLE))
        status, creds = self.imds("/latest/meta-data/iam/security-credentials/" + role, token)
        self.assertEqual(status, 200)
        self.assertEqual((creds["Code"], creds["Type"]), ("Success", "AWS-HMAC"))
        for member in ("LastUpdated", "AccessKeyId", "SecretAccessKey", "Token", "Expiration"):
            self.assertTrue(creds[member], member)
        self.assertEqual(self.imds("/latest/meta-data/iam/security-credentials/other",
                                   token)[0], 404)
        ident = self.client("sts", creds["AccessKeyId"], creds["SecretAccessKey"],
                            creds["Token"]).get_caller_identity()
        self.assertTrue(ident["Arn"].startswith(
            "arn:aws:sts::%s:assumed-role/%s/" % (ACCOUNT, DEFAULT_INSTANCE_ROLE)), ident)

    def test_imds_with_botocore_fetcher(self):
        fetcher = botocore.utils.InstanceMetadataFetcher(timeout=5, num_attempts=1,
                                                         base_url=self.emu.url)
        creds = fetcher.retrieve_iam_role_credentials()
        self.assertEqual(creds["role_name"], DEFAULT_INSTANCE_ROLE)
        sts = self.client("sts", creds["access_key"], creds["secret_key"], creds["token"])
        self.assertIn(":assumed-role/", sts.get_caller_identity()["Arn"])

    # -- container -----------------------------------------------------------

    def test_container_endpoint(self):
        url = self.emu.url + "/_emu/container-credentials"
        self.assertEqual(request(url)[0], 401)
        self.assertEqual(request(url, headers={"Authorization": "wrong"})[0], 403)
        status, creds = request(url, headers={"Authorization": DEFAULT_CONTAINER_TOKEN})
        self.assertEqual(status, 200)
        ident = self.client("sts", creds["AccessKeyId"], creds["SecretAccessKey"],
                            creds["Token"]).get_caller_identity()
        self.assertIn(":assumed-role/%s/" % DEFAULT_INSTANCE_ROLE, ident["Arn"])

    def test_container_with_botocore_provider(self):
        provider = botocore.credentials.ContainerProvider(environ={
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": self.emu.url + "/_emu/container-credentials",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN": DEFAULT_CONTAINER_TOKEN})
        creds = provider.load().get_frozen_credentials()
        sts = self.client("sts", creds.access_key, creds.secret_key, creds.token)
        self.assertIn(":assumed-role/", sts.get_caller_identity()["Arn"])

    # -- web identity ------------------------------------------------------

    def test_assume_role_with_web_identity_unsigned(self):
        role = self.make_role("WebRole")
        # boto3 sends this call unsigned: an unknown key would otherwise be refused.
        sts = self.client("sts", akid="AKIAUNKNOWNKEY000000", secret="x")
        out = sts.assume_role_with_web_identity(
            RoleArn=role["Arn"], RoleSessionName="ci-job",
            WebIdentityToken="eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvOm1haW4ifQ.c2ln")
        self.assertEqual(out["SubjectFromWebIdentityToken"], "repo:main")
        self.assertEqual(out["AssumedRoleUser"]["Arn"],
                         "arn:aws:sts::%s:assumed-role/WebRole/ci-job" % ACCOUNT)
        c = out["Credentials"]
        ident = self.client("sts", c["AccessKeyId"], c["SecretAccessKey"],
                            c["SessionToken"]).get_caller_identity()
        self.assertEqual(ident["Arn"], out["AssumedRoleUser"]["Arn"])
        self.assertEqual(self.calls()["sts:AssumeRoleWithWebIdentity"], 1)

    def test_assume_role_with_web_identity_refusals(self):
        sts = self.client("sts")
        self.assertAwsError("AccessDenied", sts.assume_role_with_web_identity,
                            RoleArn="arn:aws:iam::%s:role/Missing" % ACCOUNT,
                            RoleSessionName="s1", WebIdentityToken="some-token")
        role = self.make_role("WebRole2")
        loose = self.client("sts", config=Config(retries={"total_max_attempts": 1},
                                                 parameter_validation=False))
        self.assertAwsError("ValidationError", loose.assume_role_with_web_identity,
                            RoleArn=role["Arn"], RoleSessionName="s1", WebIdentityToken="ab")
        # Only this operation goes unsigned: GetCallerIdentity is refused.
        conn = http.client.HTTPConnection("127.0.0.1", self.emu.port, timeout=10)
        conn.request("POST", "/", "Action=GetCallerIdentity&Version=2011-06-15",
                      {"Content-Type": "application/x-www-form-urlencoded"})
        resp = conn.getresponse()
        self.assertEqual(resp.status, 403)
        self.assertIn(b"MissingAuthenticationToken", resp.read())
        conn.close()


class PersistenceTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="awsemu-state-")
        self.path = os.path.join(self.tmp, "state.json")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def start(self, *extra):
        emu = Awsemu(self.tmp, "--state", self.path, *extra)
        self.addCleanup(lambda: emu.proc.poll() is None and emu.stop())
        return emu

    def client(self, emu, service, akid=DEFAULT_AKID, secret=DEFAULT_SECRET, token=None):
        return boto3.client(service, endpoint_url=emu.url, region_name="us-east-1",
                            aws_access_key_id=akid, aws_secret_access_key=secret,
                            aws_session_token=token, config=NO_RETRY)

    def test_round_trip_over_restart(self):
        emu = self.start("--async-delay-ms", "250", "--rate-limit", "1000",
                         "--latency-ms", "1")
        self.assertEqual(request(emu.url + "/_emu/config")[1], {"async_delay_ms": 250})
        self.assertEqual(request(emu.url + "/_emu/ratelimit")[1],
                         {"*": {"rps": 1000, "burst": 1000}})
        self.assertEqual(request(emu.url + "/_emu/latency")[1],
                         {"*": {"fixed_ms": 1, "random_ms": 0}})
        iam = self.client(emu, "iam")
        made = iam.create_role(RoleName="Kept", AssumeRolePolicyDocument=TRUST,
                               Description="survives", Tags=[{"Key": "k", "Value": "v"}])["Role"]
        iam.put_role_policy(RoleName="Kept", PolicyName="inline", PolicyDocument=TRUST)
        creds = self.client(emu, "sts").assume_role(RoleArn=made["Arn"],
                                                    RoleSessionName="s1")["Credentials"]
        status, domain = request(emu.url + "/_emu/call/sagemaker/CreateDomain", "POST", {
            "DomainName": "kept", "AuthMode": "IAM",
            "DefaultUserSettings": {"ExecutionRole": made["Arn"]},
            "SubnetIds": ["subnet-0123456789abcdef0"], "VpcId": "vpc-0123456789abcdef0"})
        self.assertEqual(status, 200, domain)
        described = self.client(emu, "sagemaker").describe_domain(DomainId=domain["DomainId"])
        before = request(emu.url + "/_emu/state")[1]["services"]
        self.assertEqual(emu.stop(), 0)
        self.assertTrue(os.path.exists(self.path))

        emu = self.start()
        self.assertEqual(request(emu.url + "/_emu/state")[1]["services"], before)
        role = self.client(emu, "iam").get_role(RoleName="Kept")["Role"]
        self.assertEqual((role["RoleId"], role["Description"], role["CreateDate"]),
                         (made["RoleId"], "survives", made["CreateDate"]))
        self.assertEqual(self.client(emu, "iam").list_role_policies(RoleName="Kept")
                         ["PolicyNames"], ["inline"])
        sts = self.client(emu, "sts", creds["AccessKeyId"], creds["SecretAccessKey"],
                          creds["SessionToken"])
        self.assertIn("assumed-role/Kept/s1", sts.get_caller_identity()["Arn"])
        again = self.client(emu, "sagemaker").describe_domain(DomainId=domain["DomainId"])
        for member in ("DomainArn", "CreationTime", "DefaultUserSettings"):
            self.assertEqual(again[member], described[member])
        self.assertEqual(emu.stop(), 0)

    def test_save_endpoint_and_tagged_values(self):
        emu = self.start()
        status, out = request(emu.url + "/_emu/save", "POST")
        self.assertEqual((status, out), (200, {"saved": self.path}))
        with open(self.path) as f:
            self.assertEqual(json.load(f)["format"], 1)
        self.assertEqual(emu.stop(), 0)

    def test_persist_codec_round_trips_python_values(self):
        import datetime
        from emu import persist
        data = {"iam": {"when": datetime.datetime(2026, 1, 2, 3, 4, 5, 600000,
                                                  tzinfo=datetime.timezone.utc),
                        "blob": b"\x00\xff", "pair": (1, "a"), "set": {"x"}, "f": 1.5,
                        "nested": [{"$notatag": 1, "other": 2}],
                        "odd_keys": {1: "int", ("d-1", "bob"): "tuple"}}}
        services, keys = persist.loads(persist.dumps(data))
        self.assertEqual(services, data)
        self.assertEqual(keys, [])

    def test_unreadable_state_file_is_refused(self):
        with open(self.path, "w") as f:
            f.write("not json")
        run = subprocess.run([AWSEMU, "--listen", "127.0.0.1:0", "--state", self.path],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(run.returncode, 2)
        self.assertIn("cannot load --state", run.stderr)


if __name__ == "__main__":
    unittest.main()
