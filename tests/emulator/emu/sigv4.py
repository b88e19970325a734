# SPDX-License-Identifier: Apache-2.0
"""SigV4 verification of incoming requests.

The signature is recomputed with botocore's SigV4Auth over exactly the
headers the client listed as signed, so the emulator agrees with an
independent, widely used implementation rather than with our C signer.
Failures raise AuthError by kind; the protocol layer picks AWS's code.

KeyTable holds every access key the emulator accepts: the ones from the
command line and the temporary ones it hands out (AssumeRole), each with
its session token, expiry and the caller identity GetCallerIdentity
reports for it."""

import base64
import calendar
import re
import secrets
import string
import threading
import time

import botocore.auth
import botocore.awsrequest
import botocore.credentials

from .errors import AuthError

# AWS accepts a request whose X-Amz-Date is within 15 minutes of its clock.
MAX_SKEW_SECONDS = 15 * 60

_AUTH_RE = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=([^/,\s]+)/(\d{8})/([^/,\s]+)/([^/,\s]+)/aws4_request,"
    r"\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})\s*$")

_KEY_CHARS = string.ascii_uppercase + string.digits

INVALID_TOKEN = "The security token included in the request is invalid."


class Key:
    def __init__(self, akid, secret, token=None, expires=None, identity=None):
        self.akid = akid
        self.secret = secret
        self.token = token
        self.expires = expires      # epoch seconds, None for long-term keys
        self.identity = identity    # {"Arn", "UserId", "Account"}


class KeyTable:
    def __init__(self):
        self._lock = threading.Lock()
        self._keys = {}
        self.default = None   # the key --no-verify attributes unsigned calls to

    def add(self, key):
        with self._lock:
            self._keys[key.akid] = key

    def get(self, akid):
        with self._lock:
            return self._keys.get(akid)

    def issue(self, identity, expires):
        """Makes, adds and returns a temporary key (ASIA..., secret, session
        token) valid until `expires` (epoch seconds) that signs as
        `identity`: what STS, IMDS and the container endpoint hand out."""
        key = Key("ASIA" + "".join(secrets.choice(_KEY_CHARS) for _ in range(16)),
                  base64.b64encode(secrets.token_bytes(30)).decode(),
                  token=base64.b64encode(secrets.token_bytes(96)).decode(),
                  expires=int(expires), identity=identity)
        self.add(key)
        return key

    def temporary(self):
        """The keys handed out at run time (what --state keeps)."""
        with self._lock:
            return [k for k in self._keys.values() if k.expires is not None]

    def remove_temporary(self):
        """Drops the keys handed out at run time (on admin reset)."""
        with self._lock:
            self._keys = {k: v for k, v in self._keys.items() if v.expires is None}


class Credential:
    """What the Authorization header says about the caller."""

    def __init__(self, akid, date, region, service, signed, signature):
        self.akid = akid
        self.date = date
        self.region = region
        self.service = service
        self.signed = signed
        self.signature = signature


def parse_authorization(headers):
    """Returns the Credential of the request, or None when it carries no
    Authorization header; raises AuthError when it is malformed."""
    auth = headers.get("Authorization")
    if not auth:
        return None
    m = _AUTH_RE.match(auth)
    if not m:
        raise AuthError("incomplete",
                        "Authorization header requires 'Credential', 'Signature' and "
                        "'SignedHeaders' parameters for AWS4-HMAC-SHA256.")
    return Credential(*m.groups()[:4], m.group(5).split(";"), m.group(6))


def _stamp(epoch):
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(epoch))


def verify(keys, cred, method, url, headers, body, now=None):
    """Checks a parsed Credential against the request; returns its Key."""
    if cred is None:
        raise AuthError("missing", "Request is missing Authentication Token")
    key = keys.get(cred.akid)
    if key is None:
        raise AuthError("unknown_key", INVALID_TOKEN)
    if headers.get("X-Amz-Security-Token") != key.token:
        raise AuthError("unknown_key", INVALID_TOKEN)
    now = time.time() if now is None else now
    amz_date = headers.get("X-Amz-Date", "")
    try:
        signed_at = calendar.timegm(time.strptime(amz_date, "%Y%m%dT%H%M%SZ"))
    except ValueError:
        raise AuthError("incomplete", "Authorization header requires existence of either a "
                        "'X-Amz-Date' or a 'Date' header.")
    if signed_at < now - MAX_SKEW_SECONDS:
        raise AuthError("skew", "Signature expired: %s is now earlier than %s (%s - 15 min.)"
                        % (amz_date, _stamp(now - MAX_SKEW_SECONDS), _stamp(now)))
    if signed_at > now + MAX_SKEW_SECONDS:
        raise AuthError("skew", "Signature not yet current: %s is still later than %s "
                        "(%s + 15 min.)" % (amz_date, _stamp(now + MAX_SKEW_SECONDS),
                                            _stamp(now)))
    if not amz_date.startswith(cred.date) or "host" not in cred.signed:
        raise AuthError("bad_signature", _mismatch())
    if key.expires is not None and now >= key.expires:
        raise AuthError("expired_token", "The security token included in the request is expired")
    lower = {k.lower(): v for k, v in headers.items()}
    req = botocore.awsrequest.AWSRequest(
        method=method, url=url, data=body,
        headers={name: lower.get(name, "") for name in cred.signed})
    req.context["timestamp"] = amz_date
    signer = botocore.auth.SigV4Auth(
        botocore.credentials.Credentials(key.akid, key.secret, key.token),
        cred.service, cred.region)
    string_to_sign = signer.string_to_sign(req, signer.canonical_request(req))
    if signer.signature(string_to_sign, req) != cred.signature:
        raise AuthError("bad_signature", _mismatch())
    return key


def _mismatch():
    return ("The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service "
            "documentation for details.")
