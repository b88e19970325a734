#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The engine's performance targets (issue 5), measured in one run
against tests/emulator/awsemu:

(a) greenfield: 1,000 User manifests and a domain with
    enable_jupyterlab_app (so a profile and a space per user), an empty
    account, --async-delay-ms 0 and an account-wide cap of R calls/s
    (/_emu/ratelimit, burst R). One `smstudiod --once` is timed.
    Mandatory calls = the successful mutating calls the pass made (every
    operation not named List*/Describe*/Get*, outcome "ok" in
    /_emu/calls?detail=1): each of them has to cross the cap, so
    mandatory / R is the lower bound of the pass's duration. Target:
    time <= 1.15 x mandatory / R. Throttled answers are reported.
(b) steady state: 5,000 users (profiles and spaces made by an uncapped
    first pass, then a second uncapped pass to be sure it converged),
    then, capped at R, one more pass measured by the emulator's counters
    before and after. Target: calls (every signed call, throttled ones
    included) <= 2 x ceil(5000/100) + 30 = 130.
(c) peak RSS of that steady pass (GNU time's %M, i.e. the smstudiod
    process's own ru_maxrss). Target: <= 32 MiB. Use a non-sanitizer
    build.

Usage: engine_bench.py [--users 1000] [--steady-users 5000] [--rps 50]
Skips (exit 77) on a sanitizer build or without GNU time.
Environment: SMSTUDIOD (the daemon binary), AWSEMU (the emulator),
GNU_TIME (default /usr/bin/time).
Prints a table, then exits 1 if any target is missed."""

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.join(HERE, "..", "..")
SMSTUDIOD = os.environ.get("SMSTUDIOD", "smstudiod")
GNU_TIME = os.environ.get("GNU_TIME", "/usr/bin/time")   # apt-get install time
sys.path.insert(0, os.path.join(SOURCE_ROOT, "tests", "emulator"))
from emutest import Awsemu  # noqa: E402

READ_PREFIXES = ("List", "Describe", "Get")
DOMAIN = """kind: Domain
name: bench-studio
vpc_id: vpc-0a1b2c3d4e5f60718
subnet_ids:
  - subnet-0123456789abcdef0
  - subnet-0fedcba9876543210
auth_mode: IAM
enable_jupyterlab_app: true
jupyterlab_app_instance_type: ml.t3.medium
"""


class Estate:
    """A temp directory: emulator, manifests, daemon config."""

    def __init__(self, users, *emu_args):
        self.tmp = tempfile.mkdtemp(prefix="smstudio-bench-")
        os.chmod(self.tmp, 0o755)
        self.emu = Awsemu(self.tmp, "--async-delay-ms", "0", *emu_args)
        self.mdir = os.path.join(self.tmp, "smstudio.d")
        os.mkdir(self.mdir)
        os.chmod(self.mdir, 0o755)
        with open(os.path.join(self.mdir, "00-domain.yaml"), "w") as f:
            f.write(DOMAIN)
        for i in range(users):
            with open(os.path.join(self.mdir, "u%05d.yaml" % i), "w") as f:
                f.write("kind: User\nname: u%05d\ngroup: data_science_users\n" % i)
        for name in os.listdir(self.mdir):
            os.chmod(os.path.join(self.mdir, name), 0o644)
        self.home = os.path.join(self.tmp, "home")
        os.mkdir(self.home)
        self.config = os.path.join(self.tmp, "smstudiod.yaml")
        with open(self.config, "w") as f:
            f.write("region: us-east-1\nmanifest_dir: %s\nstate_dir: %s\nendpoints:\n"
                    % (self.mdir, os.path.join(self.tmp, "state")))
            for service in ("sagemaker", "iam", "sts", "servicecatalog"):
                f.write("  %s: %s\n" % (service, self.emu.url))

    def admin(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else (
            b"" if method in ("POST", "DELETE") else None)
        req = urllib.request.Request(self.emu.url + path, method=method, data=data)
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.loads(resp.read())

    def calls(self):
        return self.admin("GET", "/_emu/calls?detail=1")

    def cap(self, rps):
        if rps:
            self.admin("POST", "/_emu/ratelimit", {"operation": "*", "rps": rps, "burst": rps})
        else:
            self.admin("DELETE", "/_emu/ratelimit")

    def counts(self, kind):
        """sagemaker objects of one table (user_profiles, spaces)."""
        return len(self.admin("GET", "/_emu/state")["services"]["sagemaker"][kind])

    def once(self):
        """One --once; returns (exit code, seconds, ru_maxrss KiB, stdout)."""
        env = dict(os.environ)
        env.update({"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
                    "AWS_SECRET_ACCESS_KEY": "awsemu/EXAMPLE/secret/key/0123456789abc",
                    "AWS_EC2_METADATA_DISABLED": "true", "HOME": self.home})
        for var in ("AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL",
                    "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_SESSION_TOKEN"):
            env.pop(var, None)
        out = os.path.join(self.tmp, "once.out")
        rss_file = os.path.join(self.tmp, "once.rss")
        # Peak RSS through GNU time (%M, KiB): the ru_maxrss Python's own
        # wait4 would see is polluted, as Linux carries the forking
        # process's high-water mark (here Python's) across exec.
        with open(out, "w") as fo:
            t0 = time.monotonic()
            p = subprocess.run([GNU_TIME, "-f", "%M", "-o", rss_file, SMSTUDIOD, "--once",
                                "--config", self.config],
                               stdout=fo, stderr=subprocess.STDOUT, env=env)
            elapsed = time.monotonic() - t0
        with open(out) as f:
            text = f.read()
        with open(rss_file) as f:
            maxrss = int(f.read().strip().splitlines()[-1])
        return p.returncode, elapsed, maxrss, text

    def close(self):
        self.emu.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


def delta(before, after):
    """Per operation {ok, throttled, error, calls} of after - before."""
    out = {}
    for op, a in after.items():
        b = before.get(op, {})
        d = {k: a.get(k, 0) - b.get(k, 0) for k in ("ok", "throttled", "error", "calls")}
        if any(d.values()):
            out[op] = d
    return out


def mutating(op):
    return not op.split(":", 1)[1].startswith(READ_PREFIXES)


def summary_line(text):
    for line in text.splitlines():
        if line.startswith("pass:"):
            return line
    return text.strip().splitlines()[-1] if text.strip() else "(no output)"


def unfit_build():
    """Why this build cannot give the figures (None when it can): the
    targets are for a release build, and the RSS needs GNU time."""
    if not os.path.exists(GNU_TIME):
        return "no GNU time at %s (apt-get install time)" % GNU_TIME
    path = shutil.which(SMSTUDIOD) or SMSTUDIOD
    try:
        with open(path, "rb") as f:
            if b"__asan_init" in f.read():
                return "%s is a sanitizer build" % path
    except OSError as e:
        return "cannot read %s: %s" % (path, e)
    return None


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--users", type=int, default=1000)
    p.add_argument("--steady-users", type=int, default=5000)
    p.add_argument("--rps", type=float, default=50.0)
    p.add_argument("--skip-greenfield", action="store_true")
    p.add_argument("--skip-steady", action="store_true")
    args = p.parse_args(argv)
    why = unfit_build()
    if why:
        # 77: meson's "skipped", rather than figures that mean nothing.
        print("skipped: %s; use a release build (see docs/performance.md)" % why)
        return 77
    rows, missed = [], []

    def row(name, value, target, ok):
        rows.append((name, value, target, "ok" if ok is None or ok else "MISSED"))
        if ok is False:
            missed.append(name)

    if not args.skip_greenfield:
        est = Estate(args.users)
        try:
            est.cap(args.rps)
            before = est.calls()
            code, secs, _, text = est.once()
            d = delta(before, est.calls())
            profiles, spaces = est.counts("user_profiles"), est.counts("spaces")
        finally:
            est.close()
        mandatory = sum(v["ok"] for op, v in d.items() if mutating(op))
        reads = sum(v["ok"] for op, v in d.items() if not mutating(op))
        throttled = sum(v["throttled"] for v in d.values())
        errors = sum(v["error"] for v in d.values())
        bound = mandatory / args.rps
        ratio = secs / bound if bound else float("inf")
        print("greenfield: exit %d, %s" % (code, summary_line(text)))
        print("  calls by operation (ok/throttled/error):")
        for op, v in sorted(d.items()):
            print("    %-40s %6d %6d %6d" % (op, v["ok"], v["throttled"], v["error"]))
        converged = code in (0, 2) and profiles == args.users and spaces == args.users
        row("greenfield %d users: converged" % args.users,
            "%d profiles, %d spaces" % (profiles, spaces), "%d each" % args.users, converged)
        row("  mandatory calls (ok mutating)", str(mandatory), "", None)
        row("  ok reads (List/Describe/Get)", str(reads), "", None)
        row("  throttled answers", str(throttled), "", None)
        row("  other errors", str(errors), "", None)
        row("  time", "%.1f s" % secs, "", None)
        row("  bound mandatory/R (R=%g)" % args.rps, "%.1f s" % bound, "", None)
        row("  time / bound", "%.2f" % ratio, "<= 1.15", ratio <= 1.15)

    if not args.skip_steady:
        n = args.steady_users
        est = Estate(n, "--no-verify")
        try:
            t0 = time.monotonic()
            code1, secs1, _, text1 = est.once()
            code2, secs2, _, text2 = est.once()
            print("steady setup: pass 1 exit %d in %.1f s (%s); pass 2 exit %d in %.1f s (%s)"
                  % (code1, secs1, summary_line(text1), code2, secs2, summary_line(text2)))
            profiles, spaces = est.counts("user_profiles"), est.counts("spaces")
            est.cap(args.rps)
            before = est.calls()
            code, secs, maxrss, text = est.once()
            d = delta(before, est.calls())
            print("steady pass: exit %d in %.1f s, %s (setup %.1f s)"
                  % (code, secs, summary_line(text), time.monotonic() - t0))
        finally:
            est.close()
        print("  calls by operation (ok/throttled/error):")
        for op, v in sorted(d.items()):
            print("    %-40s %6d %6d %6d" % (op, v["ok"], v["throttled"], v["error"]))
        total = sum(v["calls"] for v in d.values())
        throttled = sum(v["throttled"] for v in d.values())
        muts = sum(v["calls"] for op, v in d.items() if mutating(op))
        limit = 2 * math.ceil(n / 100) + 30
        row("steady %d users: estate" % n, "%d profiles, %d spaces" % (profiles, spaces),
            "%d each" % n, profiles == n and spaces == n)
        row("  exit code of measured pass", str(code), "0", code == 0)
        row("  mutating calls", str(muts), "0", muts == 0)
        row("  throttled answers", str(throttled), "", None)
        row("  time (R=%g)" % args.rps, "%.1f s" % secs, "", None)
        row("  calls", str(total), "<= %d" % limit, total <= limit)
        mib = maxrss / 1024.0
        row("  peak RSS (GNU time %M)", "%.1f MiB" % mib, "<= 32 MiB", mib <= 32)

    print()
    print("%-40s %-24s %-12s %s" % ("measure", "value", "target", ""))
    print("-" * 84)
    for r in rows:
        print("%-40s %-24s %-12s %s" % r)
    if missed:
        print("\nMISSED: " + "; ".join(m.strip() for m in missed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
