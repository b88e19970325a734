# SPDX-License-Identifier: Apache-2.0
"""Differential test of our AWS Query encoder against botocore's serializer.

Fixed cases are the IAM and STS calls smstudio makes (CreateRole with tags
and a policy document, AttachRolePolicy, AssumeRole with PolicyArns, ...).
A seeded generator then builds parameters for every IAM and STS operation
from botocore's own input shapes: nested structures, lists (empty ones
included), lists of structures, integers, booleans and strings full of
reserved, percent, plus and non-ASCII characters. tests/tools/query-encode
encodes each with sm_protocol_encode(); botocore's query serializer does
the same; the form fields, parsed and sorted, must be equal. Our body must
also be strict RFC 3986: nothing but unreserved characters, '%XX', '=' and
'&'.

Members our model-free encoder cannot express (maps, blobs, timestamps,
floats) are left out of the generated parameters.

Environment: QUERY_ENCODE is the tool (set by tests/integration/meson.build);
QUERY_SEED and QUERY_ROUNDS override the generator's seed and the number of
random requests per operation.
"""

import json
import os
import random
import re
import string
import subprocess
import unittest
from urllib.parse import parse_qsl

import botocore.session
from botocore import serialize

SEED = int(os.environ.get("QUERY_SEED", "20100508"))
ROUNDS = int(os.environ.get("QUERY_ROUNDS", "2"))

CHARS = (string.ascii_letters + string.digits + " -_.~!*'();:@&=+$,/?#[]%\"<>\\^`{|}\t\n"
         + "éüßñ€ሴ中文한😀𝄞")
STRICT_BODY = re.compile(r"^(?:[A-Za-z0-9._~-]|%[0-9A-F]{2}|[=&])*$")
SKIPPED_TYPES = {"map", "blob", "timestamp", "float", "double"}


def _tool():
    path = os.environ.get("QUERY_ENCODE")
    if not path:
        raise unittest.SkipTest("QUERY_ENCODE is not set (run through meson test)")
    return path


def _models():
    session = botocore.session.get_session()
    return {name: session.get_service_model(name) for name in ("iam", "sts")}


def _botocore_fields(model, operation, params):
    serializer = serialize.create_serializer("query", include_validation=False)
    request = serializer.serialize_to_request(params, model.operation_model(operation))
    return sorted((k, str(v)) for k, v in request["body"].items())


def _random_value(rng, shape, depth):
    kind = shape.type_name
    if kind == "structure":
        out = {}
        for name, member in shape.members.items():
            if member.type_name in SKIPPED_TYPES or depth > 4 or rng.random() < 0.3:
                continue
            value = _random_value(rng, member, depth + 1)
            if value is not None:
                out[name] = value
        return out
    if kind == "list":
        if shape.member.type_name in SKIPPED_TYPES:
            return None
        return [_random_value(rng, shape.member, depth + 1) for _ in range(rng.randrange(4))]
    if kind == "string":
        if shape.enum and rng.random() < 0.5:
            return rng.choice(shape.enum)
        return "".join(rng.choice(CHARS) for _ in range(rng.randrange(0, 24)))
    if kind in ("integer", "long"):
        return rng.choice([0, 1, -1, 3600, 2**31 - 1, -(2**31), 2**53 + 1, rng.randrange(-10**9, 10**9)])
    if kind == "boolean":
        return rng.random() < 0.5
    return None


class QueryEncodeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tool = _tool()
        cls.models = _models()

    def _encode_all(self, cases):
        lines = "".join(json.dumps({"id": i, "action": op, "version": self.models[svc].api_version,
                                    "params": params}) + "\n"
                        for i, (svc, op, params) in enumerate(cases))
        out = subprocess.run([self.tool], input=lines.encode(), stdout=subprocess.PIPE,
                             check=True).stdout.decode()
        results = [json.loads(line) for line in out.splitlines()]
        self.assertEqual(len(results), len(cases))
        return results

    def _compare(self, cases):
        failures = []
        for (svc, op, params), res in zip(cases, self._encode_all(cases)):
            if "error" in res:
                failures.append(f"{svc} {op} {params!r}: our encoder refused: {res['error']}")
                continue
            body = res["body"]
            if not STRICT_BODY.match(body):
                failures.append(f"{svc} {op}: body is not strict RFC 3986: {body!r}")
            ours = sorted(parse_qsl(body, keep_blank_values=True, strict_parsing=True))
            theirs = _botocore_fields(self.models[svc], op, params)
            if ours != theirs:
                only_ours = sorted(set(ours) - set(theirs))
                only_theirs = sorted(set(theirs) - set(ours))
                failures.append(f"{svc} {op} {params!r}:\n  only ours: {only_ours}\n"
                                f"  only botocore: {only_theirs}")
        self.assertFalse(failures, "\n".join(failures[:20]))

    def test_smstudio_calls(self):
        trust = json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"},
            "Action": "sts:AssumeRole"}]})
        policy = json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": "arn:aws:s3:::bucket-*/*", "Condition": {
                "StringEquals": {"aws:ResourceTag/team": "ml ops+data"}}}]})
        cases = [
            ("iam", "CreateRole", {
                "RoleName": "smstudio-exec", "Path": "/service-role/",
                "AssumeRolePolicyDocument": trust, "Description": "Studio exécution rôle",
                "MaxSessionDuration": 43200,
                "PermissionsBoundary": "arn:aws:iam::123456789012:policy/boundary",
                "Tags": [{"Key": "smstudio:managed-by", "Value": "prod"},
                         {"Key": "owner", "Value": "alice@example.com"}]}),
            ("iam", "AttachRolePolicy", {
                "RoleName": "smstudio-exec",
                "PolicyArn": "arn:aws:iam::aws:policy/AmazonSageMakerFullAccess"}),
            ("iam", "DetachRolePolicy", {
                "RoleName": "smstudio-exec",
                "PolicyArn": "arn:aws:iam::aws:policy/AmazonSageMakerCanvasFullAccess"}),
            ("iam", "PutRolePolicy", {
                "RoleName": "smstudio-exec", "PolicyName": "inline", "PolicyDocument": policy}),
            ("iam", "UpdateAssumeRolePolicy", {"RoleName": "smstudio-exec", "PolicyDocument": trust}),
            ("iam", "TagRole", {"RoleName": "r", "Tags": [{"Key": "a", "Value": ""}]}),
            ("iam", "UntagRole", {"RoleName": "r", "TagKeys": ["a", "b c", "smstudio:x"]}),
            ("iam", "UntagRole", {"RoleName": "r", "TagKeys": []}),
            ("iam", "ListRoles", {"PathPrefix": "/service-role/", "MaxItems": 1000,
                                  "Marker": "AAIAAaBbCcDd+EeFf/=="}),
            ("iam", "ListAttachedRolePolicies", {"RoleName": "r", "MaxItems": 100}),
            ("iam", "CreatePolicyVersion", {
                "PolicyArn": "arn:aws:iam::123456789012:policy/p", "PolicyDocument": policy,
                "SetAsDefault": True}),
            ("iam", "GetRole", {"RoleName": "smstudio-exec"}),
            ("iam", "DeleteRole", {"RoleName": "smstudio-exec"}),
            ("sts", "GetCallerIdentity", {}),
            ("sts", "AssumeRole", {
                "RoleArn": "arn:aws:iam::123456789012:role/deploy", "RoleSessionName": "smstudio",
                "PolicyArns": [{"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
                               {"arn": "arn:aws:iam::123456789012:policy/extra"}],
                "Policy": policy, "DurationSeconds": 3600, "ExternalId": "ext=1&2",
                "Tags": [{"Key": "project", "Value": "mlops"}], "TransitiveTagKeys": ["project"],
                "SerialNumber": "arn:aws:iam::123456789012:mfa/alice", "TokenCode": "123456"}),
            ("sts", "AssumeRoleWithWebIdentity", {
                "RoleArn": "arn:aws:iam::123456789012:role/irsa", "RoleSessionName": "pod",
                "WebIdentityToken": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln+/=",
                "DurationSeconds": 900}),
        ]
        self._compare(cases)

    def test_random_requests(self):
        rng = random.Random(SEED)
        cases = []
        for svc, model in sorted(self.models.items()):
            for op in model.operation_names:
                shape = model.operation_model(op).input_shape
                for _ in range(ROUNDS):
                    params = _random_value(rng, shape, 0) if shape else {}
                    cases.append((svc, op, params))
        self.assertGreater(len(cases), 100)
        self._compare(cases)


if __name__ == "__main__":
    unittest.main()
