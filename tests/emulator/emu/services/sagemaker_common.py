# SPDX-License-Identifier: Apache-2.0
"""What the SageMaker handler modules share.

- ARNs and ids shaped as SageMaker's.
- The clock: timestamps are stored as epoch seconds (floats), which the
  JSON 1.1 codec sends as they are and which survive --state persistence.
- Asynchronous status without threads: a resource entering a transient
  status (Pending, Updating, Deleting, Creating...) records when it settles
  and into what; every read calls settle() first, so a Describe after the
  delay sees the final status. The delay is State.async_delay_s (the
  --async-delay-ms flag; the admin API may change it).
- NextToken paging: MaxResults default 10 (the model caps it at 100); the
  token names the sort key of the next item, so deletions between pages do
  not skip anything.
- The tag registry: every taggable resource's ARN maps to its tags, so
  AddTags / ListTags / DeleteTags work on any of them."""

import base64
import json
import secrets
import string
import time

from ..errors import AwsError

_LOWER_ALNUM = string.ascii_lowercase + string.digits

GONE = object()  # settle target meaning "the resource disappears"


def now():
    return time.time()


def random_id(prefix, length=12):
    return prefix + "".join(secrets.choice(_LOWER_ALNUM) for _ in range(length))


def arn(ctx, resource_type, *names):
    return "arn:aws:sagemaker:%s:%s:%s/%s" % (ctx.region, ctx.account, resource_type,
                                             "/".join(names))


def start_transition(ctx, obj, status, settles_to):
    """Put obj into a transient status that becomes settles_to (a status
    string, or GONE) after the configured delay."""
    obj["Status"] = status
    obj["LastModifiedTime"] = now()
    obj["_settles_at"] = now() + ctx.state.async_delay_s
    obj["_settles_to"] = None if settles_to is GONE else settles_to


def settle(obj):
    """Apply a due transition. Returns False when the object is gone
    (its transition ended in GONE), True otherwise."""
    due = obj.get("_settles_at")
    if due is None or now() < due:
        return True
    target = obj.pop("_settles_to", None)
    del obj["_settles_at"]
    if target is None:
        return False
    obj["Status"] = target
    obj["LastModifiedTime"] = now()
    return True


def settle_all(table):
    """Settle every object of a dict table, dropping the ones now gone."""
    for key in [k for k, obj in table.items() if not settle(obj)]:
        del table[key]


def public(obj):
    """The object without the emulator's private bookkeeping members."""
    return {k: v for k, v in obj.items() if not k.startswith("_")}


def next_token_page(items, sort_key, params, default_max=10):
    """One page of items (already sorted by sort_key) and the output's
    NextToken member (absent on the last page)."""
    limit = params.get("MaxResults") or default_max
    token = params.get("NextToken")
    if token:
        try:
            after = json.loads(base64.urlsafe_b64decode(token.encode()))["next"]
        except (ValueError, KeyError, TypeError):
            raise AwsError("ValidationException", "Invalid pagination token")
        items = [it for it in items if sort_key(it) >= after]
    page = items[:limit]
    extra = {}
    if len(items) > limit:
        extra["NextToken"] = base64.urlsafe_b64encode(
            json.dumps({"next": sort_key(items[limit])}).encode()).decode()
    return page, extra


def tags_table(ctx):
    return ctx.state.data["sagemaker"].setdefault("tags", {})


def register_tags(ctx, resource_arn, tags):
    """Record a new resource's ARN with its creation tags (a Tags list)."""
    table = tags_table(ctx)
    table[resource_arn] = {}
    for t in tags or []:
        table[resource_arn][t["Key"]] = t.get("Value", "")


def forget_tags(ctx, resource_arn):
    tags_table(ctx).pop(resource_arn, None)


def not_found(kind, name):
    return AwsError("ResourceNotFound", "%s %s does not exist." % (kind, name))


def in_use(message):
    return AwsError("ResourceInUse", message)
