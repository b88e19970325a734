# SPDX-License-Identifier: Apache-2.0
"""Input validation against the operation's botocore input shape.

Two passes. The first walks the shape and reports what AWS itself checks
server-side, worded as AWS words it ("1 validation error detected: Value
'x' at 'roleName' failed to satisfy constraint: Member must have length
less than or equal to 64"): required members, min/max lengths and ranges,
enums and patterns. botocore's ParamValidator, the second pass, catches the
rest (wrong types, unknown members); it only checks minimums because the
SDKs deliberately leave maximums to the service, which is why the first
pass exists at all.

validate() returns None when the params are acceptable, else the message;
the caller picks the code (ValidationError for Query, ValidationException
for JSON 1.1)."""

import re

import botocore.validate

_pattern_cache = {}
_validator = botocore.validate.ParamValidator()


def _regex(pattern):
    """Compiles a model pattern; None when it uses Java-only syntax that
    Python's re cannot read (the check is then skipped, not failed)."""
    if pattern not in _pattern_cache:
        try:
            _pattern_cache[pattern] = re.compile(pattern)
        except re.error:
            _pattern_cache[pattern] = None
    return _pattern_cache[pattern]


def _field(name):
    return name[:1].lower() + name[1:]


def _show(value):
    if value is None:
        return "null"
    return "'%s'" % (value,)


def _walk(value, shape, path, out):
    meta = shape.metadata
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return
        for name in shape.required_members:
            if value.get(name) is None:
                out.append((None, _join(path, _field(name)), "Member must not be null"))
        for name, member in shape.members.items():
            if value.get(name) is not None:
                _walk(value[name], member, _join(path, _field(name)), out)
        return
    if kind == "list":
        if not isinstance(value, list):
            return
        _bounds(value, len(value), meta, path, "length", out)
        for i, item in enumerate(value, 1):
            _walk(item, shape.member, "%s.%d.member" % (path, i), out)
        return
    if kind == "map":
        if not isinstance(value, dict):
            return
        _bounds(value, len(value), meta, path, "length", out)
        for k, v in value.items():
            _walk(k, shape.key, path + ".key", out)
            _walk(v, shape.value, path + ".value", out)
        return
    if kind == "string":
        if not isinstance(value, str):
            return
        _bounds(value, len(value), meta, path, "length", out)
        if shape.enum and value not in shape.enum:
            out.append((value, path, "Member must satisfy enum value set: [%s]"
                        % ", ".join(shape.enum)))
        rx = _regex(meta["pattern"]) if "pattern" in meta else None
        if rx is not None and not rx.fullmatch(value):
            out.append((value, path, "Member must satisfy regular expression pattern: "
                        + meta["pattern"]))
        return
    if kind in ("integer", "long", "float", "double"):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            _bounds(value, value, meta, path, "value", out)


def _bounds(value, measure, meta, path, what, out):
    if "min" in meta and measure < meta["min"]:
        out.append((value, path, "Member must have %s greater than or equal to %s"
                    % (what, meta["min"])))
    if "max" in meta and measure > meta["max"]:
        out.append((value, path, "Member must have %s less than or equal to %s"
                    % (what, meta["max"])))


def _join(path, name):
    return path + "." + name if path else name


def validate(params, input_shape):
    if input_shape is None:
        return None
    found = []
    _walk(params, input_shape, "", found)
    if found:
        parts = ["Value %s at '%s' failed to satisfy constraint: %s"
                 % (_show(v) if not isinstance(v, (list, dict)) else "'%s'" % (v,), p, m)
                 for v, p, m in found]
        return "%d validation error%s detected: %s" % (
            len(found), "" if len(found) == 1 else "s", "; ".join(parts))
    report = _validator.validate(params, input_shape)
    if report.has_errors():
        return report.generate_report()
    return None
