# SPDX-License-Identifier: Apache-2.0
"""--state FILE: the services' data (and the temporary keys handed out)
saved as JSON and loaded back at start.

Services store what suits them: SageMaker epoch floats, IAM may keep
datetimes, bytes for blobs. JSON has none of datetime, bytes, tuple or
set, so those are written as one-key tagged objects ({"$datetime": ISO},
{"$bytes": base64}, {"$tuple": [...]}, {"$set": [...]}, and a dict with
non-string keys as {"$items": [[key, value], ...]}) and turned back on
load, so a restarted emulator answers exactly as the one that saved.
Saving writes a temporary file in the same directory, fsyncs it and
renames it over the old one: a crash mid-save leaves the previous file."""

import base64
import datetime
import json
import os
import tempfile

FORMAT = 1


def _encode(value):
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {k: _encode(v) for k, v in value.items()}
        # JSON keys are strings only: keep other keys (ints, tuples) as pairs.
        return {"$items": [[_encode(k), _encode(v)] for k, v in value.items()]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, tuple):
        return {"$tuple": [_encode(v) for v in value]}
    if isinstance(value, (set, frozenset)):
        return {"$set": [_encode(v) for v in sorted(value, key=repr)]}
    if isinstance(value, datetime.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, (bytes, bytearray)):
        return {"$bytes": base64.b64encode(value).decode()}
    return value


def _decode_object(obj):
    if len(obj) == 1:
        (tag, value), = obj.items()
        if tag == "$datetime":
            return datetime.datetime.fromisoformat(value)
        if tag == "$bytes":
            return base64.b64decode(value)
        if tag == "$tuple":
            return tuple(value)
        if tag == "$set":
            return set(value)
        if tag == "$items":
            return {_hashable(k): v for k, v in value}
    return obj


def _hashable(value):
    return tuple(_hashable(v) for v in value) if isinstance(value, list) else value


def dumps(data, keys=()):
    """data: service name -> its dict; keys: sigv4.Key objects to keep."""
    doc = {"format": FORMAT, "services": _encode(data),
           "keys": [_encode(vars(k)) for k in keys]}
    return json.dumps(doc, indent=1, sort_keys=True)


def loads(text):
    """Returns (services data, list of dicts of Key attributes)."""
    doc = json.loads(text, object_hook=_decode_object)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError("not an awsemu state file (format %d)" % FORMAT)
    return doc.get("services", {}), doc.get("keys", [])


def save(path, text):
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".awsemu-state.", dir=directory)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def load(path):
    """(services, keys) from path, or None when it does not exist."""
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return None
    return loads(text)
