# SPDX-License-Identifier: Apache-2.0
"""SageMaker Studio: domains, user profiles, spaces and apps, plus the
AddTags / ListTags / DeleteTags operations over the shared tag registry.

Records are stored shaped as the Describe* output (so Describe is the
record minus the private "_" members, and the admin API can drift a
field by editing it), keyed so that lookups are direct:
  domains        DomainId                      -> record
  user_profiles  "DomainId/UserProfileName"     -> record
  spaces         "DomainId/SpaceName"           -> record
  apps           "DomainId/u|s:Owner/Type/Name" -> record

Behaviour kept from SageMaker because smstudio's reconciler depends on it:
  - statuses move asynchronously (Pending/Updating -> InService,
    Deleting -> gone; apps Deleting -> Deleted, and Deleted apps stay
    listed and describable), with the delay of State.async_delay_s;
  - the deletion order is enforced with ResourceInUse: apps before their
    space or user profile, spaces before their owner, profiles and spaces
    before the domain; a resource busy in a transient status cannot be
    updated or deleted;
  - what the Update* inputs lack cannot change (the model rejects it), and
    the documented restrictions on what they have are ValidationException;
  - an update deep-merges the given settings into the stored ones (lists
    are replaced) and LastModifiedTime moves on every change but not on
    reads or tag changes, so List + LastModifiedTime can stand in for
    Describe."""

import secrets

from ..errors import AwsError
from . import sagemaker_common as common
from .sagemaker_common import GONE, arn, in_use, next_token_page, public

# Statuses in which a parent accepts new children and a resource accepts
# an update or a delete; the transient ones answer ResourceInUse.
_PARENT_READY = ("InService", "Updating", "Update_Failed")
_UPDATABLE = ("InService", "Update_Failed")
_DELETABLE = ("InService", "Failed", "Update_Failed", "Delete_Failed")
# Apps in these statuses no longer hold their owner or domain.
_APP_ENDED = ("Deleted", "Failed")
# Apps in these statuses forbid network changes on the domain.
_APP_NETWORK_BUSY = ("InService", "Pending", "Deleting")

_TABLES = ("domains", "user_profiles", "spaces", "apps")


def fresh_state():
    return {"domains": {}, "user_profiles": {}, "spaces": {}, "apps": {},
            "studio_seq": 0, "next_efs_uid": 200001}


# -- bookkeeping -------------------------------------------------------------

def _validation(message):
    return AwsError("ValidationException", message)


def _next_seq(ctx):
    """A creation counter: the tie-breaker of list order and page tokens,
    since two creations can share a clock reading."""
    ctx.data["studio_seq"] += 1
    return ctx.data["studio_seq"]


def _next_efs_uid(ctx):
    uid = ctx.data["next_efs_uid"]
    ctx.data["next_efs_uid"] = uid + 1
    return str(uid)


def _touch(obj, before):
    """LastModifiedTime strictly after before, even within one clock tick,
    so a client comparing timestamps always sees a change."""
    obj["LastModifiedTime"] = max(obj["LastModifiedTime"], before + 0.001)


def _transition(ctx, obj, status, settles_to):
    before = obj.get("LastModifiedTime", 0.0)
    common.start_transition(ctx, obj, status, settles_to)
    _touch(obj, before)


def _new_record(ctx, status, settles_to, **fields):
    """A record in its first transient status, with both timestamps."""
    obj = dict(fields)
    obj["_seq"] = _next_seq(ctx)
    _transition(ctx, obj, status, settles_to)
    obj["CreationTime"] = obj["LastModifiedTime"]
    return obj


def _settle_one(ctx, obj):
    """settle() that keeps LastModifiedTime strictly increasing; False
    when the record is now gone."""
    before = obj.get("LastModifiedTime", 0.0)
    status = obj.get("Status")
    alive = common.settle(obj)
    if alive and obj.get("Status") != status:
        _touch(obj, before)
    return alive


