# SPDX-License-Identifier: Apache-2.0
"""IAM roles: CRUD, tags, managed (attached) and inline policies,
permissions boundary and trust policy.

Semantics kept from IAM because smstudio depends on them: role names are
unique case-insensitively; policy documents go back URL-encoded (the SDKs
decode them); a role with attached or inline policies cannot be deleted
(DeleteConflict); missing things are NoSuchEntity (404) and duplicates
EntityAlreadyExists (409). Policies named by ARN are not modelled as
resources in this cut: any well-formed policy ARN can be attached."""

import json
import re
import time
import urllib.parse

from ..errors import AwsError
from .common import aws_id, marker_page

MAX_TAGS = 50
_POLICY_ARN = re.compile(r"arn:aws[a-z-]*:iam::(aws|\d{12}):policy(/.*)?/([^/]+)")


def fresh_state():
    # lower-cased role name -> role record (JSON-serialisable for /_emu/state)
    return {"roles": {}}


def _no_role(name):
    return AwsError("NoSuchEntity", "The role with name %s cannot be found." % name, 404)


def _role(ctx, name):
    role = ctx.data["roles"].get(name.lower())
    if role is None:
        raise _no_role(name)
    return role


def _check_document(doc):
    try:
        value = json.loads(doc)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise AwsError("MalformedPolicyDocument", "Syntax errors in policy.")


def _encoded(doc):
    return urllib.parse.quote(doc, safe="")


def _role_out(role, full=True, last_used=False):
    """The Role structure; ListRoles leaves out tags and boundary as IAM
    does, and only GetRole reports RoleLastUsed."""
    out = {k: role[k] for k in ("Path", "RoleName", "RoleId", "Arn", "CreateDate",
                                 "MaxSessionDuration")}
    out["AssumeRolePolicyDocument"] = _encoded(role["AssumeRolePolicyDocument"])
    if role.get("Description") is not None:
        out["Description"] = role["Description"]
    if full:
        if role["Tags"]:
            out["Tags"] = list(role["Tags"])
        if role.get("PermissionsBoundary"):
            out["PermissionsBoundary"] = {"PermissionsBoundaryType": "Policy",
                                          "PermissionsBoundaryArn": role["PermissionsBoundary"]}
    if last_used:
        out["RoleLastUsed"] = {}
    return out


def _merge_tags(existing, new):
    """IAM tag keys are unique case-insensitively; a new value replaces."""
    merged = {t["Key"].lower(): t for t in existing}
    for t in new:
        merged[t["Key"].lower()] = {"Key": t["Key"], "Value": t.get("Value", "")}
    if len(merged) > MAX_TAGS:
        raise AwsError("LimitExceeded", "The number of tags has reached the maximum limit.", 409)
    return list(merged.values())


def _check_policy_arn(arn):
    if not _POLICY_ARN.fullmatch(arn):
        raise AwsError("InvalidInput", "ARN %s is not valid." % arn)


def create_role(ctx, p):
    name = p["RoleName"]
    roles = ctx.data["roles"]
    if name.lower() in roles:
        raise AwsError("EntityAlreadyExists", "Role with name %s already exists." % name, 409)
    path = p.get("Path", "/")
    _check_document(p["AssumeRolePolicyDocument"])
    if p.get("PermissionsBoundary"):
        _check_policy_arn(p["PermissionsBoundary"])
    role = {
        "Path": path, "RoleName": name, "RoleId": aws_id("AROA"),
        "Arn": "arn:aws:iam::%s:role%s%s" % (ctx.account, path, name),
        "CreateDate": time.time(),
        "AssumeRolePolicyDocument": p["AssumeRolePolicyDocument"],
        "Description": p.get("Description"),
        "MaxSessionDuration": p.get("MaxSessionDuration", 3600),
        "PermissionsBoundary": p.get("PermissionsBoundary"),
        "Tags": _merge_tags([], p.get("Tags", [])),
        "AttachedPolicies": [], "InlinePolicies": {},
    }
    roles[name.lower()] = role
    return {"Role": _role_out(role)}


def get_role(ctx, p):
    return {"Role": _role_out(_role(ctx, p["RoleName"]), last_used=True)}


def list_roles(ctx, p):
    prefix = p.get("PathPrefix", "/")
    roles = sorted((r for r in ctx.data["roles"].values() if r["Path"].startswith(prefix)),
                   key=lambda r: r["RoleName"].lower())
    page, more = marker_page(roles, lambda r: r["RoleName"].lower(), p)
    return dict(more, Roles=[_role_out(r, full=False) for r in page])


