# SPDX-License-Identifier: Apache-2.0
"""The unsigned admin API under /_emu/ (loopback only), for tests.

JSON in, JSON out. Endpoints:
  GET    /_emu/state                    every service's stored data
  POST   /_emu/reset                    empty state, zero counters, drop
                                        temporary keys, traffic control
                                        back to the command line's
  GET    /_emu/calls[?detail=1]         signed calls per "svc:Operation";
                                        detail: {ok, throttled, error,
                                        reset, calls} each
  POST   /_emu/calls/reset              zero the counters only
  GET    /_emu/config                   {"async_delay_ms": N}
  POST   /_emu/config                   {"async_delay_ms": N}
  POST   /_emu/save                     write --state now
  POST   /_emu/call/<service>/<Op>      run an operation out of band
  POST   /_emu/patch                    change stored data directly
  GET|POST|DELETE /_emu/faults          fault rules (see faults)
  GET|POST|DELETE /_emu/latency         added latency
  GET|POST|DELETE /_emu/ratelimit       token-bucket rate caps

Out-of-band calls play what happens outside the client under test (a
console change, a resource someone else made): params are validated
against the model, no signature is needed, the traffic control is not
applied and the call counters do not move. The answer is the operation's
output as JSON, or {"__type", "Code", "Message"} with the AWS status.

Patch plays drift no API allows: {"service", "path": [keys...],
"value": V} sets, {"service", "path", "delete": true} removes. The
first two keys name a resource (table and id, e.g. ["domains",
"d-..."]); when that object has LastModifiedTime and the patch changes
something inside it, LastModifiedTime moves to now, as AWS's would."""

import datetime
import json
import time
import urllib.parse

from . import jsoncodec
from .errors import AwsError
from .faults import BadRule
from .validation import validate


