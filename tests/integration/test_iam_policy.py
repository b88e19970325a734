# SPDX-License-Identifier: Apache-2.0
"""docs/iam-policy.json, the least-privilege policy of smstudiod's own role,
against the AWS operations the code calls, found two ways:

- statically: every string literal of the C sources that names an
  operation of SageMaker, IAM, Service Catalog or STS in botocore's models
  (the arguments of sm_aws_call, add_action, queue_op, queue_list,
  queue_role_op, outputs_call, the settle probes of plan.c, the Describe
  calls of apply.c ...), comments left out; where a literal sits next to an
  SM_SERVICE_* constant the two must agree;
- dynamically: the operations awsemu saw while `smstudiod --once` built the
  example estate (test_once's setup) and then took most of it down again.

Each must be granted by an Allow statement of the policy (IAM's action
wildcards matched; resources and conditions are not evaluated here, the
emulator grants everything). The policy must also grant nothing the code
does not call: no "*" action, no service-wide wildcard, every action used
by some source operation.

The policy's choices (JSON has no comments; each statement has a Sid):
- IAM resources are the four role names smstudio makes (roles.c
  sm_role_name: <domain>.<kind>, under any role_path), not role/*;
  `*.data-scientist` also covers `*.lead-data-scientist`.
- iam:PassRole only on those roles, only to sagemaker.amazonaws.com.
- SageMaker List* and the account-wide projects calls have no resource
  type: "*". Describe/Create/Update/tags on the Studio resource types.
- Deletes (sagemaker:Delete{UserProfile,Space,MlflowTrackingServer,
  StudioLifecycleConfig}, iam:DeleteRole) only where the resource carries
  the smstudio:managed-by tag (aws:ResourceTag, Null false): smstudio
  deletes only what it tagged. Not on DeleteApp (apps are made by users
  in Studio and need not carry our tag), nor on Update*/AddTags/DeleteTags
  (adopt: true tags and updates resources that are not ours yet).
- sts:GetCallerIdentity needs no permission; granted to say it is used.
These conditions and resources are not evaluated by this test."""

import fnmatch
import json
import os
import re
import sys
import unittest

import test_once  # noqa: E402  (its emulator and estate setup, reused)

SOURCE_ROOT = test_once.SOURCE_ROOT
# SM_IAM_POLICY: check another policy document (an edited copy) instead.
POLICY = os.environ.get("SM_IAM_POLICY", os.path.join(SOURCE_ROOT, "docs", "iam-policy.json"))

# The sources whose literals are the calls the daemon and smstudioctl make:
# all of src/ (the calls live in src/reconcile, src/ctl and src/aws/creds.c
# today; scanning everything catches a call added anywhere else).
SOURCE_GLOBS = ("src/**/*.c", "src/**/*.h")
# Not calls: roles.c holds the policy documents written INTO the Studio
# roles (their Sids and actions name SageMaker operations such as
# DescribeImageVersion that smstudio itself never calls).
SOURCE_EXCLUDED = {"src/reconcile/roles.c"}

# IAM service prefix of each botocore service (and awsemu's call names).
SERVICES = {"sagemaker": "sagemaker", "iam": "iam", "servicecatalog": "servicecatalog",
            "sts": "sts"}
# SM_SERVICE_* constant -> botocore service.
SERVICE_CONSTANTS = {"SAGEMAKER": "sagemaker", "IAM": "iam",
                     "SERVICECATALOG": "servicecatalog", "STS": "sts"}

# Operations the code calls that the daemon's role deliberately is not
# granted, with the reason.
NOT_GRANTED = {
    # creds.c: the credential chain assumes the configured role with the
    # SOURCE identity's credentials (a profile's source_profile, or the web
    # identity token); the permission belongs to that identity's policy and
    # the role's trust policy, not to the role this document is for.
    "sts:AssumeRole": "called with the source identity, before the role exists for us",
    # AssumeRoleWithWebIdentity is unsigned: no IAM permission is involved.
    "sts:AssumeRoleWithWebIdentity": "unsigned; authorised by the role's trust policy",
}

# Actions the policy grants although no literal of the sources names them,
# with the reason. Add one only with a reason.
EXTRA_GRANTS = {
    # Permission-only action: no API of that name. SageMaker checks it
    # when CreateDomain, CreateUserProfile, CreateSpace, Update* and
    # CreateMlflowTrackingServer are given a role ARN (execution roles,
    # the MLflow tracking server's role).
    "iam:PassRole": "checked by SageMaker when a request names a role",
}

STRING_RE = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
# SM_SERVICE_X, "Operation" as the arguments of one call.
SERVICE_ARG_RE = re.compile(r'SM_SERVICE_([A-Z]+)\s*,\s*"([A-Za-z0-9]+)"')


