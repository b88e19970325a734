# SPDX-License-Identifier: Apache-2.0
"""SageMaker beyond domains/profiles/spaces/apps: MLflow tracking servers,
Studio lifecycle configs, app image configs, images, and the Service
Catalog portfolio that SageMaker projects need.

Semantics kept from SageMaker because smstudio depends on them:
- MLflow servers move Creating -> Created, Updating -> Updated,
  Stopping -> Stopped, Starting -> Started and Deleting -> gone after the
  configured async delay. UpdateMlflowTrackingServer is refused with
  ConflictException (the operation's modelled error) unless the server is
  settled; Delete/Start/Stop in a transient status are refused with
  ValidationException, which is what SageMaker is seen to answer there.
  RoleArn, MlflowVersion and the name cannot be updated (not in the input).
- Studio lifecycle configs are immutable (there is no Update API), their
  content must be base64, and one still referenced by a domain, user
  profile, space or live app cannot be deleted (ResourceInUse).
- Images move CREATING -> CREATED (UPDATING -> CREATED, DELETING -> gone).
- Enabling the projects portfolio publishes the "Amazon SageMaker"
  portfolio as an accepted IMPORTED share in Service Catalog (see
  servicecatalog.py); disabling withdraws it.
- Duplicates are ResourceInUse, missing things ResourceNotFound; every
  taggable resource is in the tag registry of sagemaker_common.

Every record is stored with the field names of its Describe output plus a
private "Status" (the name start_transition uses); _describe functions
rename it to the operation's status member."""

import base64
import binascii
import json
import re

from ..errors import AwsError
from . import servicecatalog
from .sagemaker_common import (GONE, arn, forget_tags, in_use, not_found, now, public,
                               random_id, register_tags, settle, settle_all,
                               start_transition)

# Reported when CreateMlflowTrackingServer names no version (SageMaker then
# picks its newest supported one; this stands in for it).
DEFAULT_MLFLOW_VERSION = "2.16.2"
DEFAULT_TRACKING_SERVER_SIZE = "Small"

# MLflow statuses in which no operation is under way: deletable. Updates and
# Stop need a running server as well; Start needs a stopped one. IsActive
# reports whether the server is up.
_MLFLOW_SETTLED = {"Created", "Updated", "Started", "CreateFailed", "UpdateFailed",
                   "StopFailed", "StartFailed", "MaintenanceComplete", "MaintenanceFailed",
                   "DeleteFailed", "Stopped"}
_MLFLOW_UPDATABLE = _MLFLOW_SETTLED - {"Stopped", "CreateFailed", "DeleteFailed"}
_MLFLOW_RUNNING = {"Created", "Updated", "Started", "Updating", "Stopping", "StopFailed",
                   "UpdateFailed", "MaintenanceInProgress", "MaintenanceComplete",
                   "MaintenanceFailed"}

_S3_URI = re.compile(r"s3://[^/]+(/.*)?\Z")


def fresh_state():
    # name -> record for each resource type (JSON-serialisable for
    # /_emu/state), and the projects portfolio switch of this account
    # (a dict too, so every SageMaker table is one).
    return {"mlflow_servers": {}, "studio_lifecycle_configs": {},
            "app_image_configs": {}, "images": {},
            "projects_portfolio": {"Status": "Disabled"}}


# -- shared bits ---------------------------------------------------------

def _need(params, member):
    """A required member; the model check normally catches its absence,
    but with --no-verify the handler must still refuse it cleanly."""
    value = params.get(member)
    if value is None:
        raise AwsError("ValidationException", "1 validation error detected: Value null at "
                       "'%s' failed to satisfy constraint: Member must not be null"
                       % (member[:1].lower() + member[1:]))
    return value


def _lookup(table, name, kind):
    obj = table.get(name)
    if obj is None or not settle(obj):
        table.pop(name, None)
        raise not_found(kind, name)
    return obj


def _user_context(ctx):
    """CreatedBy / LastModifiedBy: the signing identity, when known."""
    identity = getattr(ctx.caller, "identity", None) or {}
    if not identity.get("Arn"):
        return {}
    return {"IamIdentity": {"Arn": identity["Arn"], "PrincipalId": identity.get("UserId")}}


