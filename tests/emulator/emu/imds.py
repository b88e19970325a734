# SPDX-License-Identifier: Apache-2.0
"""Instance metadata (IMDSv2) and the container credential endpoint.

smstudio, like the SDKs, finds credentials on EC2 through IMDSv2 and in
containers through AWS_CONTAINER_CREDENTIALS_FULL_URI; the emulator
serves both on its own port so those paths can be tested end to end: the
temporary keys handed out are added to the key table, so a client that
fetched them can sign with them and GetCallerIdentity names the
instance role's assumed-role ARN.

IMDSv2 (paths as on EC2, so AWS_EC2_METADATA_SERVICE_ENDPOINT can point
at the emulator):
  PUT /latest/api/token  with X-aws-ec2-metadata-token-ttl-seconds in
      1..21600, else 400; answers the token as text.
  GET /latest/meta-data/iam/security-credentials/        role name
  GET /latest/meta-data/iam/security-credentials/<role>  JSON credentials
  GET /latest/meta-data/placement/region                 region
  GET /latest/meta-data/placement/availability-zone      region + "a"
  GETs need X-aws-ec2-metadata-token with a live token, else 401.
Container:
  GET /_emu/container-credentials with Authorization equal to the
  --container-token value (401 without, 403 wrong).

One set of credentials per source is kept and handed out again until it
is within min(5 min, ttl/2) of expiring, as EC2 rotates them ahead of
expiry."""

import hashlib
import json
import secrets
import threading
import time

TOKEN_PATH = "/latest/api/token"
CREDS_PATH = "/latest/meta-data/iam/security-credentials/"
CONTAINER_PATH = "/_emu/container-credentials"
TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"
TOKEN_HEADER = "X-aws-ec2-metadata-token"
INSTANCE_ID = "i-0a1b2c3d4e5f60718"


def _iso(epoch):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


class Metadata:
    def __init__(self, keys, account, region, role, container_token, ttl):
        self.keys = keys
        self.account = account
        self.region = region
        self.role = role
        self.container_token = container_token
        self.ttl = ttl
        self._lock = threading.Lock()
        self._tokens = {}   # IMDS session token -> expiry (monotonic)
        self._issued = {}   # "imds" / "container" -> Key

    @staticmethod
    def owns(path):
        return path.startswith("/latest/") or path.split("?", 1)[0] == CONTAINER_PATH

    def handle(self, method, path, headers):
        """(status, content type, body) for an IMDS or container request."""
        path = path.split("?", 1)[0]
        if path == CONTAINER_PATH:
            return self._container(method, headers)
        if path == TOKEN_PATH:
            return self._token(method, headers)
        if method != "GET":
            return 405, "text/plain", b"Method Not Allowed"
        if not self._token_ok(headers.get(TOKEN_HEADER)):
            return 401, "text/plain", b"Unauthorized"
        if path in (CREDS_PATH, CREDS_PATH.rstrip("/")):
            return 200, "text/plain", self.role.encode()
        if path.startswith(CREDS_PATH):
            if path[len(CREDS_PATH):] != self.role:
                return 404, "text/plain", b"Not Found"
            key = self._credentials("imds", INSTANCE_ID)
            return 200, "text/plain", json.dumps({
                "Code": "Success", "LastUpdated": _iso(key.expires - self.ttl),
                "Type": "AWS-HMAC", "AccessKeyId": key.akid,
                "SecretAccessKey": key.secret, "Token": key.token,
                "Expiration": _iso(key.expires)}, indent=2).encode()
        if path == "/latest/meta-data/placement/region":
            return 200, "text/plain", self.region.encode()
        if path == "/latest/meta-data/placement/availability-zone":
            return 200, "text/plain", (self.region + "a").encode()
        if path == "/latest/meta-data/instance-id":
            return 200, "text/plain", INSTANCE_ID.encode()
        return 404, "text/plain", b"Not Found"

    def _token(self, method, headers):
        if method != "PUT":
            return 405, "text/plain", b"Method Not Allowed"
        ttl = headers.get(TTL_HEADER, "")
        if not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
            return 400, "text/plain", b"Bad Request"
        token = secrets.token_urlsafe(42)
        now = time.monotonic()
        with self._lock:
            self._tokens = {t: e for t, e in self._tokens.items() if e > now}
            self._tokens[token] = now + int(ttl)
        return 200, "text/plain", token.encode()

    def _token_ok(self, token):
        with self._lock:
            expiry = self._tokens.get(token or "")
        return expiry is not None and expiry > time.monotonic()

    def _container(self, method, headers):
        if method != "GET":
            return 405, "application/json", b'{"message": "GET only"}'
        given = headers.get("Authorization")
        if not given:
            return 401, "application/json", b'{"message": "Authorization header required"}'
        if given != self.container_token:
            return 403, "application/json", b'{"message": "Authorization token mismatch"}'
        key = self._credentials("container", "awsemu-container")
        return 200, "application/json", json.dumps({
            "AccessKeyId": key.akid, "SecretAccessKey": key.secret, "Token": key.token,
            "Expiration": _iso(key.expires),
            "RoleArn": "arn:aws:iam::%s:role/%s" % (self.account, self.role)}).encode()

    def _credentials(self, source, session):
        now = time.time()
        with self._lock:
            key = self._issued.get(source)
            if key is None or key.expires - now < min(300, self.ttl / 2) \
                    or self.keys.get(key.akid) is not key:
                arn = "arn:aws:sts::%s:assumed-role/%s/%s" % (self.account, self.role, session)
                role_id = "AROA" + hashlib.sha256(self.role.encode()).hexdigest()[:17].upper()
                key = self.keys.issue({"UserId": "%s:%s" % (role_id, session),
                                       "Account": self.account, "Arn": arn}, now + self.ttl)
                self._issued[source] = key
            return key
