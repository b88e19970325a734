#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# smstudio's idle auto-shutdown for SageMaker Studio JupyterLab apps: the
# content of the lifecycle config smstudiod attaches to every domain that
# sets server_lifecycle_name (lifecycle_script in smstudiod.yaml(5)).
#
# It replaces the original module's script, which downloaded an extension
# from GitHub and so failed in VpcOnly domains without internet access. This
# one needs nothing from the internet: a small checker in the image's own
# python3 (standard library only) asks the local Jupyter server how long it
# has been idle and, past the timeout, stops its own app with DeleteApp
# through the AWS CLI of the image.
#
# Assumed of the SageMaker Distribution image (checked against AWS's
# documentation where it says, else the image as it ships):
# - the lifecycle config runs as the app's user, must return within
#   5 minutes, and its output goes to CloudWatch: so the checker runs in
#   the background and logs to ~/.smstudio/idle-checker.log;
# - Jupyter Server listens on 127.0.0.1:8888 under /jupyterlab/default/ and
#   trusts loopback requests (a token in JUPYTER_TOKEN is sent if set);
# - /opt/ml/metadata/resource-metadata.json names the app: DomainId,
#   SpaceName, ResourceName (the app name), AppType, ResourceArn (region);
# - python3 and the aws CLI are on PATH; the space's execution role may
#   call sagemaker:DeleteApp, and a VpcOnly domain has a VPC endpoint for
#   the SageMaker API (the domain's other API calls need it too).
# The SMSTUDIO_* variables below exist for tests; Studio sets none of them.
set -eu

idle_minutes=${SMSTUDIO_IDLE_MINUTES:-120}
check_seconds=${SMSTUDIO_CHECK_SECONDS:-300}
jupyter_url=${SMSTUDIO_JUPYTER_URL:-http://127.0.0.1:8888/jupyterlab/default/}
metadata=${SMSTUDIO_METADATA:-/opt/ml/metadata/resource-metadata.json}
dir="${HOME:-/home/sagemaker-user}/.smstudio"

mkdir -p "$dir"
# The checker, between the markers that tests/integration/test_lifecycle_script.py
# extracts it by.
cat >"$dir/idle_checker.py" <<'PYTHON'
# --- idle_checker.py begin ---
import json, os, subprocess, sys, time, urllib.request
from datetime import datetime, timezone


def parse_time(s):
    """Jupyter's ISO 8601 timestamps ("2024-05-01T10:00:00.123456Z")."""
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def idle_seconds(now, status, kernels, terminals):
    """Seconds the server has been idle: 0 while a kernel is busy, else
    since the latest activity of the server, a kernel or a terminal."""
    if any(k.get("execution_state") == "busy" for k in kernels):
        return 0.0
    stamps = [status.get("last_activity"), status.get("started")]
    stamps += [k.get("last_activity") for k in kernels]
    stamps += [t.get("last_activity") for t in terminals]
    latest = max(parse_time(s) for s in stamps if s)
    return max(0.0, now - latest)


def get(url, path):
    req = urllib.request.Request(url + path)
    token = os.environ.get("JUPYTER_TOKEN")
    if token:
        req.add_header("Authorization", "token " + token)
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.load(resp)


def stop_app(metadata_path):
    """DeleteApp for this app, as resource-metadata.json names it."""
    with open(metadata_path, encoding="utf-8") as f:
        md = json.load(f)
    region = md["ResourceArn"].split(":")[3]
    cmd = ["aws", "sagemaker", "delete-app", "--region", region,
           "--domain-id", md["DomainId"], "--app-type", md.get("AppType", "JupyterLab"),
           "--app-name", md["ResourceName"]]
    if md.get("SpaceName"):
        cmd += ["--space-name", md["SpaceName"]]
    else:
        cmd += ["--user-profile-name", md["UserProfileName"]]
    return subprocess.run(cmd, check=False).returncode


def check(url, metadata_path, idle_limit, now=None):
    """One look: True when the app was asked to stop. Any error keeps it
    running: a checker that cannot see must not stop someone's work."""
    try:
        idle = idle_seconds(now if now is not None else time.time(), get(url, "api/status"),
                            get(url, "api/kernels"), get(url, "api/terminals"))
    except Exception as e:  # noqa: BLE001 (anything unexpected: keep running)
        print("idle check failed: %s" % e, flush=True)
        return False
    if idle < idle_limit:
        return False
    print("idle for %d minutes: stopping this app" % (idle // 60), flush=True)
    return stop_app(metadata_path) == 0


def main(argv):
    url, metadata_path, idle_minutes, every = argv[1], argv[2], float(argv[3]), float(argv[4])
    while not check(url, metadata_path, idle_minutes * 60):
        time.sleep(every)


if __name__ == "__main__":
    main(sys.argv)
# --- idle_checker.py end ---
PYTHON

# One checker per app start; a restarted app starts a fresh one.
nohup python3 "$dir/idle_checker.py" "$jupyter_url" "$metadata" "$idle_minutes" \
        "$check_seconds" >>"$dir/idle-checker.log" 2>&1 &
echo "smstudio idle shutdown: ${idle_minutes} minutes, log in $dir/idle-checker.log"
