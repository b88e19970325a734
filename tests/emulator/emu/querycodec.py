# SPDX-License-Identifier: Apache-2.0
"""AWS Query protocol (IAM, STS): request form to params, params to XML.

Both directions are driven by the botocore shapes, so every operation's
lists, nested structures and scalar types come out the way the SDKs
expect without per-operation code:
  - requests: "A.B" for structure members, "A.member.N" for lists
    (1-based, "A.N" when the list is flattened), "A.entry.N.key/value"
    for maps, an empty value for an empty list;
  - answers: <OpResponse xmlns=NS><OpResult>...</OpResult>
    <ResponseMetadata><RequestId/></ResponseMetadata></OpResponse> with
    lists as <member> elements and timestamps in ISO 8601."""

import base64
import calendar
import datetime
import re
import time
from xml.sax.saxutils import escape

from .errors import AwsError


class DecodeError(Exception):
    """A field that cannot be converted to its shape's type; the message
    names the field, as AWS's ValidationError does."""


def _name(shape, default):
    return shape.serialization.get("name", default)


def decode(fields, shape, prefix=""):
    """Builds the params dict of an operation from its form fields."""
    if shape is None:
        return {}
    out = {}
    for name, member in shape.members.items():
        key = prefix + _name(member, name)
        value = _decode_value(fields, member, key)
        if value is not None:
            out[name] = value
    return out


def _has_prefix(fields, key):
    dotted = key + "."
    return any(f.startswith(dotted) for f in fields)


def _indices(fields, base):
    rx = re.compile(re.escape(base) + r"\.(\d+)(?:\.|$)")
    found = set()
    for f in fields:
        m = rx.match(f)
        if m:
            found.add(int(m.group(1)))
    return sorted(found)


def _decode_value(fields, shape, key):
    kind = shape.type_name
    if kind == "structure":
        if not _has_prefix(fields, key):
            return None
        return decode(fields, shape, key + ".")
    if kind == "list":
        if fields.get(key) == "" and not _has_prefix(fields, key):
            return []
        if shape.serialization.get("flattened"):
            base = key
        else:
            base = key + "." + _name(shape.member, "member")
        items = [_decode_value(fields, shape.member, "%s.%d" % (base, i))
                 for i in _indices(fields, base)]
        return items if items or _has_prefix(fields, key) else None
    if kind == "map":
        base = key if shape.serialization.get("flattened") else key + ".entry"
        kname = _name(shape.key, "key")
        vname = _name(shape.value, "value")
        result = {}
        for i in _indices(fields, base):
            k = _decode_value(fields, shape.key, "%s.%d.%s" % (base, i, kname))
            if k is not None:
                result[k] = _decode_value(fields, shape.value, "%s.%d.%s" % (base, i, vname))
        return result if result or _has_prefix(fields, key) else None
    if key not in fields:
        return None
    return _scalar(fields[key], shape, key)


def _scalar(text, shape, key):
    kind = shape.type_name
    try:
        if kind in ("integer", "long"):
            return int(text)
        if kind in ("float", "double"):
            return float(text)
        if kind == "boolean":
            if text not in ("true", "false"):
                raise ValueError(text)
            return text == "true"
        if kind == "timestamp":
            return parse_timestamp(text)
        if kind == "blob":
            return base64.b64decode(text, validate=True)
    except (ValueError, TypeError):
        raise DecodeError("1 validation error detected: Value '%s' at '%s' failed to satisfy "
                          "constraint: Member must be a valid %s" % (text, key, kind))
    return text


def parse_timestamp(text):
    """ISO 8601 (what botocore sends for Query) or epoch seconds."""
    try:
        return datetime.datetime.fromtimestamp(float(text), datetime.timezone.utc)
    except ValueError:
        pass
    value = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value


def iso8601(value):
    """Handlers keep times as epoch seconds; Query answers carry ISO 8601."""
    if isinstance(value, datetime.datetime):
        value = calendar.timegm(value.utctimetuple())
    if isinstance(value, str):
        return value
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(value))


def _encode(value, shape, tag, out):
    kind = shape.type_name
    if kind == "structure":
        out.append("<%s>" % tag)
        _encode_members(value, shape, out)
        out.append("</%s>" % tag)
    elif kind == "list":
        mtag = _name(shape.member, "member")
        if shape.serialization.get("flattened"):
            for item in value:
                _encode(item, shape.member, tag, out)
        else:
            out.append("<%s>" % tag)
            for item in value:
                _encode(item, shape.member, mtag, out)
            out.append("</%s>" % tag)
    elif kind == "map":
        out.append("<%s>" % tag)
        for k, v in value.items():
            out.append("<entry>")
            _encode(k, shape.key, _name(shape.key, "key"), out)
            _encode(v, shape.value, _name(shape.value, "value"), out)
            out.append("</entry>")
        out.append("</%s>" % tag)
    else:
        out.append("<%s>%s</%s>" % (tag, escape(_text(value, kind)), tag))


def _encode_members(value, shape, out):
    for name, member in shape.members.items():
        if value.get(name) is not None:
            _encode(value[name], member, _name(member, name), out)


def _text(value, kind):
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "timestamp":
        return iso8601(value)
    if kind == "blob":
        return base64.b64encode(value).decode()
    return str(value)


def encode_response(operation, result, namespace, request_id):
    """The XML answer to a successful Query call."""
    op = operation.name
    out = ['<%sResponse xmlns="%s">' % (op, namespace)]
    shape = operation.output_shape
    if shape is not None:
        wrapper = shape.serialization.get("resultWrapper", op + "Result")
        out.append("<%s>" % wrapper)
        _encode_members(result or {}, shape, out)
        out.append("</%s>" % wrapper)
    out.append("<ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata>" % request_id)
    out.append("</%sResponse>" % op)
    return "".join(out).encode()


def encode_error(err, namespace, request_id):
    """AWS's Query error envelope."""
    assert isinstance(err, AwsError)
    return ('<ErrorResponse xmlns="%s"><Error><Type>%s</Type><Code>%s</Code>'
            '<Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>'
            % (namespace, "Sender" if err.sender else "Receiver", escape(err.code),
               escape(err.message), request_id)).encode()
