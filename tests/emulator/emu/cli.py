# SPDX-License-Identifier: Apache-2.0
"""Command line of awsemu: parse, listen, announce, serve until SIGTERM."""

import argparse
import hashlib
import os
import signal
import sys
import threading

from . import admin, faults, imds, models, persist, server, sigv4, state
from .services import FRESH_STATE, HANDLERS

DEFAULT_AKID = "AKIDEXAMPLE"
DEFAULT_SECRET = "awsemu/EXAMPLE/secret/key/0123456789abc"
DEFAULT_CONTAINER_TOKEN = "awsemu-container-token"
DEFAULT_INSTANCE_ROLE = "awsemu-instance-role"

DESCRIPTION = """\
A loopback AWS endpoint (IAM and STS over AWS Query, SageMaker and Service
Catalog over AWS JSON 1.1) for smstudio's tests, benchmarks and demo.

Without --creds it accepts one key pair:
  access key id      %(akid)s
  secret access key  %(secret)s
so e.g. AWS_ACCESS_KEY_ID=%(akid)s AWS_SECRET_ACCESS_KEY='%(secret)s'
AWS_ENDPOINT_URL=http://127.0.0.1:PORT aws sts get-caller-identity works.
sts:AssumeRoleWithWebIdentity is accepted unsigned, as AWS does.

Credential endpoints on the same port (their keys are then accepted):
  IMDSv2     PUT /latest/api/token, GET /latest/meta-data/iam/
             security-credentials/[ROLE], .../placement/region
             (AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:PORT)
  container  GET /_emu/container-credentials, Authorization: TOKEN
             (AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:PORT/_emu/
             container-credentials, AWS_CONTAINER_AUTHORIZATION_TOKEN=TOKEN)

Admin API (unsigned, loopback only, JSON): GET /_emu/state, POST /_emu/reset,
GET /_emu/calls[?detail=1], POST /_emu/calls/reset, GET|POST /_emu/config,
POST /_emu/save, POST /_emu/call/SERVICE/OPERATION, POST /_emu/patch,
GET|POST|DELETE /_emu/faults, /_emu/latency, /_emu/ratelimit; see
emu/admin.py and emu/faults.py.""" % {"akid": DEFAULT_AKID, "secret": DEFAULT_SECRET}


def _nonneg(text):
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def _positive(text):
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


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
    p.add_argument("--async-delay-ms", type=_nonneg, default=0.0, metavar="N",
                   help="how long Pending/Updating/Deleting... last (default 0)")
    p.add_argument("--latency-ms", type=_nonneg, default=0.0, metavar="N",
                   help="added to every API call (default 0)")
    p.add_argument("--rate-limit", type=_positive, metavar="RPS",
                   help="account-wide cap in calls/s (token bucket, burst RPS); "
                        "beyond it calls are throttled")
    p.add_argument("--state", metavar="FILE",
                   help="load state from FILE if it exists; save it there on SIGTERM "
                        "and on POST /_emu/save")
    p.add_argument("--instance-role", default=DEFAULT_INSTANCE_ROLE, metavar="NAME",
                   help="role IMDS and the container endpoint hand out (default %(default)s)")
    p.add_argument("--container-token", default=DEFAULT_CONTAINER_TOKEN, metavar="T",
                   help="Authorization the container endpoint wants (default %(default)s)")
    p.add_argument("--credential-ttl", type=int, default=21600, metavar="S",
                   help="lifetime of IMDS/container credentials (default %(default)s)")
    args = p.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        p.error("--tls-cert and --tls-key go together")
    if not (args.account.isdigit() and len(args.account) == 12):
        p.error("--account must be 12 digits")
    if args.credential_ttl < 60:
        p.error("--credential-ttl must be at least 60")
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


def make_saver(path, world, keys):
    """The --state saver: snapshot under the state lock, write outside it."""
    def save():
        with world.lock:
            text = persist.dumps(world.data, keys.temporary())
        persist.save(path, text)
        return path
    return save


def load_state(path, world, keys):
    loaded = persist.load(path)
    if loaded is None:
        return
    data, saved_keys = loaded
    world.load(data)
    for attrs in saved_keys:
        keys.add(sigv4.Key(attrs["akid"], attrs["secret"], attrs.get("token"),
                           attrs.get("expires"), attrs.get("identity")))


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    keys = sigv4.KeyTable()
    for akid, secret, token in args.keys:
        keys.add(sigv4.Key(akid, secret, token, identity=user_identity(akid, args.account)))
    keys.default = keys.get(args.keys[0][0])
    world = state.State(args.account, args.region, FRESH_STATE)
    world.async_delay_s = args.async_delay_ms / 1000.0
    saver = None
    if args.state:
        try:
            load_state(args.state, world, keys)
        except (OSError, ValueError, KeyError, TypeError) as err:
            print("awsemu: cannot load --state %s: %s" % (args.state, err), file=sys.stderr)
            return 2
        saver = make_saver(args.state, world, keys)
    control = faults.Control(latency_ms=args.latency_ms, rate_limit=args.rate_limit)
    metadata = imds.Metadata(keys, args.account, args.region, args.instance_role,
                             args.container_token, args.credential_ttl)
    emulator = server.Emulator(world, keys, models.Models(), HANDLERS,
                               verify=not args.no_verify, control=control,
                               metadata=metadata, saver=saver)
    admin.Admin(emulator)
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
        if saver is not None:
            saver()
    return 0