def _settle(ctx):
    """Apply every due transition of the studio tables. Gone resources lose
    their tags; apps that reach Deleted too (AWS answers tag calls on a
    Deleted app's ARN as for an unknown resource). A domain that is gone
    takes its remaining (ended) apps with it."""
    data = ctx.data
    for table in _TABLES:
        for key, obj in list(data[table].items()):
            if "_settles_at" not in obj:
                continue
            if not _settle_one(ctx, obj):
                del data[table][key]
                common.forget_tags(ctx, obj.get("_arn"))
                if table == "domains":
                    _drop_domain_apps(ctx, key)
            elif table == "apps" and obj["Status"] == "Deleted":
                common.forget_tags(ctx, obj.get("_arn"))


def _drop_domain_apps(ctx, domain_id):
    apps = ctx.data["apps"]
    for key in [k for k, a in apps.items() if a["DomainId"] == domain_id]:
        common.forget_tags(ctx, apps[key].get("_arn"))
        del apps[key]


def _deep_merge(stored, update):
    """Merge an Update* structure into the stored one: nested structures
    merge member by member, anything else (lists included) replaces."""
    for name, value in update.items():
        if isinstance(value, dict) and isinstance(stored.get(name), dict):
            _deep_merge(stored[name], value)
        else:
            stored[name] = value
    return stored


def _register(ctx, obj, resource_arn, tags):
    obj["_arn"] = resource_arn
    common.register_tags(ctx, resource_arn, tags)


# -- listing ---------------------------------------------------------------

def _sorted_page(items, params, out_name, summary):
    """Sort by SortBy (CreationTime by default) in SortOrder (Ascending by
    default, as the model documents), then page. The page key pairs the
    timestamp with the creation counter, negated for Descending so the
    token's ">= next key" rule holds either way."""
    field = params.get("SortBy") or "CreationTime"
    sign = -1 if params.get("SortOrder") == "Descending" else 1

    def key(obj):
        # .get: records patched in through the admin API may lack members.
        return [sign * obj.get(field, 0.0), sign * obj.get("_seq", 0)]

    items = sorted(items, key=key)
    page, extra = next_token_page(items, key, params)
    extra[out_name] = [summary(obj) for obj in page]
    return extra


def _pick(obj, names):
    return {n: obj[n] for n in names if obj.get(n) is not None}


# -- domains -----------------------------------------------------------------

def _domain(ctx, domain_id):
    _settle(ctx)
    dom = ctx.data["domains"].get(domain_id)
    if dom is None:
        raise common.not_found("Domain", "[%s]" % arn(ctx, "domain", domain_id))
    return dom


def _efs_id():
    """An EFS file system id: "fs-" and 17 hex digits."""
    return "fs-" + secrets.token_hex(9)[:17]


def _ready_domain(ctx, domain_id):
    """The domain a new child goes into: it must exist and be usable."""
    dom = _domain(ctx, domain_id)
    if dom["Status"] not in _PARENT_READY:
        raise in_use("Domain %s is in %s status; it cannot take new resources now."
                     % (domain_id, dom["Status"]))
    return dom


def create_domain(ctx, params):
    _settle(ctx)
    name = params["DomainName"]
    for dom in ctx.data["domains"].values():
        if dom["DomainName"] == name:
            raise in_use("Domain with name %s already exists; its id is %s."
                         % (name, dom["DomainId"]))
    domain_id = common.random_id("d-")
    fields = {k: v for k, v in params.items() if k != "Tags"}
    dom = _new_record(ctx, "Pending", "InService", **fields)
    dom.update(DomainId=domain_id, DomainArn=arn(ctx, "domain", domain_id),
               Url="https://%s.studio.%s.sagemaker.aws" % (domain_id, ctx.region))
    dom.setdefault("AppNetworkAccessType", "PublicInternetOnly")
    dom.setdefault("AppSecurityGroupManagement", "Service")
    dom.setdefault("TagPropagation", "DISABLED")
    if params.get("HomeEfsFileSystemCreation", "Enabled") == "Enabled":
        dom["HomeEfsFileSystemId"] = _efs_id()
    if params["AuthMode"] == "SSO":
        dom["SingleSignOnManagedApplicationInstanceId"] = "ssoins-" + secrets.token_hex(8)
    ctx.data["domains"][domain_id] = dom
    _register(ctx, dom, dom["DomainArn"], params.get("Tags"))
    return {"DomainArn": dom["DomainArn"], "DomainId": domain_id, "Url": dom["Url"]}