def operation_names():
    """{operation: botocore service} for the four services."""
    import botocore.session

    session = botocore.session.get_session()
    names = {}
    for service in SERVICES:
        for op in session.get_service_model(service).operation_names:
            names.setdefault(op, []).append(service)
    return names


def strip_comments(text):
    # Keep string literals intact: blank comments only outside strings.
    out, pos = [], 0
    token = re.compile(r'"(?:[^"\\\n]|\\.)*"|/\*.*?\*/|//[^\n]*', re.S)
    for m in token.finditer(text):
        out.append(text[pos:m.start()])
        out.append(m.group(0) if m.group(0).startswith('"') else " ")
        pos = m.end()
    out.append(text[pos:])
    return "".join(out)


def source_files():
    import glob

    files = []
    for pattern in SOURCE_GLOBS:
        for path in sorted(glob.glob(os.path.join(SOURCE_ROOT, pattern), recursive=True)):
            rel = os.path.relpath(path, SOURCE_ROOT)
            if rel not in SOURCE_EXCLUDED:
                files.append((rel, path))
    return files


def static_operations():
    """{"svc:Operation": [where, ...]} of every operation literal, and the
    list of SM_SERVICE_* / literal disagreements."""
    names = operation_names()
    found, disagreements = {}, []
    for rel, path in source_files():
        with open(path, encoding="utf-8") as f:
            text = strip_comments(f.read())
        for m in STRING_RE.finditer(text):
            services = names.get(m.group(1))
            if not services:
                continue
            if len(services) != 1:
                disagreements.append("%s: %s is an operation of %s" % (rel, m.group(1), services))
                continue
            line = text.count("\n", 0, m.start()) + 1
            found.setdefault("%s:%s" % (SERVICES[services[0]], m.group(1)), []).append(
                "%s:%d" % (rel, line))
        for m in SERVICE_ARG_RE.finditer(text):
            svc = SERVICE_CONSTANTS.get(m.group(1))
            if svc is None or svc not in names.get(m.group(2), []):
                line = text.count("\n", 0, m.start()) + 1
                disagreements.append("%s:%d: SM_SERVICE_%s with %s, which is not its operation"
                                     % (rel, line, m.group(1), m.group(2)))
    return found, disagreements


def load_policy():
    with open(POLICY, encoding="utf-8") as f:
        return json.load(f)


def as_list(v):
    return v if isinstance(v, list) else [v]


def action_matches(pattern, action):
    """IAM action matching: case-insensitive, * and ? wildcards."""
    return fnmatch.fnmatchcase(action.lower(), pattern.lower()) and "[" not in pattern


def granted(policy, action):
    allow = any(action_matches(p, action)
                for s in policy["Statement"] if s["Effect"] == "Allow"
                for p in as_list(s["Action"]))
    deny = any(action_matches(p, action)
               for s in policy["Statement"] if s["Effect"] == "Deny"
               for p in as_list(s["Action"]))
    return allow and not deny


class PolicyShape(unittest.TestCase):
    def test_shape(self):
        policy = load_policy()
        self.assertEqual(set(policy), {"Version", "Statement"})
        self.assertEqual(policy["Version"], "2012-10-17")
        self.assertIsInstance(policy["Statement"], list)
        self.assertTrue(policy["Statement"])
        sids = []
        for s in policy["Statement"]:
            self.assertLessEqual(set(s), {"Sid", "Effect", "Action", "Resource", "Condition"}, s)
            self.assertRegex(s.get("Sid", ""), r"^[A-Za-z0-9]+$", s)
            sids.append(s["Sid"])
            self.assertIn(s["Effect"], ("Allow", "Deny"), s)
            for key in ("Action", "Resource"):
                self.assertIn(key, s)
                self.assertTrue(as_list(s[key]), s)
                for v in as_list(s[key]):
                    self.assertIsInstance(v, str, s)
            for a in as_list(s["Action"]):
                self.assertRegex(a, r"^(%s):[A-Za-z*?]+$" % "|".join(SERVICES.values()), s)
            for r in as_list(s["Resource"]):
                self.assertTrue(r == "*" or r.startswith("arn:"), s)
            if "Condition" in s:
                self.assertIsInstance(s["Condition"], dict, s)
        self.assertEqual(len(sids), len(set(sids)), "Sids are unique")

    def test_pass_role_only_to_sagemaker(self):
        for s in load_policy()["Statement"]:
            if any(action_matches(a, "iam:PassRole") for a in as_list(s["Action"])):
                self.assertEqual(as_list(s["Action"]), ["iam:PassRole"], s)
                self.assertEqual(s.get("Condition"), {"StringEquals": {
                    "iam:PassedToService": "sagemaker.amazonaws.com"}}, s)
                self.assertNotIn("*", as_list(s["Resource"]), s)

    def test_matcher(self):
        policy = {"Statement": [{"Effect": "Allow",
                                 "Action": ["sagemaker:Describe*", "iam:GetRole"]},
                                {"Effect": "Deny", "Action": "sagemaker:DescribeApp"}]}
        self.assertTrue(granted(policy, "sagemaker:DescribeDomain"))
        self.assertTrue(granted(policy, "IAM:getrole"))
        self.assertFalse(granted(policy, "sagemaker:DescribeApp"))
        self.assertFalse(granted(policy, "iam:GetRolePolicy"))
        self.assertFalse(granted(policy, "sagemaker:ListDomains"))


