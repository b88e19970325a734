# SPDX-License-Identifier: Apache-2.0
"""STS: who the caller is, and temporary credentials for a role.

AssumeRole's and AssumeRoleWithWebIdentity's credentials are added to the
emulator's key table with their session token and expiry, so a client can
go on to sign with them, as smstudio does with a role it assumes; the
identity they carry is the assumed-role ARN GetCallerIdentity then
reports.

AssumeRoleWithWebIdentity is the one call AWS serves unsigned (the web
identity token is the credential), so the server lets it through without
a signature (see UNSIGNED) and ctx.caller may be None here. The token is
not verified against an identity provider: any non-empty token is taken,
and when it looks like a JWT its sub/aud/iss claims fill the answer."""

import base64
import json
import re
import time

from ..errors import AwsError

_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::(\d{12}):role(/(?:.*/)?)?([^/]+)")

# Operations the server accepts without a SigV4 signature.
UNSIGNED = frozenset({"AssumeRoleWithWebIdentity"})


def fresh_state():
    return {"sessions": 0}


def get_caller_identity(ctx, p):
    ident = ctx.caller.identity
    return {"UserId": ident["UserId"], "Account": ident["Account"], "Arn": ident["Arn"]}


def _role_for(ctx, arn, denied):
    """The IAM role record an ARN names in this account, else `denied`."""
    m = _ROLE_ARN.fullmatch(arn)
    if not m or m.group(1) != ctx.account:
        raise denied
    role = ctx.state.data["iam"]["roles"].get(m.group(3).lower())
    if role is None or role["Arn"] != arn:
        raise denied
    return role


def _session(ctx, role, session, duration):
    """Issue a key for role/session; returns (key, AssumedRoleUser)."""
    if duration > role["MaxSessionDuration"]:
        raise AwsError("ValidationError", "The requested DurationSeconds exceeds the "
                       "MaxSessionDuration set for this role.")
    assumed_id = "%s:%s" % (role["RoleId"], session)
    assumed_arn = "arn:aws:sts::%s:assumed-role/%s/%s" % (ctx.account, role["RoleName"], session)
    key = ctx.keys.issue({"UserId": assumed_id, "Account": ctx.account, "Arn": assumed_arn},
                         int(time.time()) + duration)
    ctx.data["sessions"] += 1
    return key, {"AssumedRoleId": assumed_id, "Arn": assumed_arn}


def _credentials(key):
    return {"AccessKeyId": key.akid, "SecretAccessKey": key.secret,
            "SessionToken": key.token, "Expiration": key.expires}


def assume_role(ctx, p):
    arn = p["RoleArn"]
    denied = AwsError("AccessDenied", "User: %s is not authorized to perform: sts:AssumeRole "
                      "on resource: %s" % (ctx.caller.identity["Arn"], arn), 403)
    role = _role_for(ctx, arn, denied)
    key, user = _session(ctx, role, p["RoleSessionName"], p.get("DurationSeconds", 3600))
    return {"Credentials": _credentials(key), "AssumedRoleUser": user}


def _jwt_claims(token):
    """The payload of a JWT-shaped token, or {} when it is not one."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return {}
    return claims if isinstance(claims, dict) else {}


def assume_role_with_web_identity(ctx, p):
    token = p["WebIdentityToken"]
    if not token.strip():
        raise AwsError("InvalidIdentityToken", "The web identity token is empty.")
    denied = AwsError("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity",
                      403)
    role = _role_for(ctx, p["RoleArn"], denied)
    key, user = _session(ctx, role, p["RoleSessionName"], p.get("DurationSeconds", 3600))
    claims = _jwt_claims(token)
    aud = claims.get("aud", "sts.amazonaws.com")
    out = {"Credentials": _credentials(key), "AssumedRoleUser": user,
           "SubjectFromWebIdentityToken": str(claims.get("sub", "awsemu-subject")),
           "Audience": str(aud[0] if isinstance(aud, list) and aud else aud),
           "Provider": str(claims.get("iss", "awsemu"))}
    if p.get("ProviderId"):
        out["Provider"] = p["ProviderId"]
    return out


HANDLERS = {"GetCallerIdentity": get_caller_identity, "AssumeRole": assume_role,
            "AssumeRoleWithWebIdentity": assume_role_with_web_identity}
