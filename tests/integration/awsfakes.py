# SPDX-License-Identifier: Apache-2.0
"""Loopback peers for integration tests: moto as an independent AWS, a proxy
in front of it that re-checks every request's SigV4 signature with
botocore's own signer, and an EC2 instance metadata (IMDSv2) endpoint.

Everything binds 127.0.0.1 on a port the kernel picks; nothing sleeps to
synchronise: waits poll a condition against a deadline."""

import http.client
import http.server
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.parse

import botocore.auth
import botocore.awsrequest
import botocore.credentials

XML_NS_STS = "https://sts.amazonaws.com/doc/2011-06-15/"


def wait_for(predicate, timeout=20.0, what="condition"):
    """Poll predicate until it is true or the deadline passes."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(delay)
        delay = min(delay * 2, 0.1)
    raise TimeoutError("timed out waiting for " + what)


class Moto:
    """python3 -m moto.server on a kernel-chosen loopback port."""

    def __init__(self):
        env = dict(os.environ, MOTO_IAM_LOAD_MANAGED_POLICIES="true")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
        self.port = None
        lines = []

        def read_port():
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("moto.server exited: " + "".join(lines))
            lines.append(line)
            m = re.search(r"Running on http://127\.0\.0\.1:(\d+)", line)
            if m:
                self.port = int(m.group(1))
            return self.port

        wait_for(read_port, 60, "moto.server to listen")
        # Keep draining its output so it never blocks on a full pipe.
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()
        self.url = "http://127.0.0.1:%d" % self.port

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


class Emulator:
    """tests/emulator/awsemu on a kernel-chosen loopback port."""

    def __init__(self, directory, *args):
        root = os.environ.get("SM_SOURCE_ROOT",
                              os.path.join(os.path.dirname(__file__), "..", ".."))
        port_file = os.path.join(directory, "awsemu.port")
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(root, "tests", "emulator", "awsemu"),
             "--listen", "127.0.0.1:0", "--port-file", port_file] + list(args),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def read_port():
            if self.proc.poll() is not None:
                raise RuntimeError("awsemu exited with %d" % self.proc.returncode)
            try:
                with open(port_file) as f:
                    return int(f.read().strip() or 0)
            except FileNotFoundError:
                return 0

        self.port = wait_for(read_port, 30, "awsemu to listen")
        self.url = "http://127.0.0.1:%d" % self.port

    def calls(self):
        import urllib.request
        with urllib.request.urlopen(self.url + "/_emu/calls", timeout=10) as r:
            return json.loads(r.read())

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


class SigV4Verifier:
    """Recomputes a request's signature with botocore and compares."""

    def __init__(self, keys):
        # keys: access key id -> (secret, session token or None)
        self.keys = keys

    def verify(self, method, url, headers, body):
        """Returns None when the signature is right, else (code, message)."""
        auth = headers.get("Authorization")
        if not auth:
            return ("MissingAuthenticationToken", "Request is missing Authentication Token")
        m = re.match(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request,"
                     r"\s*SignedHeaders=([^,]+),\s*Signature=([0-9a-f]{64})$", auth)
        if not m:
            return ("IncompleteSignature", "malformed Authorization header")
        akid, date, region, service, signed, signature = m.groups()
        if akid not in self.keys:
            return ("InvalidClientTokenId", "The security token included in the request is invalid.")
        secret, token = self.keys[akid]
        if token is not None and headers.get("X-Amz-Security-Token") != token:
            return ("InvalidClientTokenId", "The security token included in the request is invalid.")
        amz_date = headers.get("X-Amz-Date", "")
        if not amz_date.startswith(date):
            return ("SignatureDoesNotMatch", "credential scope date does not match X-Amz-Date")
        names = signed.split(";")
        if "host" not in names:
            return ("SignatureDoesNotMatch", "Host is not signed")
        lower = {k.lower(): v for k, v in headers.items()}
        signed_headers = {n: lower.get(n, "") for n in names}
        req = botocore.awsrequest.AWSRequest(method=method, url=url, data=body,
                                             headers=signed_headers)
        req.context["timestamp"] = amz_date
        signer = botocore.auth.SigV4Auth(
            botocore.credentials.Credentials(akid, secret, token), service, region)
        creq = signer.canonical_request(req)
        sts = signer.string_to_sign(req, creq)
        expected = signer.signature(sts, req)
        if expected != signature:
            return ("SignatureDoesNotMatch",
                    "The request signature we calculated does not match the signature you "
                    "provided.\nCanonical request botocore built:\n" + creq)
        return None


