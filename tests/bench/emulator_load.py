#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Load on awsemu: how many simple signed calls per second it answers.

The emulator is only useful to the benchmarks if it is not their
bottleneck (issue 3 asks for >= 1000 calls/s with --no-verify and >= 300
with signature and model checks on, over 32 keep-alive connections on a
2-core machine). This script starts awsemu itself in each mode (or uses
--url), opens N keep-alive connections spread over a few worker
processes, and sends sts:GetCallerIdentity (or sagemaker:ListDomains)
for D seconds.

Requests are signed with botocore once per connection and then replayed:
the server still verifies every one in full (it keeps no replay cache, as
a signature stays valid for 15 minutes), while the client's own cost
stays small, since client and server share the machine's cores. Each
answer is read to its end (Content-Length) and its status checked; any
non-200 counts as an error and fails the run.

Usage: emulator_load.py [--connections 32] [--duration 5] [--workers 2]
                        [--call GetCallerIdentity|ListDomains]
                        [--mode both|verify|no-verify] [--url URL]
                        [--expect-verify 300] [--expect-no-verify 1000]
Exit status 1 when a mode falls short of its --expect-* figure (0 there
disables the check) or any call failed."""

import argparse
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
AWSEMU = os.environ.get("AWSEMU", os.path.join(HERE, "..", "emulator", "awsemu"))
sys.path.insert(0, os.path.join(HERE, "..", "emulator"))

# Simple calls the load can be made of: signing service, headers, body.
CALLS = {
    "GetCallerIdentity": ("sts", {"Content-Type": "application/x-www-form-urlencoded; "
                                                  "charset=utf-8"},
                          b"Action=GetCallerIdentity&Version=2011-06-15"),
    "ListDomains": ("sagemaker", {"Content-Type": "application/x-amz-json-1.1",
                                  "X-Amz-Target": "SageMaker.ListDomains"}, b"{}"),
}


def signed_request(url, akid, secret, call="GetCallerIdentity"):
    """The bytes of one SigV4-signed request for one of CALLS."""
    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials

    service, headers, body = CALLS[call]
    host = urllib.parse.urlsplit(url).netloc
    req = botocore.awsrequest.AWSRequest(method="POST", url=url + "/", data=body,
                                         headers=dict(headers))
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(akid, secret),
                            service, "us-east-1").add_auth(req)
    lines = ["POST / HTTP/1.1", "Host: " + host, "Content-Length: %d" % len(body)]
    lines += ["%s: %s" % (k, v) for k, v in req.headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _read_answer(sock, buf):
    """Reads one HTTP response from sock; returns (status, leftover)."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection mid-answer")
        rest += chunk
    return status, rest[length:]


def _connection(host, port, payload, stop_at, totals, lock):
    ok = failed = 0
    sock = socket.create_connection((host, port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = b""
    try:
        while time.monotonic() < stop_at:
            sock.sendall(payload)
            status, buf = _read_answer(sock, buf)
            if status == 200:
                ok += 1
            else:
                failed += 1
    finally:
        sock.close()
    with lock:
        totals[0] += ok
        totals[1] += failed


def _worker(url, akid, secret, call, connections, start_at, duration, out):
    parts = urllib.parse.urlsplit(url)
    payload = signed_request(url, akid, secret, call)
    totals, lock = [0, 0], threading.Lock()
    while time.time() < start_at:
        time.sleep(min(0.01, max(0.0, start_at - time.time())))
    stop_at = time.monotonic() + duration
    threads = [threading.Thread(target=_connection,
                                args=(parts.hostname, parts.port, payload, stop_at, totals,
                                      lock))
               for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put(tuple(totals))


def measure(url, akid, secret, call, connections, duration, workers):
    """Calls/s over `connections` connections split among `workers`
    processes; returns (rate, ok, failed)."""
    workers = max(1, min(workers, connections))
    queue = multiprocessing.Queue()
    start_at = time.time() + 1.0   # every worker connects at the same moment
    procs = []
    for i in range(workers):
        share = connections // workers + (1 if i < connections % workers else 0)
        p = multiprocessing.Process(target=_worker, args=(url, akid, secret, call, share,
                                                          start_at, duration, queue))
        p.start()
        procs.append(p)
    ok = failed = 0
    for _ in procs:
        a, b = queue.get(timeout=duration + 120)
        ok += a
        failed += b
    for p in procs:
        p.join()
    return ok / duration, ok, failed


class Emulator:
    """awsemu started for one measurement."""

    def __init__(self, *extra):
        self.dir = tempfile.mkdtemp(prefix="awsemu-bench-")
        self.port_file = os.path.join(self.dir, "port")
        self.proc = subprocess.Popen([sys.executable, AWSEMU, "--listen", "127.0.0.1:0",
                                      "--port-file", self.port_file] + list(extra),
                                     stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("awsemu exited with %d" % self.proc.returncode)
            try:
                with open(self.port_file) as f:
                    self.url = "http://127.0.0.1:%d" % int(f.read())
                break
            except (FileNotFoundError, ValueError):
                if time.monotonic() > deadline:
                    raise RuntimeError("awsemu did not start")
                time.sleep(0.02)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(30)
        for name in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, name))
        os.rmdir(self.dir)


def main(argv=None):
    from emu.cli import DEFAULT_AKID, DEFAULT_SECRET

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--duration", type=float, default=5.0)
    p.add_argument("--workers", type=int, default=2,
                   help="client processes sharing the connections (default %(default)s)")
    p.add_argument("--call", choices=sorted(CALLS), default="GetCallerIdentity",
                   help="the operation to send (default %(default)s)")
    p.add_argument("--mode", choices=("both", "verify", "no-verify"), default="both")
    p.add_argument("--url", help="measure a running emulator instead (one mode)")
    p.add_argument("--akid", default=DEFAULT_AKID)
    p.add_argument("--secret", default=DEFAULT_SECRET)
    p.add_argument("--expect-verify", type=float, default=300.0)
    p.add_argument("--expect-no-verify", type=float, default=1000.0)
    args = p.parse_args(argv)

    modes = ["verify", "no-verify"] if args.mode == "both" else [args.mode]
    failed_any = False
    for mode in modes:
        emu = None
        url = args.url
        if url is None:
            emu = Emulator(*(["--no-verify"] if mode == "no-verify" else []))
            url = emu.url
        try:
            rate, ok, failed = measure(url, args.akid, args.secret, args.call,
                                       args.connections, args.duration, args.workers)
        finally:
            if emu is not None:
                emu.stop()
        expect = args.expect_verify if mode == "verify" else args.expect_no_verify
        short = expect and rate < expect
        print("%-9s  %-17s %7.0f calls/s  (%d ok, %d failed, %d connections, %.1f s)%s"
              % (mode, args.call, rate, ok, failed, args.connections, args.duration,
                 "  BELOW %g" % expect if short else ""), flush=True)
        failed_any |= bool(short or failed)
    return 1 if failed_any else 0


if __name__ == "__main__":
    sys.exit(main())
