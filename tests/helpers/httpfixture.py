#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A scriptable loopback HTTP/HTTPS server for the Check suites.

    httpfixture.py --port-file F [--tls-cert C --tls-key K] --script S.json --log L.jsonl
                   [--remove-on-exit DIR]

Binds 127.0.0.1 on a kernel-chosen port and, once listening, writes the port
number to F (tmp file + rename, so a reader never sees a partial number).

The script is a JSON list of rules, tried in order; the first whose method and
path match takes the request:

    {"method": "PUT",               # optional; absent or "*" matches any method
     "path": "/latest/api/token",   # exact, or a prefix when it ends in "*"
     "responses": [ {...}, ... ]}   # each request takes the next; the last repeats

A response:

    "status": 200                # default 200
    "headers": {"X-A": "b"}      # sent as given; Content-Length, Server and Date
                                 # added unless present
    "body": "text"               # UTF-8 text
    "body_size": 5000            # instead of body: that many "x" bytes
    "echo_body": true            # instead of body: the request body
    "chunked": false             # send the body with Transfer-Encoding: chunked
    "delay_ms": 0                # wait before answering (the request is logged first)
    "reset": false               # answer nothing: close the connection with a TCP RST
    "reset_after_bytes": N       # send the headers and N body bytes, then RST
    "close": false               # close the connection after this answer

A request no rule matches gets a 404 with an empty body.

Every request is appended to the log as one JSON line, flushed before the
answer is sent, so a client that got an answer finds its request logged:

    {"method", "path", "query", "headers" (object, names lower-cased, repeated
     headers joined with ", "), "body" (UTF-8, invalid bytes replaced),
     "conn" (server-side connection number, from 1: equal numbers mean a reused
     connection), "seq" (request number, from 1), "in_flight" (requests received
     and not yet answered, this one included), "time" (CLOCK_MONOTONIC seconds,
     comparable with uv_hrtime()/1e9), "rule" and "response" (indexes used, -1
     when unmatched)}