class StaticOperations(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.found, cls.disagreements = static_operations()
        cls.policy = load_policy()

    def test_extraction_sees_the_calls(self):
        self.assertEqual(self.disagreements, [])
        # Calls made through each path of the code: sm_aws_call directly
        # (whoami), queue_op/queue_list/queue_role_op (observe), add_action
        # (plan), the settle probes (plan), outputs_call (outputs), creds.
        for op in ("sts:GetCallerIdentity", "sagemaker:ListUserProfiles", "iam:GetRolePolicy",
                   "sagemaker:CreateDomain", "sagemaker:DescribeApp", "iam:GetRole",
                   "servicecatalog:ListAcceptedPortfolioShares", "sts:AssumeRole",
                   "iam:DeleteRole", "sagemaker:EnableSagemakerServicecatalogPortfolio"):
            self.assertIn(op, self.found)
        # roles.c's policy documents are not calls.
        self.assertNotIn("sagemaker:DescribeImageVersion", self.found)

    def test_every_source_operation_is_granted(self):
        missing = {op: where for op, where in self.found.items()
                   if op not in NOT_GRANTED and not granted(self.policy, op)}
        self.assertEqual(missing, {}, "operations the code calls that docs/iam-policy.json "
                         "does not grant (op: where)")

    def test_deliberately_not_granted(self):
        for op in NOT_GRANTED:
            self.assertIn(op, self.found, "stale NOT_GRANTED entry")
            self.assertFalse(granted(self.policy, op), op)

    def test_nothing_granted_beyond_the_code(self):
        for s in self.policy["Statement"]:
            for a in as_list(s["Action"]):
                self.assertNotEqual(a, "*")
                self.assertFalse(a.endswith(":*"), a)
                if a in EXTRA_GRANTS:
                    continue
                self.assertTrue([op for op in self.found if action_matches(a, op)],
                                "%s (Sid %s) grants no operation the code calls" % (a, s["Sid"]))


class DynamicOperations(unittest.TestCase):
    """test_once's emulator and estate: build it, then remove the users,
    MLflow, projects and the lifecycle config, and check every call."""

    setUpClass = classmethod(test_once.OnceTest.setUpClass.__func__)
    tearDownClass = classmethod(test_once.OnceTest.tearDownClass.__func__)
    admin = test_once.OnceTest.admin
    calls = test_once.OnceTest.calls
    once = test_once.OnceTest.once
    once_with = test_once.OnceTest.once_with

    def test_calls_are_granted(self):
        self.admin("POST", "/_emu/config", {"async_delay_ms": 20})
        p = self.once()
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn("sagemaker:CreateDomain", self.calls())

        for name in ("alice.yaml", "bob.yaml"):
            os.unlink(os.path.join(self.mdir, name))
        path = os.path.join(self.mdir, "00-domain.yaml")
        with open(path, encoding="utf-8") as f:
            text = f.read()
        text = re.sub(r"(?m)^mlflow_enabled: true$", "mlflow_enabled: false", text)
        text = re.sub(r"(?m)^enable_custom_sagemaker_projects: true$",
                      "enable_custom_sagemaker_projects: false", text)
        text = re.sub(r"(?m)^server_lifecycle_name: .*\n", "", text)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        p = self.once("--approve-deletions")
        self.assertIn(p.returncode, (2, 6), p.stdout + p.stderr)

        seen = {op for op, n in self.calls().items() if n}
        if os.environ.get("SM_IAM_POLICY_VERBOSE"):
            print("\nseen: %s" % " ".join(sorted(seen)), file=sys.stderr)
        # The removal pass did remove: its calls are in the set checked.
        for op in ("sagemaker:DeleteUserProfile", "sagemaker:DeleteSpace",
                   "sagemaker:DeleteMlflowTrackingServer"):
            self.assertIn(op, seen, p.stdout)
        policy = load_policy()
        found, _ = static_operations()
        self.assertEqual(sorted(op for op in seen if op.split(":")[0] not in SERVICES), [])
        self.assertEqual(sorted(op for op in seen if not granted(policy, op)), [],
                         "operations smstudiod called that docs/iam-policy.json does not grant")
        # The static extraction missed none of them.
        self.assertEqual(sorted(seen - set(found)), [])


if __name__ == "__main__":
    unittest.main()
