# SPDX-License-Identifier: Apache-2.0
"""Differential test of our SigV4 signer against botocore's.

A seeded generator makes a few hundred requests of the kinds the daemon
sends (JSON 1.1 POSTs with X-Amz-Target, Query-protocol form POSTs) and of
kinds it does not (random paths and query strings with spaces, reserved and
non-ASCII characters, dot segments, S3-style unnormalised paths), with and
without a session token. botocore.auth.SigV4Auth (S3SigV4Auth for the S3
ones) signs each at a frozen, per-request time; tests/tools/sigv4-sign signs
the same request; canonical request, string to sign and Authorization must
agree byte for byte. Every disagreement is printed with its request.

Environment: SIGV4_SIGN is the tool (set by tests/integration/meson.build);
SM_SOURCE_ROOT locates tests/data/sigv4 for a plumbing check; SIGV4_SEED and
SIGV4_REQUESTS override the generator's seed and size.
"""

import base64
import datetime
import json
import os
import random
import string
import subprocess
import types
import unittest
from unittest import mock
from urllib.parse import quote, urlsplit

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

# Fixed so that a failure reproduces; override to explore further
# (SIGV4_SEED=n SIGV4_REQUESTS=m).
SEED = int(os.environ.get("SIGV4_SEED", "20150830"))
N_REQUESTS = int(os.environ.get("SIGV4_REQUESTS", "300"))

REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2", "us-gov-west-1", "cn-north-1"]
SERVICES = ["sagemaker", "sts", "iam", "servicecatalog", "service", "execute-api"]
HOSTS = ["api.sagemaker.eu-west-1.amazonaws.com", "sts.amazonaws.com",
         "example.amazonaws.com", "localhost:4566", "127.0.0.1:8443"]
# Printable ASCII plus characters that need care: reserved and sub-delims,
# '%' and '+' (which mean something in an encoded query), non-ASCII from the
# BMP and beyond it.
ASCII = string.ascii_letters + string.digits + " -_.~!*'();:@&=+$,/?#[]%\"<>\\^`{|}"
UNICODE = "éüßñ€ሴ中文한😀𝄞"
# Header values: no control characters and no Unicode white space, which
# Python's str.split() (botocore's trim) would fold and the SigV4 spec does
# not mention; tabs and runs of spaces are in.
HEADER_CHARS = string.ascii_letters + string.digits + ' \t-_.~!*\'();:@&=+$,/?#[]%"éü'

AKIDS = ["AKIDEXAMPLE", "ASIAQWERTYUIOPASDFGH", "AKIA0123456789ABCDEF"]
SECRET_CHARS = string.ascii_letters + string.digits + "/+"


def _tool():
    path = os.environ.get("SIGV4_SIGN")
    if not path:
        raise unittest.SkipTest("SIGV4_SIGN is not set (run through meson test)")
    return path


