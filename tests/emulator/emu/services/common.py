# SPDX-License-Identifier: Apache-2.0
"""Helpers the service modules share: AWS-shaped ids and paging."""

import base64
import secrets
import string

from ..errors import AwsError

_UPPER_ALNUM = string.ascii_uppercase + string.digits


def aws_id(prefix, length=21):
    """An id shaped like IAM's unique ids (AROA..., AIDA...) and access
    key ids (ASIA...): a 4-letter type prefix, then upper-case alnum."""
    return prefix + "".join(secrets.choice(_UPPER_ALNUM) for _ in range(length - len(prefix)))


def secret_key():
    return base64.b64encode(secrets.token_bytes(30)).decode()


def marker_page(items, sort_key, params, default_max=100, error="ValidationError"):
    """IAM-style paging over items already sorted by sort_key: MaxItems,
    and Marker, an opaque token naming the first item of the next page
    (so a page stays right when earlier items are deleted meanwhile).
    Returns (page, extra output members)."""
    limit = params.get("MaxItems") or default_max
    marker = params.get("Marker")
    if marker is not None:
        try:
            start_key = base64.urlsafe_b64decode(marker.encode()).decode()
        except (ValueError, UnicodeDecodeError):
            raise AwsError(error, "Invalid Marker.")
        items = [it for it in items if sort_key(it) >= start_key]
    page = items[:limit]
    if len(items) > limit:
        nxt = base64.urlsafe_b64encode(sort_key(items[limit]).encode()).decode()
        return page, {"IsTruncated": True, "Marker": nxt}
    return page, {"IsTruncated": False}