def sts_error_xml(code, message, status_type="Sender"):
    return ('<ErrorResponse xmlns="%s"><Error><Type>%s</Type><Code>%s</Code>'
            '<Message>%s</Message></Error><RequestId>fake-%d</RequestId></ErrorResponse>'
            % (XML_NS_STS, status_type, code, message, time.monotonic_ns())).encode()


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class VerifyingProxy:
    """Forwards signed requests to an upstream (moto) after botocore has
    re-checked the signature; answers like AWS when it does not match.

    Test knobs: throttle_next (answer that many requests with Throttling),
    expired_keys (answer ExpiredToken), the log of requests seen."""

    def __init__(self, upstream, keys, tls=None):
        self.upstream = urllib.parse.urlparse(upstream)
        self.verifier = SigV4Verifier(keys)
        self.lock = threading.Lock()
        self.requests = []  # (monotonic time, verdict code or "OK")
        self.throttle_next = 0
        self.expired_keys = set()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                scheme = "https" if tls else "http"
                url = "%s://%s%s" % (scheme, self.headers.get("Host"), self.path)
                headers = {k: v for k, v in self.headers.items()}
                verdict = proxy.verifier.verify("POST", url, headers, body)
                akid = re.search(r"Credential=([^/]+)/", headers.get("Authorization", ""))
                with proxy.lock:
                    if verdict is None and proxy.throttle_next > 0:
                        proxy.throttle_next -= 1
                        verdict = ("Throttling", "Rate exceeded")
                    elif verdict is None and akid and akid.group(1) in proxy.expired_keys:
                        verdict = ("ExpiredToken", "The security token included in the request is expired")
                    proxy.requests.append((time.monotonic(), verdict[0] if verdict else "OK",
                                           headers))
                if verdict:
                    out = sts_error_xml(*verdict)
                    self.send_response(403 if verdict[0] != "Throttling" else 400)
                    self.send_header("Content-Type", "text/xml")
                    self.send_header("Content-Length", str(len(out)))
                    self.send_header("x-amzn-RequestId", "fake-request")
                    self.end_headers()
                    self.wfile.write(out)
                    return
                conn = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port,
                                                  timeout=30)
                fwd = {k: v for k, v in headers.items() if k.lower() not in ("host",)}
                conn.request("POST", self.path, body=body, headers=fwd)
                resp = conn.getresponse()
                data = resp.read()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection",
                                         "server", "date"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()

        self.server = _Server(("127.0.0.1", 0), Handler)
        if tls:
            import ssl
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(tls[0], tls[1])
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.url = "%s://127.0.0.1:%d" % ("https" if tls else "http", self.port)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def verdicts(self):
        with self.lock:
            return [v for _, v, _ in self.requests]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class Imds:
    """EC2 instance metadata, IMDSv2 only: PUT a token, then GET with it."""

    TOKEN = "imds-session-token-for-tests"

    def __init__(self, role, creds, region="us-east-1"):
        self.lock = threading.Lock()
        self.log = []  # (method, path, headers)
        imds = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def reply(self, status, body, ctype="text/plain"):
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_PUT(self):
                with imds.lock:
                    imds.log.append(("PUT", self.path, dict(self.headers.items())))
                ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
                if self.path != "/latest/api/token" or not ttl:
                    self.reply(400, "bad token request")
                    return
                self.reply(200, Imds.TOKEN)

            def do_GET(self):
                with imds.lock:
                    imds.log.append(("GET", self.path, dict(self.headers.items())))
                if self.headers.get("X-aws-ec2-metadata-token") != Imds.TOKEN:
                    self.reply(401, "")
                    return
                base = "/latest/meta-data/iam/security-credentials/"
                if self.path in (base, base[:-1]):
                    self.reply(200, role)
                elif self.path == base + role:
                    self.reply(200, json.dumps(dict(creds, Code="Success", Type="AWS-HMAC")),
                               "application/json")
                elif self.path == "/latest/meta-data/placement/region":
                    self.reply(200, region)
                else:
                    self.reply(404, "")

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def make_test_ca(directory):
    """A throwaway CA and a certificate for 127.0.0.1, made with openssl."""
    def run(*args):
        subprocess.run(["openssl"] + list(args), cwd=directory, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "2", "-subj", "/CN=smstudio test CA")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=127.0.0.1")
    with open(os.path.join(directory, "ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf")
    return tuple(os.path.join(directory, n) for n in ("ca.pem", "server.pem", "server.key"))