def describe_domain(ctx, params):
    return public(_domain(ctx, params["DomainId"]))


_DOMAIN_SUMMARY = ("DomainArn", "DomainId", "DomainName", "Status", "CreationTime",
                   "LastModifiedTime", "Url")


def list_domains(ctx, params):
    _settle(ctx)
    return _sorted_page(ctx.data["domains"].values(), {**params, "SortBy": None,
                                                       "SortOrder": None},
                        "Domains", lambda d: _pick(d, _DOMAIN_SUMMARY))


def _busy_network_apps(ctx, domain_id):
    return [a for a in ctx.data["apps"].values()
            if a["DomainId"] == domain_id and a["Status"] in _APP_NETWORK_BUSY]


def _check_domain_update(ctx, dom, params):
    """The documented limits of UpdateDomain on network settings."""
    busy = _busy_network_apps(ctx, dom["DomainId"])
    access = params.get("AppNetworkAccessType")
    if access is not None and access != dom.get("AppNetworkAccessType") and busy:
        raise _validation("AppNetworkAccessType cannot be changed while the domain has apps "
                          "in InService, Pending or Deleting status.")
    subnets = params.get("SubnetIds")
    if subnets is not None and busy and set(dom.get("SubnetIds") or ()) - set(subnets):
        raise _validation("SubnetIds cannot be removed while the domain has apps in "
                          "InService, Pending or Deleting status.")
    vpc = params.get("VpcId")
    if vpc is not None and dom.get("VpcId") not in (None, vpc):
        raise _validation("VpcId can only be set on a domain created without a VPC.")


# UpdateDomain's DomainSettingsForUpdate members that land in DomainSettings
# under another name; the rest keep their names.
_SETTINGS_RENAMED = {"RStudioServerProDomainSettingsForUpdate": "RStudioServerProDomainSettings"}


def update_domain(ctx, params):
    dom = _domain(ctx, params["DomainId"])
    if dom["Status"] not in _UPDATABLE:
        raise in_use("Domain %s is in %s status and cannot be updated now."
                     % (dom["DomainId"], dom["Status"]))
    _check_domain_update(ctx, dom, params)
    for name in ("DefaultUserSettings", "DefaultSpaceSettings"):
        if name in params:
            _deep_merge(dom.setdefault(name, {}), params[name])
    if "DomainSettingsForUpdate" in params:
        update = {_SETTINGS_RENAMED.get(k, k): v
                  for k, v in params["DomainSettingsForUpdate"].items()}
        _deep_merge(dom.setdefault("DomainSettings", {}), update)
    for name in ("AppSecurityGroupManagement", "SubnetIds", "AppNetworkAccessType",
                 "TagPropagation", "VpcId"):
        if name in params:
            dom[name] = params[name]
    if params.get("HomeEfsFileSystemCreation") == "Enabled":
        dom.setdefault("HomeEfsFileSystemId", _efs_id())
    if "HomeEfsFileSystemCreation" in params:
        dom["HomeEfsFileSystemCreation"] = params["HomeEfsFileSystemCreation"]
    _transition(ctx, dom, "Updating", "InService")
    return {"DomainArn": dom["DomainArn"]}


def delete_domain(ctx, params):
    dom = _domain(ctx, params["DomainId"])
    domain_id = dom["DomainId"]
    if dom["Status"] not in _DELETABLE:
        raise in_use("Domain %s is in %s status and cannot be deleted now."
                     % (domain_id, dom["Status"]))
    if any(p["DomainId"] == domain_id for p in ctx.data["user_profiles"].values()):
        raise in_use("Unable to delete Domain [%s] because UserProfile(s) are associated "
                     "with it." % dom["DomainArn"])
    if any(s["DomainId"] == domain_id for s in ctx.data["spaces"].values()):
        raise in_use("Unable to delete Domain [%s] because Space(s) are associated with it."
                     % dom["DomainArn"])
    if any(a["DomainId"] == domain_id and a["Status"] not in _APP_ENDED
           for a in ctx.data["apps"].values()):
        raise in_use("Unable to delete Domain [%s] because App(s) are associated with it."
                     % dom["DomainArn"])
    # RetentionPolicy (Retain by default, or Delete) only decides the fate of
    # the home EFS volume, which is not modelled beyond its id.
    _transition(ctx, dom, "Deleting", GONE)
    return {}