def _epoch(value):
    """A timestamp filter as epoch seconds (boto3 sends numbers; raw
    callers may send ISO strings, which are refused as AWS would)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        raise AwsError("ValidationException", "Invalid timestamp: %r" % (value,))


def _time_filters(items, params, bounds):
    """Keeps items inside the time bounds named in params. bounds maps a
    filter member to (record field, "after" | "before")."""
    for member, (field, side) in bounds.items():
        if params.get(member) is None:
            continue
        limit = _epoch(params[member])
        if side == "after":
            items = [it for it in items if it[field] > limit]
        else:
            items = [it for it in items if it[field] < limit]
    return items


def _name_contains(items, field, fragment):
    if not fragment:
        return items
    fragment = fragment.lower()
    return [it for it in items if fragment in it[field].lower()]


def _encode_token(key):
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def _decode_token(token):
    try:
        key = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError, binascii.Error):
        raise AwsError("ValidationException", "Invalid pagination token")
    if not isinstance(key, list) or len(key) != 2:
        raise AwsError("ValidationException", "Invalid pagination token")
    return tuple(key)


def _sorted_page(items, params, sort_fields, default_sort, name_field, descending):
    """Sorts items as SortBy/SortOrder ask and returns (page, extra).

    sort_fields maps each SortBy value to a record field; ties break on the
    name, so every item has a distinct position. The NextToken names the
    last item returned by its (sort value, name), so a page stays right
    when items before it are deleted between calls. (next_token_page of
    sagemaker_common cannot do descending order, hence this variant.)"""
    field = sort_fields[params.get("SortBy") or default_sort]
    order = params.get("SortOrder")
    desc = descending if order is None else order in ("Descending", "DESCENDING")

    def key(it):
        return (it[field], it[name_field])

    items = sorted(items, key=key, reverse=desc)
    if params.get("NextToken"):
        last = _decode_token(params["NextToken"])
        try:
            items = [it for it in items if (key(it) < last if desc else key(it) > last)]
        except TypeError:   # a token made for another SortBy
            raise AwsError("ValidationException", "Invalid pagination token")
    limit = params.get("MaxResults") or 10
    page = items[:limit]
    extra = {}
    if len(items) > limit:
        extra["NextToken"] = _encode_token(list(key(page[-1])))
    return page, extra


def _touch(obj):
    obj["LastModifiedTime"] = now()


# -- MLflow tracking servers ---------------------------------------------

def _check_artifact_store(uri):
    # The model's pattern also admits https://, but the API documents the
    # artifact store as an S3 bucket URI; refusing other schemes makes a
    # wrong manifest value fail here rather than go unnoticed.
    if not _S3_URI.match(uri):
        raise AwsError("ValidationException",
                       "ArtifactStoreUri %s is not a valid S3 URI (s3://bucket/prefix)." % uri)


def _tracking_server_url(ctx):
    return "https://%s.%s.experiments.sagemaker.aws" % (random_id("t-"), ctx.region)


def _mlflow_out(obj):
    out = public(obj)
    out["TrackingServerStatus"] = out.pop("Status")
    out["IsActive"] = "Active" if obj["Status"] in _MLFLOW_RUNNING else "Inactive"
    return out


def _mlflow(ctx, params):
    return _lookup(ctx.data["mlflow_servers"], _need(params, "TrackingServerName"),
                   "Tracking server")


def create_mlflow_tracking_server(ctx, params):
    name = _need(params, "TrackingServerName")
    table = ctx.data["mlflow_servers"]
    settle_all(table)
    server_arn = arn(ctx, "mlflow-tracking-server", name)
    if name in table:
        raise in_use("Tracking server with ARN %s already exists." % server_arn)
    _check_artifact_store(_need(params, "ArtifactStoreUri"))
    obj = {
        "TrackingServerArn": server_arn,
        "TrackingServerName": name,
        "ArtifactStoreUri": params["ArtifactStoreUri"],
        "TrackingServerSize": params.get("TrackingServerSize") or DEFAULT_TRACKING_SERVER_SIZE,
        "MlflowVersion": params.get("MlflowVersion") or DEFAULT_MLFLOW_VERSION,
        "RoleArn": _need(params, "RoleArn"),
        "TrackingServerUrl": _tracking_server_url(ctx),
        "AutomaticModelRegistration": bool(params.get("AutomaticModelRegistration", False)),
        "CreationTime": now(),
        "CreatedBy": _user_context(ctx),
        "LastModifiedBy": _user_context(ctx),
    }
    for member in ("WeeklyMaintenanceWindowStart", "S3BucketOwnerAccountId",
                   "S3BucketOwnerVerification"):
        if params.get(member) is not None:
            obj[member] = params[member]
    start_transition(ctx, obj, "Creating", "Created")
    table[name] = obj
    register_tags(ctx, server_arn, params.get("Tags"))
    return {"TrackingServerArn": server_arn}


def describe_mlflow_tracking_server(ctx, params):
    return _mlflow_out(_mlflow(ctx, params))


def list_mlflow_tracking_servers(ctx, params):
    table = ctx.data["mlflow_servers"]
    settle_all(table)
    items = list(table.values())
    items = _time_filters(items, params, {"CreatedAfter": ("CreationTime", "after"),
                                          "CreatedBefore": ("CreationTime", "before")})
    if params.get("TrackingServerStatus"):
        items = [it for it in items if it["Status"] == params["TrackingServerStatus"]]
    if params.get("MlflowVersion"):
        items = [it for it in items if it["MlflowVersion"] == params["MlflowVersion"]]
    page, extra = _sorted_page(items, params, {"Name": "TrackingServerName",
                                               "CreationTime": "CreationTime",
                                               "Status": "Status"},
                               "CreationTime", "TrackingServerName", descending=True)
    summaries = []
    for it in page:
        full = _mlflow_out(it)
        summaries.append({k: full[k] for k in (
            "TrackingServerArn", "TrackingServerName", "CreationTime", "LastModifiedTime",
            "TrackingServerStatus", "IsActive", "MlflowVersion")})
    return dict(TrackingServerSummaries=summaries, **extra)


_MLFLOW_UPDATABLE_MEMBERS = ("ArtifactStoreUri", "TrackingServerSize",
                             "AutomaticModelRegistration", "WeeklyMaintenanceWindowStart",
                             "S3BucketOwnerAccountId", "S3BucketOwnerVerification")


def update_mlflow_tracking_server(ctx, params):
    obj = _mlflow(ctx, params)
    if obj["Status"] not in _MLFLOW_UPDATABLE:
        raise AwsError("ConflictException",
                       "Tracking Server with ARN %s is currently in status %s, "
                       "can't be updated." % (obj["TrackingServerArn"], obj["Status"]))
    if params.get("ArtifactStoreUri") is not None:
        _check_artifact_store(params["ArtifactStoreUri"])
    for member in _MLFLOW_UPDATABLE_MEMBERS:
        if params.get(member) is not None:
            obj[member] = params[member]
    obj["LastModifiedBy"] = _user_context(ctx)
    start_transition(ctx, obj, "Updating", "Updated")
    return {"TrackingServerArn": obj["TrackingServerArn"]}


def _refuse_unless(obj, allowed, verb):
    """Delete/Start/Stop outside `allowed` statuses: SageMaker answers a
    ValidationException naming the status (upper-cased, as it does)."""
    if obj["Status"] not in allowed:
        raise AwsError("ValidationException",
                       "Tracking Server with ARN %s is currently in status %s, can't be %s."
                       % (obj["TrackingServerArn"], obj["Status"].upper(), verb))


def delete_mlflow_tracking_server(ctx, params):
    obj = _mlflow(ctx, params)
    _refuse_unless(obj, _MLFLOW_SETTLED, "deleted")
    start_transition(ctx, obj, "Deleting", GONE)
    forget_tags(ctx, obj["TrackingServerArn"])
    return {"TrackingServerArn": obj["TrackingServerArn"]}


def stop_mlflow_tracking_server(ctx, params):
    obj = _mlflow(ctx, params)
    _refuse_unless(obj, _MLFLOW_UPDATABLE, "stopped")
    start_transition(ctx, obj, "Stopping", "Stopped")
    return {"TrackingServerArn": obj["TrackingServerArn"]}


def start_mlflow_tracking_server(ctx, params):
    obj = _mlflow(ctx, params)
    _refuse_unless(obj, {"Stopped", "StartFailed"}, "started")
    start_transition(ctx, obj, "Starting", "Started")
    return {"TrackingServerArn": obj["TrackingServerArn"]}


# -- Studio lifecycle configs --------------------------------------------

def _check_base64(content):
    try:
        base64.b64decode(content.encode(), validate=True)
    except (binascii.Error, ValueError):
        raise AwsError("ValidationException",
                       "StudioLifecycleConfigContent must be base64 encoded.")


def _lcc(ctx, params):
    return _lookup(ctx.data["studio_lifecycle_configs"],
                   _need(params, "StudioLifecycleConfigName"), "Studio lifecycle config")


def create_studio_lifecycle_config(ctx, params):
    name = _need(params, "StudioLifecycleConfigName")
    table = ctx.data["studio_lifecycle_configs"]
    lcc_arn = arn(ctx, "studio-lifecycle-config", name)
    if name in table:
        raise in_use("Studio lifecycle config %s already exists." % lcc_arn)
    content = _need(params, "StudioLifecycleConfigContent")
    _check_base64(content)
    created = now()
    table[name] = {
        "StudioLifecycleConfigArn": lcc_arn,
        "StudioLifecycleConfigName": name,
        "StudioLifecycleConfigContent": content,
        "StudioLifecycleConfigAppType": _need(params, "StudioLifecycleConfigAppType"),
        "CreationTime": created,
        "LastModifiedTime": created,
    }
    register_tags(ctx, lcc_arn, params.get("Tags"))
    return {"StudioLifecycleConfigArn": lcc_arn}


def describe_studio_lifecycle_config(ctx, params):
    return public(_lcc(ctx, params))


def list_studio_lifecycle_configs(ctx, params):
    items = list(ctx.data["studio_lifecycle_configs"].values())
    items = _name_contains(items, "StudioLifecycleConfigName", params.get("NameContains"))
    if params.get("AppTypeEquals"):
        items = [it for it in items
                 if it["StudioLifecycleConfigAppType"] == params["AppTypeEquals"]]
    items = _time_filters(items, params, {
        "CreationTimeAfter": ("CreationTime", "after"),
        "CreationTimeBefore": ("CreationTime", "before"),
        "ModifiedTimeAfter": ("LastModifiedTime", "after"),
        "ModifiedTimeBefore": ("LastModifiedTime", "before")})
    page, extra = _sorted_page(items, params, {"CreationTime": "CreationTime",
                                               "LastModifiedTime": "LastModifiedTime",
                                               "Name": "StudioLifecycleConfigName"},
                               "CreationTime", "StudioLifecycleConfigName", descending=True)
    details = [{k: it[k] for k in ("StudioLifecycleConfigArn", "StudioLifecycleConfigName",
                                   "CreationTime", "LastModifiedTime",
                                   "StudioLifecycleConfigAppType")} for it in page]
    return dict(StudioLifecycleConfigs=details, **extra)


# Tables of this module, which never hold references to a lifecycle config.
_OWN_TABLES = {"mlflow_servers", "studio_lifecycle_configs", "app_image_configs", "images",
               "projects_portfolio", "tags"}


def _mentions(value, needle):
    """Whether needle occurs as a string anywhere in value, ignoring
    records whose Status is Deleted or Failed (an app in those states no
    longer runs with its lifecycle config)."""
    if isinstance(value, str):
        return value == needle
    if isinstance(value, dict):
        if value.get("Status") in ("Deleted", "Failed"):
            return False
        return any(_mentions(v, needle) for v in value.values())
    if isinstance(value, list):
        return any(_mentions(v, needle) for v in value)
    return False


def lifecycle_config_in_use(sagemaker_data, lcc_arn):
    """Whether any domain, user profile, space or live app refers to the
    lifecycle config. The domain/space/app tables belong to another
    module, so their layout is not assumed: any reference to the ARN in
    them counts."""
    return any(_mentions(table, lcc_arn) for name, table in sagemaker_data.items()
               if name not in _OWN_TABLES)


def delete_studio_lifecycle_config(ctx, params):
    obj = _lcc(ctx, params)
    if lifecycle_config_in_use(ctx.data, obj["StudioLifecycleConfigArn"]):
        raise in_use("Studio lifecycle config %s is in use by a domain, user profile, "
                     "space or app." % obj["StudioLifecycleConfigArn"])
    del ctx.data["studio_lifecycle_configs"][obj["StudioLifecycleConfigName"]]
    forget_tags(ctx, obj["StudioLifecycleConfigArn"])
    return {}


# -- App image configs ---------------------------------------------------

_APP_IMAGE_CONFIG_KINDS = ("KernelGatewayImageConfig", "JupyterLabAppImageConfig",
                           "CodeEditorAppImageConfig")


def _app_image_config(ctx, params):
    return _lookup(ctx.data["app_image_configs"], _need(params, "AppImageConfigName"),
                   "App image config")


def create_app_image_config(ctx, params):
    name = _need(params, "AppImageConfigName")
    table = ctx.data["app_image_configs"]
    config_arn = arn(ctx, "app-image-config", name)
    if name in table:
        raise in_use("App image config %s already exists." % config_arn)
    created = now()
    obj = {"AppImageConfigArn": config_arn, "AppImageConfigName": name,
           "CreationTime": created, "LastModifiedTime": created}
    for kind in _APP_IMAGE_CONFIG_KINDS:
        if params.get(kind) is not None:
            obj[kind] = params[kind]
    table[name] = obj
    register_tags(ctx, config_arn, params.get("Tags"))
    return {"AppImageConfigArn": config_arn}


def describe_app_image_config(ctx, params):
    return public(_app_image_config(ctx, params))


def list_app_image_configs(ctx, params):
    items = list(ctx.data["app_image_configs"].values())
    items = _name_contains(items, "AppImageConfigName", params.get("NameContains"))
    items = _time_filters(items, params, {
        "CreationTimeAfter": ("CreationTime", "after"),
        "CreationTimeBefore": ("CreationTime", "before"),
        "ModifiedTimeAfter": ("LastModifiedTime", "after"),
        "ModifiedTimeBefore": ("LastModifiedTime", "before")})
    page, extra = _sorted_page(items, params, {"CreationTime": "CreationTime",
                                               "LastModifiedTime": "LastModifiedTime",
                                               "Name": "AppImageConfigName"},
                               "CreationTime", "AppImageConfigName", descending=True)
    return dict(AppImageConfigs=[public(it) for it in page], **extra)


def update_app_image_config(ctx, params):
    """The configs sent replace the stored ones; the name is immutable.
    A kind not sent is left as it was (the update is partial)."""
    obj = _app_image_config(ctx, params)
    for kind in _APP_IMAGE_CONFIG_KINDS:
        if params.get(kind) is not None:
            obj[kind] = params[kind]
    _touch(obj)
    return {"AppImageConfigArn": obj["AppImageConfigArn"]}


def delete_app_image_config(ctx, params):
    obj = _app_image_config(ctx, params)
    del ctx.data["app_image_configs"][obj["AppImageConfigName"]]
    forget_tags(ctx, obj["AppImageConfigArn"])
    return {}


# -- Images --------------------------------------------------------------

_IMAGE_SUMMARY = ("CreationTime", "Description", "DisplayName", "FailureReason", "ImageArn",
                  "ImageName", "ImageStatus", "LastModifiedTime")


def _image(ctx, params):
    return _lookup(ctx.data["images"], _need(params, "ImageName"), "Image")


def _image_out(obj):
    out = public(obj)
    out["ImageStatus"] = out.pop("Status")
    return out


def create_image(ctx, params):
    name = _need(params, "ImageName")
    table = ctx.data["images"]
    settle_all(table)
    image_arn = arn(ctx, "image", name)
    if name in table:
        raise in_use("Image %s already exists." % image_arn)
    obj = {"ImageArn": image_arn, "ImageName": name, "RoleArn": _need(params, "RoleArn"),
           "CreationTime": now()}
    for member in ("DisplayName", "Description"):
        if params.get(member) is not None:
            obj[member] = params[member]
    start_transition(ctx, obj, "CREATING", "CREATED")
    table[name] = obj
    register_tags(ctx, image_arn, params.get("Tags"))
    return {"ImageArn": image_arn}


def describe_image(ctx, params):
    return _image_out(_image(ctx, params))


def list_images(ctx, params):
    table = ctx.data["images"]
    settle_all(table)
    items = _name_contains(list(table.values()), "ImageName", params.get("NameContains"))
    items = _time_filters(items, params, {
        "CreationTimeAfter": ("CreationTime", "after"),
        "CreationTimeBefore": ("CreationTime", "before"),
        "LastModifiedTimeAfter": ("LastModifiedTime", "after"),
        "LastModifiedTimeBefore": ("LastModifiedTime", "before")})
    page, extra = _sorted_page(items, params, {"CREATION_TIME": "CreationTime",
                                               "LAST_MODIFIED_TIME": "LastModifiedTime",
                                               "IMAGE_NAME": "ImageName"},
                               "CREATION_TIME", "ImageName", descending=True)
    images = []
    for it in page:
        full = _image_out(it)
        images.append({k: full[k] for k in _IMAGE_SUMMARY if k in full})
    return dict(Images=images, **extra)


def _image_settled(obj, verb):
    if obj["Status"] not in ("CREATED", "UPDATE_FAILED", "CREATE_FAILED", "DELETE_FAILED"):
        raise in_use("Image %s is %s and cannot be %s now."
                     % (obj["ImageName"], obj["Status"], verb))


def update_image(ctx, params):
    obj = _image(ctx, params)
    _image_settled(obj, "updated")
    for member in params.get("DeleteProperties") or []:
        obj.pop(member, None)
    for member in ("DisplayName", "Description", "RoleArn"):
        if params.get(member) is not None:
            obj[member] = params[member]
    start_transition(ctx, obj, "UPDATING", "CREATED")
    return {"ImageArn": obj["ImageArn"]}


def delete_image(ctx, params):
    obj = _image(ctx, params)
    _image_settled(obj, "deleted")
    start_transition(ctx, obj, "DELETING", GONE)
    forget_tags(ctx, obj["ImageArn"])
    return {}


# -- Projects: the Service Catalog portfolio switch ----------------------

def enable_sagemaker_servicecatalog_portfolio(ctx, params):
    """Idempotent, as the original module relies on (it enables once per
    role)."""
    ctx.data["projects_portfolio"]["Status"] = "Enabled"
    servicecatalog.publish_sagemaker_portfolio(ctx.state)
    return {}


def disable_sagemaker_servicecatalog_portfolio(ctx, params):
    ctx.data["projects_portfolio"]["Status"] = "Disabled"
    servicecatalog.withdraw_sagemaker_portfolio(ctx.state)
    return {}


def get_sagemaker_servicecatalog_portfolio_status(ctx, params):
    return {"Status": ctx.data["projects_portfolio"]["Status"]}


HANDLERS = {
    "CreateMlflowTrackingServer": create_mlflow_tracking_server,
    "DescribeMlflowTrackingServer": describe_mlflow_tracking_server,
    "ListMlflowTrackingServers": list_mlflow_tracking_servers,
    "UpdateMlflowTrackingServer": update_mlflow_tracking_server,
    "DeleteMlflowTrackingServer": delete_mlflow_tracking_server,
    "StartMlflowTrackingServer": start_mlflow_tracking_server,
    "StopMlflowTrackingServer": stop_mlflow_tracking_server,
    "CreateStudioLifecycleConfig": create_studio_lifecycle_config,
    "DescribeStudioLifecycleConfig": describe_studio_lifecycle_config,
    "ListStudioLifecycleConfigs": list_studio_lifecycle_configs,
    "DeleteStudioLifecycleConfig": delete_studio_lifecycle_config,
    "CreateAppImageConfig": create_app_image_config,
    "DescribeAppImageConfig": describe_app_image_config,
    "ListAppImageConfigs": list_app_image_configs,
    "UpdateAppImageConfig": update_app_image_config,
    "DeleteAppImageConfig": delete_app_image_config,
    "CreateImage": create_image,
    "DescribeImage": describe_image,
    "ListImages": list_images,
    "UpdateImage": update_image,
    "DeleteImage": delete_image,
    "EnableSagemakerServicecatalogPortfolio": enable_sagemaker_servicecatalog_portfolio,
    "DisableSagemakerServicecatalogPortfolio": disable_sagemaker_servicecatalog_portfolio,
    "GetSagemakerServicecatalogPortfolioStatus": get_sagemaker_servicecatalog_portfolio_status,
}