Stops on SIGTERM (and SIGINT).
"""

import argparse
import itertools
import json
import os
import shutil
import signal
import socket
import ssl
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Script:
    def __init__(self, rules):
        if not isinstance(rules, list):
            raise ValueError("script must be a JSON list of rules")
        for i, rule in enumerate(rules):
            if not isinstance(rule, dict) or "path" not in rule:
                raise ValueError(f"rule {i}: needs a path")
            if not rule.get("responses"):
                raise ValueError(f"rule {i}: needs a non-empty responses list")
        self.rules = rules
        self.next = [0] * len(rules)
        self.lock = threading.Lock()

    @staticmethod
    def _matches(rule, method, path):
        want_method = rule.get("method", "*")
        if want_method != "*" and want_method.upper() != method.upper():
            return False
        want = rule["path"]
        if want.endswith("*"):
            return path.startswith(want[:-1])
        return path == want

    def pick(self, method, path):
        """The (rule index, response index, response) for a request."""
        with self.lock:
            for i, rule in enumerate(self.rules):
                if self._matches(rule, method, path):
                    responses = rule["responses"]
                    k = min(self.next[i], len(responses) - 1)
                    self.next[i] += 1
                    return i, k, responses[k]
        return -1, -1, None


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False

    def __init__(self, script, log, tls_context):
        self.script = script
        self.log = log
        self.log_lock = threading.Lock()
        self.tls_context = tls_context
        self.stopping = threading.Event()
        self.conn_ids = itertools.count(1)
        self.seq = 0
        self.in_flight = 0
        self.count_lock = threading.Lock()
        self.rst_requests = set()  # id()s of plain sockets to close with a RST
        super().__init__(("127.0.0.1", 0), Handler)

    def shutdown_request(self, request):
        # The default shutdown(SHUT_WR) would send a FIN ahead of the RST and
        # the client would see an orderly close instead of a reset.
        with self.count_lock:
            rst = id(request) in self.rst_requests
            self.rst_requests.discard(id(request))
        if rst:
            self.close_request(request)
        else:
            super().shutdown_request(request)

    def finish_request(self, request, client_address):
        # The TLS handshake runs here, in the connection's thread, so a client
        # stalling in the handshake cannot block accept().
        if self.tls_context is None:
            super().finish_request(request, client_address)
            return
        try:
            tls = self.tls_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            # Typically a client refusing our certificate: part of the tests.
            return
        try:
            super().finish_request(tls, client_address)
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        # Clients vanishing mid-answer (timeouts, cancellations) are expected.
        pass

    def write_log(self, entry):
        line = json.dumps(entry, ensure_ascii=True, separators=(",", ":")) + "\n"
        with self.log_lock:
            self.log.write(line)
            self.log.flush()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    server_version = "smstudio-httpfixture"
    sys_version = ""

    def setup(self):
        super().setup()
        self.conn_id = next(self.server.conn_ids)
        self.rst = False

    def log_message(self, format, *args):
        pass

    def _read_body(self):
        te = self.headers.get("Transfer-Encoding", "")
        if te.lower() == "chunked":
            parts = []
            while True:
                line = self.rfile.readline()
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    # Trailers, up to the empty line.
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(parts)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _headers_dict(self):
        out = {}
        for name, value in self.headers.items():
            key = name.lower()
            out[key] = out[key] + ", " + value if key in out else value
        return out

    def _send_rst(self):
        self.rst = True
        self.close_connection = True
        try:
            self.wfile.flush()
        except OSError:
            pass
        # SO_LINGER with a zero timeout turns the close into a RST.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with self.server.count_lock:
            self.server.rst_requests.add(id(self.connection))

    def _handle(self):
        server = self.server
        body = self._read_body()
        path, _, query = self.path.partition("?")
        rule, k, resp = server.script.pick(self.command, path)
        with server.count_lock:
            server.seq += 1
            server.in_flight += 1
            seq = server.seq
            in_flight = server.in_flight
        answered = False
        try:
            server.write_log({
                "method": self.command,
                "path": path,
                "query": query,
                "headers": self._headers_dict(),
                "body": body.decode("utf-8", errors="replace"),
                "conn": self.conn_id,
                "seq": seq,
                "in_flight": in_flight,
                "time": time.monotonic(),
                "rule": rule,
                "response": k,
            })
            if resp is None:
                resp = {"status": 404}
            delay = resp.get("delay_ms", 0)
            if delay and server.stopping.wait(delay / 1000.0):
                self.close_connection = True
                return
            # Counted as answered before the first byte leaves, so a client
            # that sees its answer and starts another request can never make
            # the server count one more than the client has outstanding.
            with server.count_lock:
                server.in_flight -= 1
            answered = True
            self._answer(resp, body)
        finally:
            if not answered:
                with server.count_lock:
                    server.in_flight -= 1

    def _answer(self, resp, request_body):
        if resp.get("reset"):
            self._send_rst()
            return
        if resp.get("echo_body"):
            payload = request_body
        elif "body_size" in resp:
            payload = b"x" * int(resp["body_size"])
        else:
            payload = str(resp.get("body", "")).encode("utf-8")
        chunked = bool(resp.get("chunked"))
        headers = resp.get("headers", {})
        lower = {name.lower() for name in headers}

        # Scripted headers replace the defaults rather than follow them: a
        # test setting "Date" (clock skew) must not get two of them.
        self.send_response_only(int(resp.get("status", 200)))
        if "server" not in lower:
            self.send_header("Server", self.version_string())
        if "date" not in lower:
            self.send_header("Date", self.date_time_string())
        for name, value in headers.items():
            self.send_header(name, str(value))
        if chunked:
            if "transfer-encoding" not in lower:
                self.send_header("Transfer-Encoding", "chunked")
        elif "content-length" not in lower:
            self.send_header("Content-Length", str(len(payload)))
        if resp.get("close"):
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command == "HEAD":
            self.wfile.flush()
            return

        limit = resp.get("reset_after_bytes")
        if limit is not None:
            payload = payload[: int(limit)]
        if chunked:
            if payload:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(payload), payload))
            if limit is None:
                self.wfile.write(b"0\r\n\r\n")
        else:
            self.wfile.write(payload)
        self.wfile.flush()
        if limit is not None:
            self._send_rst()

    def handle_one_request(self):
        # BaseHTTPRequestHandler's version dispatches on do_<METHOD>; any
        # method is fine here, so parse and answer in one place.
        try:
            self.raw_requestline = self.rfile.readline(65537)
            if len(self.raw_requestline) > 65536:
                self.send_error(414)
                return
            if not self.raw_requestline:
                self.close_connection = True
                return
            if not self.parse_request():
                return
            self._handle()
            if not self.rst:
                self.wfile.flush()
        except (ConnectionError, ssl.SSLError, socket.timeout, ValueError):
            self.close_connection = True

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass


def write_port_file(path, port):
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w", encoding="ascii") as f:
        f.write(f"{port}\n")
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--script", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--remove-on-exit", metavar="DIR",
                    help="remove DIR (the caller's private temp dir) when stopping")
    args = ap.parse_args()

    if bool(args.tls_cert) != bool(args.tls_key):
        ap.error("--tls-cert and --tls-key go together")
    with open(args.script, encoding="utf-8") as f:
        script = Script(json.load(f))

    tls_context = None
    if args.tls_cert:
        tls_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls_context.load_cert_chain(args.tls_cert, args.tls_key)
        tls_context.set_alpn_protocols(["http/1.1"])

    log = open(args.log, "a", encoding="utf-8")
    server = Server(script, log, tls_context)

    def stop(signum, frame):
        server.stopping.set()
        # shutdown() waits for serve_forever() to return, and serve_forever()
        # runs in this (the main) thread: ask from another one.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    write_port_file(args.port_file, server.server_address[1])
    try:
        server.serve_forever(poll_interval=0.05)
    finally:
        server.server_close()
        log.close()
        if args.remove_on_exit:
            # Also when the test died without stopping us (we get SIGTERM
            # through PR_SET_PDEATHSIG): no temp dirs left behind.
            shutil.rmtree(args.remove_on_exit, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