# -- user profiles -----------------------------------------------------------

def _profile_key(domain_id, name):
    return "%s/%s" % (domain_id, name)


def _profile(ctx, domain_id, name):
    _settle(ctx)
    prof = ctx.data["user_profiles"].get(_profile_key(domain_id, name))
    if prof is None:
        raise common.not_found("UserProfile", "[%s]" % arn(ctx, "user-profile", domain_id, name))
    return prof


def _check_sso(dom, params):
    """SSO identity is required in an SSO domain and refused in an IAM one."""
    given = params.get("SingleSignOnUserIdentifier") or params.get("SingleSignOnUserValue")
    if dom["AuthMode"] == "SSO" and not (params.get("SingleSignOnUserIdentifier")
                                         and params.get("SingleSignOnUserValue")):
        raise _validation("SingleSignOnUserIdentifier and SingleSignOnUserValue are "
                          "required in a domain with AuthMode SSO.")
    if dom["AuthMode"] == "IAM" and given:
        raise _validation("SingleSignOnUserIdentifier and SingleSignOnUserValue are only "
                          "allowed in a domain with AuthMode SSO.")


def create_user_profile(ctx, params):
    dom = _ready_domain(ctx, params["DomainId"])
    name = params["UserProfileName"]
    key = _profile_key(dom["DomainId"], name)
    if key in ctx.data["user_profiles"]:
        raise in_use("User profile %s already exists in domain %s." % (name, dom["DomainId"]))
    _check_sso(dom, params)
    fields = {k: v for k, v in params.items() if k != "Tags"}
    prof = _new_record(ctx, "Pending", "InService", **fields)
    prof["UserProfileArn"] = arn(ctx, "user-profile", dom["DomainId"], name)
    prof["HomeEfsFileSystemUid"] = _next_efs_uid(ctx)
    ctx.data["user_profiles"][key] = prof
    _register(ctx, prof, prof["UserProfileArn"], params.get("Tags"))
    return {"UserProfileArn": prof["UserProfileArn"]}


def describe_user_profile(ctx, params):
    return public(_profile(ctx, params["DomainId"], params["UserProfileName"]))


_PROFILE_SUMMARY = ("DomainId", "UserProfileName", "Status", "CreationTime",
                    "LastModifiedTime")


def list_user_profiles(ctx, params):
    _settle(ctx)
    domain_id = params.get("DomainIdEquals")
    contains = params.get("UserProfileNameContains")
    items = [p for p in ctx.data["user_profiles"].values()
             if (domain_id is None or p["DomainId"] == domain_id)
             and (contains is None or contains in p["UserProfileName"])]
    return _sorted_page(items, params, "UserProfiles", lambda p: _pick(p, _PROFILE_SUMMARY))


def update_user_profile(ctx, params):
    prof = _profile(ctx, params["DomainId"], params["UserProfileName"])
    if prof["Status"] not in _UPDATABLE:
        raise in_use("User profile %s is in %s status and cannot be updated now."
                     % (prof["UserProfileName"], prof["Status"]))
    if "UserSettings" in params:
        _deep_merge(prof.setdefault("UserSettings", {}), params["UserSettings"])
    _transition(ctx, prof, "Updating", "InService")
    return {"UserProfileArn": prof["UserProfileArn"]}


