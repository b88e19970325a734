# SPDX-License-Identifier: Apache-2.0
"""STS: who the caller is, and temporary credentials for a role.

AssumeRole's credentials are added to the emulator's key table with
their session token and expiry, so a client can go on to sign with them,
as smstudio does with a role it assumes; the identity they carry is the
assumed-role ARN GetCallerIdentity then reports."""

import base64
import re
import secrets
import time

from ..errors import AwsError
from ..sigv4 import Key
from .common import aws_id, secret_key

_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::(\d{12}):role(/(?:.*/)?)?([^/]+)")


def fresh_state():
    return {"sessions": 0}


def get_caller_identity(ctx, p):
    ident = ctx.caller.identity
    return {"UserId": ident["UserId"], "Account": ident["Account"], "Arn": ident["Arn"]}


def assume_role(ctx, p):
    arn = p["RoleArn"]
    m = _ROLE_ARN.fullmatch(arn)
    denied = AwsError("AccessDenied", "User: %s is not authorized to perform: sts:AssumeRole "
                      "on resource: %s" % (ctx.caller.identity["Arn"], arn), 403)
    if not m or m.group(1) != ctx.account:
        raise denied
    role = ctx.state.data["iam"]["roles"].get(m.group(3).lower())
    if role is None or role["Arn"] != arn:
        raise denied
    duration = p.get("DurationSeconds", 3600)
    if duration > role["MaxSessionDuration"]:
        raise AwsError("ValidationError", "The requested DurationSeconds exceeds the "
                       "MaxSessionDuration set for this role.")
    session = p["RoleSessionName"]
    expires = int(time.time()) + duration
    assumed_id = "%s:%s" % (role["RoleId"], session)
    assumed_arn = "arn:aws:sts::%s:assumed-role/%s/%s" % (ctx.account, role["RoleName"], session)
    key = Key(aws_id("ASIA", 20), secret_key(),
              token=base64.b64encode(secrets.token_bytes(96)).decode(), expires=expires,
              identity={"UserId": assumed_id, "Account": ctx.account, "Arn": assumed_arn})
    ctx.keys.add(key)
    ctx.data["sessions"] += 1
    return {
        "Credentials": {"AccessKeyId": key.akid, "SecretAccessKey": key.secret,
                        "SessionToken": key.token, "Expiration": expires},
        "AssumedRoleUser": {"AssumedRoleId": assumed_id, "Arn": assumed_arn},
    }


HANDLERS = {"GetCallerIdentity": get_caller_identity, "AssumeRole": assume_role}
