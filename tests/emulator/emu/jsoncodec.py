# SPDX-License-Identifier: Apache-2.0
"""AWS JSON 1.1 (SageMaker, Service Catalog): answers and errors.

Requests are plain JSON objects already shaped like the params, so only
the answer needs the model: timestamps go out as epoch seconds and blobs
as base64, as the SDKs parse them."""

import base64
import datetime
import json


def _encode(value, shape):
    kind = shape.type_name
    if kind == "structure":
        return {name: _encode(value[name], member)
                for name, member in shape.members.items() if value.get(name) is not None}
    if kind == "list":
        return [_encode(v, shape.member) for v in value]
    if kind == "map":
        return {k: _encode(v, shape.value) for k, v in value.items()}
    if kind == "timestamp" and isinstance(value, datetime.datetime):
        return value.timestamp()
    if kind == "blob" and isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    return value


def encode_response(operation, result):
    shape = operation.output_shape
    if shape is None:
        return b"{}"
    return json.dumps(_encode(result or {}, shape), separators=(",", ":")).encode()


def encode_error(err):
    return json.dumps({"__type": err.code, "message": err.message}).encode()