def delete_user_profile(ctx, params):
    prof = _profile(ctx, params["DomainId"], params["UserProfileName"])
    domain_id, name = prof["DomainId"], prof["UserProfileName"]
    if prof["Status"] not in _DELETABLE:
        raise in_use("User profile %s is in %s status and cannot be deleted now."
                     % (name, prof["Status"]))
    if any(s["DomainId"] == domain_id and _space_owner(s) == name
           for s in ctx.data["spaces"].values()):
        raise in_use("Unable to delete UserProfile [%s] because Space(s) are associated "
                     "with it." % prof["UserProfileArn"])
    if any(a["DomainId"] == domain_id and a.get("UserProfileName") == name
           and a["Status"] not in _APP_ENDED for a in ctx.data["apps"].values()):
        raise in_use("Unable to delete UserProfile [%s] because App(s) are associated "
                     "with it." % prof["UserProfileArn"])
    _transition(ctx, prof, "Deleting", GONE)
    return {}


# -- spaces ------------------------------------------------------------------

def _space_key(domain_id, name):
    return "%s/%s" % (domain_id, name)


def _space(ctx, domain_id, name):
    _settle(ctx)
    space = ctx.data["spaces"].get(_space_key(domain_id, name))
    if space is None:
        raise common.not_found("Space", "[%s]" % arn(ctx, "space", domain_id, name))
    return space


def _space_owner(space):
    return (space.get("OwnershipSettings") or {}).get("OwnerUserProfileName")


def _check_space_ownership(ctx, domain_id, params):
    """A private space needs an owner, and an owner must be a user profile
    of the domain."""
    sharing = (params.get("SpaceSharingSettings") or {}).get("SharingType")
    owner = (params.get("OwnershipSettings") or {}).get("OwnerUserProfileName")
    if sharing == "Private" and owner is None:
        raise _validation("A private space needs OwnershipSettings.OwnerUserProfileName.")
    if owner is not None:
        prof = ctx.data["user_profiles"].get(_profile_key(domain_id, owner))
        if prof is None:
            raise common.not_found("UserProfile",
                                   "[%s]" % arn(ctx, "user-profile", domain_id, owner))
        if prof["Status"] not in _PARENT_READY:
            raise in_use("User profile %s is in %s status; it cannot own a new space now."
                         % (owner, prof["Status"]))


def create_space(ctx, params):
    dom = _ready_domain(ctx, params["DomainId"])
    name = params["SpaceName"]
    key = _space_key(dom["DomainId"], name)
    if key in ctx.data["spaces"]:
        raise in_use("Space %s already exists in domain %s." % (name, dom["DomainId"]))
    _check_space_ownership(ctx, dom["DomainId"], params)
    fields = {k: v for k, v in params.items() if k != "Tags"}
    space = _new_record(ctx, "Pending", "InService", **fields)
    space["SpaceArn"] = arn(ctx, "space", dom["DomainId"], name)
    space["HomeEfsFileSystemUid"] = _next_efs_uid(ctx)
    ctx.data["spaces"][key] = space
    _register(ctx, space, space["SpaceArn"], params.get("Tags"))
    return {"SpaceArn": space["SpaceArn"]}


def describe_space(ctx, params):
    return public(_space(ctx, params["DomainId"], params["SpaceName"]))


def _space_summary(space):
    out = _pick(space, ("DomainId", "SpaceName", "Status", "CreationTime",
                        "LastModifiedTime", "SpaceDisplayName"))
    settings = space.get("SpaceSettings") or {}
    summary = _pick(settings, ("AppType", "RemoteAccess", "SpaceStorageSettings"))
    if summary:
        out["SpaceSettingsSummary"] = summary
    sharing = (space.get("SpaceSharingSettings") or {}).get("SharingType")
    if sharing:
        out["SpaceSharingSettingsSummary"] = {"SharingType": sharing}
    owner = _space_owner(space)
    if owner:
        out["OwnershipSettingsSummary"] = {"OwnerUserProfileName": owner}
    return out


def list_spaces(ctx, params):
    _settle(ctx)
    domain_id = params.get("DomainIdEquals")
    contains = params.get("SpaceNameContains")
    items = [s for s in ctx.data["spaces"].values()
             if (domain_id is None or s["DomainId"] == domain_id)
             and (contains is None or contains in s["SpaceName"])]
    return _sorted_page(items, params, "Spaces", _space_summary)


