# SPDX-License-Identifier: Apache-2.0
"""Command line of awsemu: parse, listen, announce, serve until SIGTERM."""

import argparse
import hashlib
import os
import signal
import sys
import threading

from . import models, server, sigv4, state
from .services import FRESH_STATE, HANDLERS

DEFAULT_AKID = "AKIDEXAMPLE"
DEFAULT_SECRET = "awsemu/EXAMPLE/secret/key/0123456789abc"

DESCRIPTION = """\
A loopback AWS endpoint (IAM and STS over AWS Query, SageMaker and Service
Catalog over AWS JSON 1.1) for smstudio's tests, benchmarks and demo.

Without --creds it accepts one key pair:
  access key id      %s
  secret access key  %s
so e.g. AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY='%s'
AWS_ENDPOINT_URL=http://127.0.0.1:PORT aws sts get-caller-identity works.

Admin API (unsigned, loopback only): GET /_emu/state, POST /_emu/reset,
GET /_emu/calls.""" % (DEFAULT_AKID, DEFAULT_SECRET, DEFAULT_AKID, DEFAULT_SECRET)


def parse_args(argv):
    p = argparse.ArgumentParser(prog="awsemu", description=DESCRIPTION,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--listen", default="127.0.0.1:0", metavar="HOST:PORT",
                   help="address to listen on; port 0 lets the kernel pick "
                        "(default %(default)s)")
    p.add_argument("--port-file", metavar="F",
                   help="write the port here (atomically) once listening")
    p.add_argument("--account", default="123456789012", help="account id (default %(default)s)")
    p.add_argument("--region", default="us-east-1", help="region (default %(default)s)")
    p.add_argument("--creds", action="append", metavar="AKID:SECRET[:TOKEN]",
                   help="accept this key (repeatable); replaces the default key")
    p.add_argument("--tls-cert", metavar="C", help="serve HTTPS with this certificate (PEM)")
    p.add_argument("--tls-key", metavar="K", help="private key of --tls-cert (PEM)")
    p.add_argument("--no-verify", action="store_true",
                   help="skip signature and model checks (benchmarks of the client side)")
    args = p.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        p.error("--tls-cert and --tls-key go together")
    if not (args.account.isdigit() and len(args.account) == 12):
        p.error("--account must be 12 digits")
    host, sep, port = args.listen.rpartition(":")
    if not sep or not port.isdigit():
        p.error("--listen wants HOST:PORT")
    args.host, args.port = host.strip("[]"), int(port)
    args.keys = []
    for spec in args.creds or ["%s:%s" % (DEFAULT_AKID, DEFAULT_SECRET)]:
        parts = spec.split(":", 2)
        if len(parts) < 2 or not parts[0] or not parts[1]:
            p.error("--creds wants AKID:SECRET[:TOKEN]")
        args.keys.append((parts[0], parts[1], parts[2] if len(parts) == 3 else None))
    return args


def user_identity(akid, account):
    """Long-term keys belong to an IAM user named awsemu; its unique id is
    derived from the key so it is stable across runs."""
    uid = "AIDA" + hashlib.sha256(akid.encode()).hexdigest()[:17].upper()
    return {"UserId": uid, "Account": account, "Arn": "arn:aws:iam::%s:user/awsemu" % account}


def write_port_file(path, port):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.replace(tmp, path)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    keys = sigv4.KeyTable()
    for akid, secret, token in args.keys:
        keys.add(sigv4.Key(akid, secret, token, identity=user_identity(akid, args.account)))
    keys.default = keys.get(args.keys[0][0])
    world = state.State(args.account, args.region, FRESH_STATE)
    emulator = server.Emulator(world, keys, models.Models(), HANDLERS,
                               verify=not args.no_verify)
    httpd = server.make_server(emulator, args.host, args.port, args.tls_cert, args.tls_key)
    port = httpd.server_address[1]

    def stop(signum, frame):
        # shutdown() waits for serve_forever to return, so not from its thread.
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.port_file:
        write_port_file(args.port_file, port)
    host = "[%s]" % args.host if ":" in args.host else args.host
    print("awsemu: listening on %s://%s:%d" % (httpd.scheme, host, port), flush=True)
    try:
        httpd.serve_forever()
    finally:
        httpd.server_close()
    return 0
