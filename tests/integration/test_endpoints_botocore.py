# SPDX-License-Identifier: Apache-2.0
"""Differential test of our endpoint resolver against botocore's.

For every (service, region, FIPS, dual-stack) in a matrix covering every
region of every partition, regions the partitions only know by pattern,
regions no pattern knows, the retired FIPS pseudo-regions and malformed
names, plus endpoint overrides, tests/tools/endpoint-resolve prints what
sm_endpoint_resolve() decides and botocore builds a real client and sends
one request into a stub (no network) with the same settings. URL, host,
signing region and signing name must agree; where botocore refuses, we
must refuse too. Every mismatch is listed.

Both sides read the same rule sets: tests/data/aws-endpoints is put in front
of botocore's data path (see the README there for why).

Environment: ENDPOINT_RESOLVE is the tool, SM_SOURCE_ROOT the source tree
(both set by tests/integration/meson.build).
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest
from urllib.parse import urlsplit

import botocore.session
from botocore.config import Config
from botocore.endpoint_provider import RuleSetStandardLibrary

SERVICES = ["sagemaker", "iam", "sts", "servicecatalog"]
# One cheap operation per service that needs no parameters.
OPERATIONS = {
    "sagemaker": "list_domains",
    "iam": "list_roles",
    "sts": "get_caller_identity",
    "servicecatalog": "list_portfolios",
}
SIGNING_NAMES = {s: s for s in SERVICES}

# Regions the partitions do not list but whose regionRegex matches, and
# names no regex matches (they fall back to "aws").
UNLISTED_REGIONS = [
    "us-west-9", "eu-south-7", "ap-southeast-99", "il-north-2",
    "cn-south-3", "us-gov-central-2", "us-iso-north-4", "us-isob-south-2",
    "eu-isoe-north-5", "us-isof-west-3", "eusc-de-west-2",
    "xx-yyyy-1", "eusc-fr-east-1", "local", "us-east", "us-east-1a",
]
# Retired FIPS pseudo-regions: botocore strips the marker and sets FIPS.
PSEUDO_REGIONS = [
    "us-east-1-fips", "fips-us-east-1", "fips-us-gov-west-1", "us-gov-east-1-fips",
    "fips-cn-north-1", "us-iso-east-1-fips", "fips-aws-global",
]
# botocore refuses these names (validate_region_name) or the host they make.
BAD_REGIONS = ["eu_west_1", "-bad", "bad-", "123", "foo.bar", "a" * 64, "eu west 1"]

OVERRIDES = [
    "http://localhost:4566",
    "http://127.0.0.1:4566/",
    "https://example.com:8443/base/",
    "https://example.com:443",
    "http://[::1]:4566",
    # botocore refuses these.
    "localhost:4566",
    "http://h_x",
    "http://",
]
OVERRIDE_REGIONS = ["eu-west-1", "cn-north-1", "us-gov-west-1", "us-east-1-fips"]

# Where we knowingly differ, botocore accepting what we refuse (never the
# other way round):
#  - an upper-case region: botocore builds a host and a credential scope
#    with it, which AWS never verifies; we refuse the name up front;
#  - IAM or STS without a region: botocore's older endpoint table picks the
#    aws-global endpoint; we want a region for every service (the daemon
#    always has one);
#  - dual-stack with the pseudo-regions aws-iso-e-global / aws-iso-f-global:
#    botocore refuses dual-stack in those partitions only for names its
#    older table places there; we refuse it for the whole partition.
def _known_stricter(service, region, fips, dualstack):
    if region is None or region == "":
        return service in ("iam", "sts")
    if region in ("aws-iso-e-global", "aws-iso-f-global"):
        return dualstack
    return region != region.lower()


class Captured(Exception):
    """Raised from before-send: the request as botocore would send it."""

    def __init__(self, request):
        super().__init__("captured")
        self.request = request


def _rules_dir(source_root, loader):
    """A botocore data directory with our copy of the rule sets, laid out
    as botocore wants (<service>/<api version>/...)."""
    src = os.path.join(source_root, "tests", "data", "aws-endpoints")
    tmp = tempfile.mkdtemp(prefix="sm-endpoints-")
    shutil.copy(os.path.join(src, "partitions.json"), tmp)
    for service in SERVICES:
        version = loader.determine_latest_version(service, "service-2")
        dest = os.path.join(tmp, service, version)
        os.makedirs(dest)
        shutil.copy(os.path.join(src, service, "endpoint-rule-set-1.json"), dest)
    return tmp


class EndpointsAgainstBotocore(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tool = os.environ["ENDPOINT_RESOLVE"]
        cls.source_root = os.environ["SM_SOURCE_ROOT"]
        # Nothing of the caller's AWS setup may reach botocore.
        for name in list(os.environ):
            if name.startswith("AWS_"):
                del os.environ[name]
        os.environ["AWS_CONFIG_FILE"] = os.devnull
        os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
        os.environ["AWS_EC2_METADATA_DISABLED"] = "true"

        probe = botocore.session.get_session()
        cls.data_dir = _rules_dir(cls.source_root, probe.get_component("data_loader"))
        cls.session = botocore.session.get_session()
        cls.session.set_config_variable("data_path", cls.data_dir)
        cls.session.set_config_variable("sts_regional_endpoints", "regional")
        with open(os.path.join(cls.data_dir, "partitions.json")) as f:
            cls.partitions = json.load(f)
        cls.stdlib = RuleSetStandardLibrary(cls.partitions)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.data_dir, ignore_errors=True)

    def botocore_resolve(self, service, region, fips, dualstack, url=None):
        """("OK", url, signing region, host, signing name) or ("ERROR", text)."""
        config = Config(use_fips_endpoint=fips, use_dualstack_endpoint=dualstack,
                        retries={"mode": "standard", "total_max_attempts": 1})
        try:
            client = self.session.create_client(
                service, region_name=region, endpoint_url=url, config=config,
                aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret")

            def before_send(request, **kwargs):
                raise Captured(request)

            client.meta.events.register("before-send", before_send)
            getattr(client, OPERATIONS[service])()
        except Captured as c:
            request = c.request
        except Exception as e:  # noqa: BLE001 - any refusal counts
            return ("ERROR", "%s: %s" % (type(e).__name__, e))
        else:
            return ("ERROR", "no request was sent")

        auth = request.headers["Authorization"]
        if isinstance(auth, bytes):
            auth = auth.decode()
        scope = re.search(r"Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request", auth)
        parts = urlsplit(request.url)
        host = parts.hostname if parts.hostname and ":" not in parts.hostname \
            else "[%s]" % parts.hostname
        if parts.port and parts.port != {"http": 80, "https": 443}[parts.scheme]:
            host += ":%d" % parts.port
        return ("OK", request.url.rstrip("/"), scope.group(1), host, scope.group(2))

    def ours(self, cases):
        lines = []
        for service, region, fips, dualstack, url in cases:
            line = "%s %s %d %d" % (service, region if region else "-", fips, dualstack)
            if url:
                line += " " + url
            lines.append(line + "\n")
        p = subprocess.run([self.tool], input="".join(lines), capture_output=True,
                           text=True, check=True)
        out = p.stdout.splitlines()
        self.assertEqual(len(out), len(cases), p.stderr)
        return [tuple(line.split("\t")) for line in out]

    def compare(self, cases):
        mismatches = []
        agreed_errors = 0
        for case, mine in zip(cases, self.ours(cases)):
            service, region, fips, dualstack, url = case
            theirs = self.botocore_resolve(service, region, fips, dualstack, url)
            what = "%s region=%r fips=%s dualstack=%s url=%r" % (
                service, region, fips, dualstack, url)
            if theirs[0] == "ERROR":
                if mine[0] != "ERROR":
                    mismatches.append("%s: botocore refuses (%s), we resolve %s"
                                      % (what, theirs[1], mine[1:]))
                else:
                    agreed_errors += 1
                continue
            if mine[0] == "ERROR":
                if not (url is None and _known_stricter(service, region, fips, dualstack)):
                    mismatches.append("%s: botocore resolves %s, we refuse: %s"
                                      % (what, theirs[1:], mine[1]))
                continue
            _, our_url, our_region, our_host, our_partition = mine
            _, url_, region_, host_, name_ = theirs
            expected = (url_, region_, host_, SIGNING_NAMES[service])
            got = (our_url, our_region, our_host, name_)
            if got != expected:
                mismatches.append("%s: botocore %s, ours %s" % (what, expected, got))
            if url is None and region and region == region.lower():
                # The rule sets' partition of the region botocore uses.
                plain = region.replace("fips-", "").replace("-fips", "")
                partition = self.stdlib.aws_partition(plain)["name"]
                if our_partition != partition:
                    mismatches.append("%s: partition botocore %s, ours %s"
                                      % (what, partition, our_partition))
        return mismatches, agreed_errors

    def test_data_reaches_botocore(self):
        """The plumbing: botocore reads our copy of every rule set."""
        loader = self.session.get_component("data_loader")
        for service in SERVICES:
            path = os.path.join(self.source_root, "tests", "data", "aws-endpoints", service,
                                "endpoint-rule-set-1.json")
            with open(path) as f:
                ours = json.load(f)
            self.assertEqual(loader.load_service_model(service, "endpoint-rule-set-1"), ours,
                             service)

    def test_regions(self):
        listed = [r for p in self.partitions["partitions"] for r in p["regions"]]
        # The names botocore's older endpoint table knows for these services
        # ("aws-global", "iam-govcloud", "us-east-1-fips", ...): that table
        # still decides some signing regions and refusals in botocore.
        legacy = self.session.get_component("data_loader").load_data("endpoints")
        legacy_names = sorted({
            name for p in legacy["partitions"]
            for service in ("api.sagemaker", "iam", "sts", "servicecatalog")
            for name in p["services"].get(service, {}).get("endpoints", {})
        } - set(listed))
        regions = listed + legacy_names + UNLISTED_REGIONS + PSEUDO_REGIONS + BAD_REGIONS + \
            ["EU-WEST-1", "Us-East-1", None, ""]
        cases = [(s, r, f, d, None) for s in SERVICES for r in regions
                 for f in (False, True) for d in (False, True)]
        mismatches, agreed_errors = self.compare(cases)
        print("\n%d cases (%d regions x %d services x 4 variants), %d refused by both, "
              "%d mismatches" % (len(cases), len(regions), len(SERVICES), agreed_errors,
                                 len(mismatches)))
        self.assertGreater(len(listed), 40)
        self.assertFalse(mismatches, "\n" + "\n".join(mismatches))

    def test_overrides(self):
        cases = [(s, r, f, d, u) for s in SERVICES for r in OVERRIDE_REGIONS
                 for u in OVERRIDES for f in (False, True) for d in (False, True)]
        mismatches, agreed_errors = self.compare(cases)
        print("\n%d override cases, %d refused by both, %d mismatches"
              % (len(cases), agreed_errors, len(mismatches)))
        self.assertFalse(mismatches, "\n" + "\n".join(mismatches))


if __name__ == "__main__":
    unittest.main()