class _Fail(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def _dump(value):
    return json.dumps(value, indent=1, sort_keys=True, default=str).encode()


class Admin:
    def __init__(self, emulator, initial_async_delay_s=0.0):
        self.emu = emulator
        self.initial_async_delay_s = initial_async_delay_s
        emulator.admin = self
        self._routes = {
            ("GET", "/_emu/state"): lambda q, b: self.emu.state.dump_json(),
            ("POST", "/_emu/reset"): self.reset,
            ("GET", "/_emu/calls"): self.calls,
            ("POST", "/_emu/calls/reset"): self.calls_reset,
            ("GET", "/_emu/config"): self.config,
            ("POST", "/_emu/config"): self.set_config,
            ("POST", "/_emu/save"): self.save,
            ("POST", "/_emu/patch"): self.patch,
            ("GET", "/_emu/faults"): lambda q, b: _dump(self.emu.control.faults()),
            ("POST", "/_emu/faults"): lambda q, b: _dump(self.emu.control.add_faults(b)),
            ("DELETE", "/_emu/faults"): lambda q, b: self._done(self.emu.control.clear_faults),
            ("GET", "/_emu/latency"): lambda q, b: _dump(self.emu.control.latency_json()),
            ("POST", "/_emu/latency"): lambda q, b: self._set(self.emu.control.set_latency, b,
                                                              self.emu.control.latency_json),
            ("DELETE", "/_emu/latency"): lambda q, b: self._done(
                self.emu.control.clear_latency),
            ("GET", "/_emu/ratelimit"): lambda q, b: _dump(self.emu.control.rate_limits_json()),
            ("POST", "/_emu/ratelimit"): lambda q, b: self._set(
                self.emu.control.set_rate_limit, b, self.emu.control.rate_limits_json),
            ("DELETE", "/_emu/ratelimit"): lambda q, b: self._done(
                self.emu.control.clear_rate_limits),
        }

    def handle(self, method, path, body):
        """(status, JSON body) for one admin request."""
        parts = urllib.parse.urlsplit(path)
        query = dict(urllib.parse.parse_qsl(parts.query))
        try:
            params = json.loads(body) if body.strip() else {}
        except ValueError:
            return 400, _dump({"message": "body is not JSON"})
        try:
            if method == "POST" and parts.path.startswith("/_emu/call/"):
                return self.call(parts.path[len("/_emu/call/"):], params)
            route = self._routes.get((method, parts.path))
            if route is None:
                return 404, _dump({"message": "no such admin endpoint: %s %s"
                                   % (method, parts.path)})
            return 200, route(query, params)
        except BadRule as err:
            return 400, _dump({"message": str(err)})
        except _Fail as err:
            return err.status, _dump({"message": err.message})

    @staticmethod
    def _done(action):
        action()
        return b"{}"

    @staticmethod
    def _set(action, body, show):
        action(body)
        return _dump(show())

    # -- state and counters ------------------------------------------------

    def reset(self, query, body):
        emu = self.emu
        emu.state.reset()
        emu.keys.remove_temporary()
        emu.control.clear_faults()
        emu.control.clear_latency()
        emu.control.clear_rate_limits()
        return b"{}"

    def calls(self, query, body):
        return self.emu.state.calls_json(detail=query.get("detail") not in (None, "", "0"))

    def calls_reset(self, query, body):
        self.emu.state.reset_calls()
        return b"{}"

    def config(self, query, body):
        return _dump({"async_delay_ms": round(self.emu.state.async_delay_s * 1000, 3)})

    def set_config(self, query, body):
        if not isinstance(body, dict) or set(body) - {"async_delay_ms"}:
            raise _Fail(400, "config takes {\"async_delay_ms\": N}")
        if "async_delay_ms" in body:
            value = body["async_delay_ms"]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise _Fail(400, "async_delay_ms must be a number >= 0")
            self.emu.state.async_delay_s = value / 1000.0
        return self.config(query, body)

    def save(self, query, body):
        if self.emu.saver is None:
            raise _Fail(400, "awsemu was started without --state")
        return _dump({"saved": self.emu.saver()})

    # -- out-of-band calls -------------------------------------------------

    def call(self, rest, params):
        service, _, op_name = rest.partition("/")
        model = self.emu.models.by_name.get(service)
        if model is None:
            raise _Fail(404, "unknown service %r (one of %s)"
                        % (service, ", ".join(sorted(self.emu.models.by_name))))
        if op_name not in model.operation_names:
            raise _Fail(404, "%s has no operation %r" % (service, op_name))
        if not isinstance(params, dict):
            raise _Fail(400, "params must be a JSON object")
        operation = self.emu.operation(service, op_name)
        try:
            problem = validate(params, operation.input_shape)
            if problem:
                raise AwsError("ValidationException" if model.protocol == "json"
                               else "ValidationError", problem)
            result = self.emu.run(service, op_name, params, self.emu.keys.default,
                                  "out-of-band")
        except AwsError as err:
            return err.status, _dump({"__type": err.code, "Code": err.code,
                                      "Message": err.message, "status": err.status})
        return 200, jsoncodec.encode_response(operation, result)

    # -- drift -------------------------------------------------------------

    def patch(self, query, body):
        if not isinstance(body, dict):
            raise _Fail(400, "patch takes a JSON object")
        service, path = body.get("service"), body.get("path")
        delete = body.get("delete", False) is True
        if service not in self.emu.state.data:
            raise _Fail(404, "unknown service %r" % (service,))
        if not isinstance(path, list) or not path or not all(
                isinstance(k, (str, int)) and not isinstance(k, bool) for k in path):
            raise _Fail(400, "path must be a non-empty list of keys and indices")
        if not delete and "value" not in body:
            raise _Fail(400, "patch needs \"value\" or \"delete\": true")
        with self.emu.state.lock:
            node = self.emu.state.data[service]
            walked = []
            for key in path[:-1]:
                node, key = self._step(node, key, walked)
                walked.append(key)
            last = self._key(node, path[-1], walked, must_exist=delete)
            if delete:
                del node[last]
            else:
                node[last] = body["value"]
            resource = self._bump(service, walked + [last])
            return _dump({"resource": resource})

    @staticmethod
    def _key(node, key, walked, must_exist=True):
        """The key as the container stores it: list indices as ints, and
        dict keys matched case-insensitively when not found as given (IAM
        keeps role names lower-cased)."""
        if isinstance(node, list):
            if not isinstance(key, int) and not (isinstance(key, str) and key.isdigit()):
                raise _Fail(400, "%s is a list; %r is not an index" % (walked, key))
            key = int(key)
            if not -len(node) <= key < len(node):
                raise _Fail(404, "index %d out of range at %s" % (key, walked))
            return key
        if not isinstance(node, dict):
            raise _Fail(400, "%s is not a dict or list" % (walked,))
        key = str(key)
        if key in node:
            return key
        folded = [k for k in node if isinstance(k, str) and k.lower() == key.lower()]
        if len(folded) == 1:
            return folded[0]
        if must_exist:
            raise _Fail(404, "no %r at %s" % (key, walked))
        return key

    def _step(self, node, key, walked):
        key = self._key(node, key, walked)
        return node[key], key

    def _bump(self, service, path):
        """Moves the patched resource's LastModifiedTime; returns it."""
        data = self.emu.state.data[service]
        if len(path) < 2:
            return None
        table = data.get(path[0])
        resource = table.get(path[1]) if isinstance(table, dict) else None
        if not isinstance(resource, dict):
            return None
        if len(path) > 2 and path[2] != "LastModifiedTime" and "LastModifiedTime" in resource:
            old = resource["LastModifiedTime"]
            if isinstance(old, datetime.datetime):
                resource["LastModifiedTime"] = datetime.datetime.now(datetime.timezone.utc)
            elif isinstance(old, (int, float)):
                resource["LastModifiedTime"] = max(time.time(), old + 0.001)
            else:
                resource["LastModifiedTime"] = time.time()
        return resource