def delete_role(ctx, p):
    role = _role(ctx, p["RoleName"])
    if role["AttachedPolicies"]:
        raise AwsError("DeleteConflict",
                       "Cannot delete entity, must detach all policies first.", 409)
    if role["InlinePolicies"]:
        raise AwsError("DeleteConflict", "Cannot delete entity, must delete policies first.", 409)
    del ctx.data["roles"][role["RoleName"].lower()]
    return {}


def update_assume_role_policy(ctx, p):
    role = _role(ctx, p["RoleName"])
    _check_document(p["PolicyDocument"])
    role["AssumeRolePolicyDocument"] = p["PolicyDocument"]
    return {}


def put_role_permissions_boundary(ctx, p):
    role = _role(ctx, p["RoleName"])
    _check_policy_arn(p["PermissionsBoundary"])
    role["PermissionsBoundary"] = p["PermissionsBoundary"]
    return {}


def delete_role_permissions_boundary(ctx, p):
    _role(ctx, p["RoleName"])["PermissionsBoundary"] = None
    return {}


def tag_role(ctx, p):
    role = _role(ctx, p["RoleName"])
    role["Tags"] = _merge_tags(role["Tags"], p["Tags"])
    return {}


def untag_role(ctx, p):
    role = _role(ctx, p["RoleName"])
    drop = {k.lower() for k in p["TagKeys"]}
    role["Tags"] = [t for t in role["Tags"] if t["Key"].lower() not in drop]
    return {}


def list_role_tags(ctx, p):
    tags = _role(ctx, p["RoleName"])["Tags"]
    indexed = sorted(enumerate(tags), key=lambda it: it[0])
    page, more = marker_page(indexed, lambda it: "%08d" % it[0], p)
    return dict(more, Tags=[t for _, t in page])


def attach_role_policy(ctx, p):
    role = _role(ctx, p["RoleName"])
    _check_policy_arn(p["PolicyArn"])
    if p["PolicyArn"] not in role["AttachedPolicies"]:
        role["AttachedPolicies"].append(p["PolicyArn"])
    return {}


def detach_role_policy(ctx, p):
    role = _role(ctx, p["RoleName"])
    if p["PolicyArn"] not in role["AttachedPolicies"]:
        raise AwsError("NoSuchEntity", "Policy %s was not attached." % p["PolicyArn"], 404)
    role["AttachedPolicies"].remove(p["PolicyArn"])
    return {}


def list_attached_role_policies(ctx, p):
    role = _role(ctx, p["RoleName"])
    prefix = p.get("PathPrefix", "/")
    found = []
    for arn in role["AttachedPolicies"]:
        m = _POLICY_ARN.fullmatch(arn)
        path = (m.group(2) or "") + "/" if m else "/"
        if path.startswith(prefix):
            found.append({"PolicyName": arn.rsplit("/", 1)[1], "PolicyArn": arn})
    found.sort(key=lambda a: a["PolicyArn"])
    page, more = marker_page(found, lambda a: a["PolicyArn"], p)
    return dict(more, AttachedPolicies=page)


def put_role_policy(ctx, p):
    role = _role(ctx, p["RoleName"])
    _check_document(p["PolicyDocument"])
    role["InlinePolicies"][p["PolicyName"]] = p["PolicyDocument"]
    return {}


def _inline(ctx, p):
    role = _role(ctx, p["RoleName"])
    if p["PolicyName"] not in role["InlinePolicies"]:
        raise AwsError("NoSuchEntity", "The role policy with name %s cannot be found."
                       % p["PolicyName"], 404)
    return role


def get_role_policy(ctx, p):
    role = _inline(ctx, p)
    return {"RoleName": role["RoleName"], "PolicyName": p["PolicyName"],
            "PolicyDocument": _encoded(role["InlinePolicies"][p["PolicyName"]])}


def delete_role_policy(ctx, p):
    del _inline(ctx, p)["InlinePolicies"][p["PolicyName"]]
    return {}


def list_role_policies(ctx, p):
    names = sorted(_role(ctx, p["RoleName"])["InlinePolicies"])
    page, more = marker_page(names, lambda n: n, p)
    return dict(more, PolicyNames=page)


HANDLERS = {
    "CreateRole": create_role, "GetRole": get_role, "ListRoles": list_roles,
    "DeleteRole": delete_role, "UpdateAssumeRolePolicy": update_assume_role_policy,
    "PutRolePermissionsBoundary": put_role_permissions_boundary,
    "DeleteRolePermissionsBoundary": delete_role_permissions_boundary,
    "TagRole": tag_role, "UntagRole": untag_role, "ListRoleTags": list_role_tags,
    "AttachRolePolicy": attach_role_policy, "DetachRolePolicy": detach_role_policy,
    "ListAttachedRolePolicies": list_attached_role_policies,
    "PutRolePolicy": put_role_policy, "GetRolePolicy": get_role_policy,
    "DeleteRolePolicy": delete_role_policy, "ListRolePolicies": list_role_policies,
}