def update_space(ctx, params):
    space = _space(ctx, params["DomainId"], params["SpaceName"])
    if space["Status"] not in _UPDATABLE:
        raise in_use("Space %s is in %s status and cannot be updated now."
                     % (space["SpaceName"], space["Status"]))
    settings = params.get("SpaceSettings") or {}
    old_type = (space.get("SpaceSettings") or {}).get("AppType")
    if "AppType" in settings and old_type is not None and settings["AppType"] != old_type:
        raise _validation("The app type of a space cannot be changed (it is %s)." % old_type)
    if "SpaceSettings" in params:
        _deep_merge(space.setdefault("SpaceSettings", {}), settings)
    if "SpaceDisplayName" in params:
        space["SpaceDisplayName"] = params["SpaceDisplayName"]
    _transition(ctx, space, "Updating", "InService")
    return {"SpaceArn": space["SpaceArn"]}


def delete_space(ctx, params):
    space = _space(ctx, params["DomainId"], params["SpaceName"])
    domain_id, name = space["DomainId"], space["SpaceName"]
    if space["Status"] not in _DELETABLE:
        raise in_use("Space %s is in %s status and cannot be deleted now."
                     % (name, space["Status"]))
    if any(a["DomainId"] == domain_id and a.get("SpaceName") == name
           and a["Status"] not in _APP_ENDED for a in ctx.data["apps"].values()):
        raise in_use("Unable to delete Space [%s] because App(s) are associated with it."
                     % space["SpaceArn"])
    _transition(ctx, space, "Deleting", GONE)
    return {}


# -- apps --------------------------------------------------------------------

def _app_owner(params):
    """("u", profile) or ("s", space): an app belongs to exactly one."""
    profile, space = params.get("UserProfileName"), params.get("SpaceName")
    if (profile is None) == (space is None):
        raise _validation("Exactly one of UserProfileName and SpaceName must be given.")
    return ("u", profile) if profile is not None else ("s", space)


def _app_key(domain_id, owner, app_type, name):
    return "%s/%s:%s/%s/%s" % (domain_id, owner[0], owner[1], app_type, name)


def _app(ctx, params):
    owner = _app_owner(params)
    _settle(ctx)
    app = ctx.data["apps"].get(_app_key(params["DomainId"], owner, params["AppType"],
                                        params["AppName"]))
    if app is None:
        raise common.not_found("App", "[%s]" % arn(
            ctx, "app", params["DomainId"], owner[1], params["AppType"].lower(),
            params["AppName"]))
    return app


def _app_parent(ctx, domain_id, owner, app_type):
    """The user profile or space a new app runs in; it must exist, be
    usable and (for a space with an app type) match the app's type."""
    if owner[0] == "u":
        parent = ctx.data["user_profiles"].get(_profile_key(domain_id, owner[1]))
        kind, arn_type = "UserProfile", "user-profile"
    else:
        parent = ctx.data["spaces"].get(_space_key(domain_id, owner[1]))
        kind, arn_type = "Space", "space"
    if parent is None:
        raise common.not_found(kind, "[%s]" % arn(ctx, arn_type, domain_id, owner[1]))
    if parent["Status"] not in _PARENT_READY:
        raise in_use("%s %s is in %s status; it cannot run a new app now."
                     % (kind, owner[1], parent["Status"]))
    space_type = (parent.get("SpaceSettings") or {}).get("AppType") if owner[0] == "s" else None
    if space_type is not None and space_type != app_type:
        raise _validation("Space %s is for %s apps, not %s." % (owner[1], space_type, app_type))
    return parent


def create_app(ctx, params):
    owner = _app_owner(params)
    dom = _ready_domain(ctx, params["DomainId"])
    domain_id, app_type, name = dom["DomainId"], params["AppType"], params["AppName"]
    _app_parent(ctx, domain_id, owner, app_type)
    key = _app_key(domain_id, owner, app_type, name)
    old = ctx.data["apps"].get(key)
    if old is not None and old["Status"] not in _APP_ENDED:
        raise in_use("App %s of type %s already exists for %s (status %s)."
                     % (name, app_type, owner[1], old["Status"]))
    if old is not None:
        common.forget_tags(ctx, old.get("_arn"))
    fields = {k: v for k, v in params.items() if k != "Tags"}
    app = _new_record(ctx, "Pending", "InService", **fields)
    app["AppArn"] = arn(ctx, "app", domain_id, owner[1], app_type.lower(), name)
    ctx.data["apps"][key] = app
    _register(ctx, app, app["AppArn"], params.get("Tags"))
    return {"AppArn": app["AppArn"]}