def _frozen_clock(when):
    """Make botocore's SigV4Auth see `when` as now.

    botocore 1.3x+ reads the clock through botocore.auth.get_current_datetime
    (imported from botocore.compat); older ones call datetime.datetime.utcnow()
    through the module's `datetime` name. Patch whichever exists; the test
    also checks the X-Amz-Date botocore wrote, so a silent miss cannot
    pass."""
    if hasattr(botocore.auth, "get_current_datetime"):
        return mock.patch.object(botocore.auth, "get_current_datetime",
                                 lambda *a, **k: when)

    class FrozenDatetime(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return when

        @classmethod
        def now(cls, tz=None):
            return when.replace(tzinfo=tz) if tz else when

    fake = types.SimpleNamespace(datetime=FrozenDatetime, timezone=datetime.timezone,
                                 timedelta=datetime.timedelta)
    return mock.patch.object(botocore.auth, "datetime", fake)


class RecordingSigV4Auth(botocore.auth.SigV4Auth):
    """SigV4Auth that keeps its intermediate results for comparison."""

    def canonical_request(self, request):
        self.last_creq = super().canonical_request(request)
        return self.last_creq

    def string_to_sign(self, request, canonical_request):
        self.last_sts = super().string_to_sign(request, canonical_request)
        return self.last_sts


class RecordingS3SigV4Auth(botocore.auth.S3SigV4Auth):
    def canonical_request(self, request):
        self.last_creq = super().canonical_request(request)
        return self.last_creq

    def string_to_sign(self, request, canonical_request):
        self.last_sts = super().string_to_sign(request, canonical_request)
        return self.last_sts


class Generator:
    def __init__(self, seed):
        self.rng = random.Random(seed)

    def text(self, max_len, alphabet=None, min_len=0):
        rng = self.rng
        n = rng.randint(min_len, max_len)
        if alphabet is None:
            alphabet = ASCII + UNICODE if rng.random() < 0.5 else ASCII
        return "".join(rng.choice(alphabet) for _ in range(n))

    def header_value(self):
        rng = self.rng
        core = self.text(12, HEADER_CHARS, 1)
        # Leading/trailing blanks and inner runs, which must be trimmed
        # and squeezed.
        pad = ["", " ", "  ", "\t", " \t "]
        return rng.choice(pad) + core.replace(" ", rng.choice([" ", "   "])) + \
                rng.choice(pad)

    def json_value(self, depth=0):
        rng = self.rng
        kind = rng.randrange(7 if depth < 3 else 4)
        if kind == 0:
            return self.text(20)
        if kind == 1:
            return rng.randint(-10**12, 10**12)
        if kind == 2:
            return rng.choice([True, False, None])
        if kind == 3:
            return rng.random() * 1e6
        if kind in (4, 5):
            return {self.text(10, min_len=1): self.json_value(depth + 1)
                    for _ in range(rng.randint(0, 4))}
        return [self.json_value(depth + 1) for _ in range(rng.randint(0, 4))]

    def params(self):
        rng = self.rng
        out = []
        for _ in range(rng.randint(0, 6)):
            key = self.text(8, min_len=1)
            # Repeated keys, to exercise the sort by value.
            if out and rng.random() < 0.2:
                key = rng.choice(out)[0]
            out.append((key, self.text(16)))
        return out

    def wire_path(self):
        """A path as sent: each segment percent-encoded once, with
        sub-delims sometimes left bare (legal in a path), plus dot
        segments, empty segments and trailing slashes."""
        rng = self.rng
        if rng.random() < 0.05:
            return ""
        segs = []
        for _ in range(rng.randint(0, 5)):
            r = rng.random()
            if r < 0.1:
                segs.append(".")
            elif r < 0.2:
                segs.append("..")
            elif r < 0.3:
                segs.append("")
            else:
                safe = rng.choice(["", "!$&'()*+,;=:@", "~"])
                segs.append(quote(self.text(10, min_len=1), safe=safe))
        path = "/" + "/".join(segs)
        if rng.random() < 0.3:
            path += "/"
        return path

    def credentials(self):
        rng = self.rng
        akid = rng.choice(AKIDS)
        secret = "".join(rng.choice(SECRET_CHARS) for _ in range(40))
        token = None
        if rng.random() < 0.5:
            token = "".join(rng.choice(SECRET_CHARS) for _ in range(rng.randint(
                    100, 400))) + "=="
        return Credentials(akid, secret, token)

    def when(self):
        rng = self.rng
        base = datetime.datetime(2015, 8, 30, 12, 36, 0)
        # Some near midnight, where date and time must agree.
        if rng.random() < 0.2:
            base = datetime.datetime(2024, 2, 29, 23, 59, 59)
        return base + datetime.timedelta(seconds=rng.randint(0, 3 * 86400))

    def request(self):
        """Returns (style, unsigned AWSRequest, auth class, normalize_path,
        body bytes)."""
        rng = self.rng
        host = rng.choice(HOSTS)
        headers = {"Host": host}
        params = None
        query = ""
        auth_cls = RecordingSigV4Auth
        normalize = True
        style = rng.choice(["json", "json", "query", "query", "rest", "rest", "s3"])

        if style == "json":
            method, path = "POST", "/"
            headers["Content-Type"] = "application/x-amz-json-1.1"
            headers["X-Amz-Target"] = "SageMaker." + rng.choice(
                    ["ListDomains", "DescribeSpace", "CreateApp", "DeleteUserProfile"])
            body = json.dumps(self.json_value(),
                              ensure_ascii=rng.random() < 0.5).encode("utf-8")
        elif style == "query":
            method, path = "POST", "/"
            headers["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"
            form = [("Action", rng.choice(["GetCallerIdentity", "ListRoles"])),
                    ("Version", "2011-06-15")] + self.params()
            body = "&".join(quote(k, safe="-_.~") + "=" + quote(v, safe="-_.~")
                            for k, v in form).encode("ascii")
        elif style == "rest":
            method = rng.choice(["GET", "GET", "POST", "PUT", "DELETE", "HEAD"])
            path = self.wire_path()
            if rng.random() < 0.5:
                # botocore signs params itself (RFC 3986) and
                # sends them form-encoded ('+' for a space).
                params = self.params() or None
            elif rng.random() < 0.7:
                # A query already in canonical spelling, which
                # botocore signs as it stands; keys without
                # '=' and empty values included.
                parts = []
                for k, v in self.params():
                    k = quote(k, safe="-_.~")
                    r = rng.random()
                    parts.append(k if r < 0.15 else
                                 k + "=" if r < 0.3 else
                                 k + "=" + quote(v, safe="-_.~"))
                query = "&".join(parts)
            body = b""
            if method in ("POST", "PUT") and rng.random() < 0.7:
                body = bytes(rng.randrange(256) for _ in range(rng.randint(0, 64)))
        else:
            # S3: the key is encoded once (as botocore's S3 client
            # does) and signed as it stands.
            auth_cls = RecordingS3SigV4Auth
            normalize = False
            method = rng.choice(["GET", "PUT", "HEAD"])
            key = self.text(20, min_len=1)
            path = "/bucket/" + quote(key, safe="/~")
            if rng.random() < 0.5:
                params = self.params() or None
            body = b""
            if method == "PUT":
                body = self.text(40).encode("utf-8")

        for _ in range(rng.randint(0, 3)):
            name = rng.choice(["My-Header1", "X-Amz-Meta-Color", "x-custom", "X-Amz",
                               "Content-MD5", "If-Match"])
            headers[name] = self.header_value()

        url = "https://" + host + path + ("?" + query if query else "")
        req = AWSRequest(method=method, url=url, headers=headers, params=params,
                         data=body)
        return style, req, auth_cls, normalize, body


def _describe(entry):
    return json.dumps(entry, ensure_ascii=False, indent=1)


class SigV4BotocoreTest(unittest.TestCase):
    maxDiff = None

    def run_tool(self, entries):
        lines = "".join(json.dumps(e) + "\n" for e in entries)
        proc = subprocess.run([_tool()], input=lines.encode("utf-8"),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=120, check=False)
        self.assertEqual(proc.returncode, 0, proc.stderr.decode("utf-8", "replace"))
        out = [json.loads(line) for line in proc.stdout.decode("utf-8").splitlines()]
        self.assertEqual(len(out), len(entries), "one output line per request")
        return out

    def test_differential(self):
        gen = Generator(SEED)
        entries, expected = [], []
        styles = {}

        for i in range(N_REQUESTS):
            style, req, auth_cls, normalize, body = gen.request()
            creds = gen.credentials()
            region, service = gen.rng.choice(REGIONS), gen.rng.choice(SERVICES)
            if auth_cls is RecordingS3SigV4Auth:
                service = "s3"
            when = gen.when()
            auth = auth_cls(creds, service, region)
            with _frozen_clock(when):
                auth.add_auth(req)
            amz_date = when.strftime("%Y%m%dT%H%M%SZ")
            self.assertEqual(req.headers["X-Amz-Date"], amz_date,
                             "botocore did not use the frozen clock")

            # What went over the wire: the prepared URL carries the
            # form-encoded params.
            wire = urlsplit(req.prepare().url)
            headers = [[k, v] for k, v in req.headers.items()
                       if k.lower() != "authorization"]
            entry = {
                "id": i,
                "style": style,
                "method": req.method,
                "path": wire.path,
                "query": wire.query or None,
                "headers": headers,
                "akid": creds.access_key,
                "secret": creds.secret_key,
                "region": region,
                "service": service,
                "amz_date": amz_date,
                "normalize_path": normalize,
            }
            if gen.rng.random() < 0.5 or not _is_utf8(body):
                entry["body_base64"] = base64.b64encode(body).decode("ascii")
            else:
                entry["body"] = body.decode("utf-8")
            entries.append(entry)
            expected.append({
                    "canonical_request": auth.last_creq,
                    "string_to_sign": auth.last_sts,
                    "authorization": req.headers["Authorization"],
            })
            styles[style] = styles.get(style, 0) + 1

        got = self.run_tool(entries)
        failures = []
        for entry, want, have in zip(entries, expected, got):
            self.assertEqual(have.get("id"), entry["id"])
            if "error" in have:
                failures.append(f'request {entry["id"]}: tool error {have}\n'
                                f"{_describe(entry)}")
                continue
            diffs = [k for k in want if have[k] != want[k]]
            if diffs:
                msg = [f'request {entry["id"]} ({entry["style"]}): '
                       f'{", ".join(diffs)} differ', _describe(entry)]
                for k in diffs:
                    msg.append(f"--- {k}, botocore:\n{want[k]}\n"
                               f"--- {k}, ours:\n{have[k]}")
                failures.append("\n".join(msg))
            elif not want["authorization"].endswith("Signature=" + have["signature"]):
                failures.append(f'request {entry["id"]}: signature field '
                                f'{have["signature"]} not in Authorization')

        print(f"\n{len(entries)} requests {styles}: {len(failures)} differ")
        for f in failures:
            print(f, "\n")
        self.assertEqual(len(failures), 0,
                         f"{len(failures)} of {len(entries)} signatures differ from "
                         f'botocore; first:\n{failures[0] if failures else ""}')
        # The generator must actually cover what it claims.
        for style in ("json", "query", "rest", "s3"):
            self.assertGreater(styles.get(style, 0), 10, style)

    def test_tool_on_suite_vector(self):
        """The tool's plumbing, on one vector of the AWS suite."""
        root = os.environ.get("SM_SOURCE_ROOT") or os.path.join(
            os.path.dirname(os.path.abspath(__file__)), "..", "..")
        d = os.path.join(root, "tests", "data", "sigv4", "post-sts-token",
                         "post-sts-header-before")
        with open(os.path.join(d, "post-sts-header-before.req"), encoding="utf-8") as f:
            lines = f.read().split("\n")
        headers = [line.split(":", 1) for line in lines[1:] if line]
        with open(os.path.join(d, "post-sts-header-before.authz"), encoding="utf-8") as f:
            authz = f.read().strip()
        out = self.run_tool([{
                "method": "POST", "path": "/", "query": None, "headers": headers,
                "akid": "AKIDEXAMPLE", "secret": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                "region": "us-east-1", "service": "service",
                "amz_date": "20150830T123600Z", "body": "",
        }])
        self.assertEqual(out[0]["authorization"], authz)

    def test_tool_reports_errors(self):
        out = self.run_tool([
                {"id": "bad-date", "method": "GET", "path": "/", "headers": [],
                 "akid": "A", "secret": "S", "region": "r", "service": "s",
                 "amz_date": "2015-08-30"},
                {"id": "bad-query", "method": "GET", "path": "/", "query": "a=%zz",
                 "headers": [], "akid": "A", "secret": "S", "region": "r",
                 "service": "s", "amz_date": "20150830T123600Z"},
        ])
        for o in out:
            self.assertEqual(o.get("errno"), 22, o)


def _is_utf8(b):
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


if __name__ == "__main__":
    unittest.main()