def describe_app(ctx, params):
    out = public(_app(ctx, params))
    out.pop("LastModifiedTime", None)  # not a member of DescribeApp's output
    return out


_APP_SUMMARY = ("DomainId", "UserProfileName", "SpaceName", "AppType", "AppName", "Status",
                "CreationTime", "ResourceSpec")


def list_apps(ctx, params):
    _settle(ctx)
    domain_id = params.get("DomainIdEquals")
    profile = params.get("UserProfileNameEquals")
    space = params.get("SpaceNameEquals")
    if profile is not None and space is not None:
        raise _validation("UserProfileNameEquals and SpaceNameEquals cannot both be given.")
    items = [a for a in ctx.data["apps"].values()
             if (domain_id is None or a["DomainId"] == domain_id)
             and (profile is None or a.get("UserProfileName") == profile)
             and (space is None or a.get("SpaceName") == space)]
    return _sorted_page(items, params, "Apps", lambda a: _pick(a, _APP_SUMMARY))


def delete_app(ctx, params):
    app = _app(ctx, params)
    if app["Status"] != "InService":
        raise in_use("App %s is in %s status; only InService apps can be deleted."
                     % (app["AppName"], app["Status"]))
    _transition(ctx, app, "Deleting", "Deleted")
    return {}


# -- tags --------------------------------------------------------------------

def _tags_of(ctx, resource_arn):
    """The tag dict of a registered resource. Unknown (or deleted) ARNs are
    a ValidationException, which is what SageMaker answers."""
    _settle(ctx)
    tags = common.tags_table(ctx).get(resource_arn)
    if tags is None:
        raise _validation("Resource %s does not exist or is not taggable." % resource_arn)
    return tags


MAX_TAGS = 50


def add_tags(ctx, params):
    tags = _tags_of(ctx, params["ResourceArn"])
    merged = dict(tags)
    for t in params["Tags"]:
        merged[t["Key"]] = t.get("Value", "")
    if len(merged) > MAX_TAGS:
        raise _validation("A resource can have at most %d tags." % MAX_TAGS)
    tags.clear()
    tags.update(merged)
    return {"Tags": [{"Key": t["Key"], "Value": t.get("Value", "")} for t in params["Tags"]]}


def list_tags(ctx, params):
    tags = _tags_of(ctx, params["ResourceArn"])
    items = [{"Key": k, "Value": v} for k, v in sorted(tags.items())]
    page, extra = next_token_page(items, lambda t: t["Key"], params, default_max=50)
    extra["Tags"] = page
    return extra


def delete_tags(ctx, params):
    tags = _tags_of(ctx, params["ResourceArn"])
    for key in params["TagKeys"]:
        tags.pop(key, None)
    return {}


HANDLERS = {
    "CreateDomain": create_domain,
    "DescribeDomain": describe_domain,
    "ListDomains": list_domains,
    "UpdateDomain": update_domain,
    "DeleteDomain": delete_domain,
    "CreateUserProfile": create_user_profile,
    "DescribeUserProfile": describe_user_profile,
    "ListUserProfiles": list_user_profiles,
    "UpdateUserProfile": update_user_profile,
    "DeleteUserProfile": delete_user_profile,
    "CreateSpace": create_space,
    "DescribeSpace": describe_space,
    "ListSpaces": list_spaces,
    "UpdateSpace": update_space,
    "DeleteSpace": delete_space,
    "CreateApp": create_app,
    "DescribeApp": describe_app,
    "ListApps": list_apps,
    "DeleteApp": delete_app,
    "AddTags": add_tags,
    "ListTags": list_tags,
    "DeleteTags": delete_tags,
}
