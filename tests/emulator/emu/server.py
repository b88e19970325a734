# SPDX-License-Identifier: Apache-2.0
"""The HTTP(S) front: protocol detection, auth, validation, dispatch.

Every request takes the same path, in the order AWS applies its checks:
  1. find the protocol (X-Amz-Target means JSON 1.1, else Query form);
  2. find the operation (target prefix, or Action plus the signing
     service of the credential scope: IAM and STS share one endpoint);
  3. verify the SigV4 signature (sigv4), unless --no-verify or the
     operation is one AWS serves unsigned (sts:AssumeRoleWithWebIdentity);
  4. traffic control (faults): added latency, injected faults and rate
     caps, so a throttled call never reaches the handler;
  5. decode the params and validate them against the model (validation),
     unless --no-verify;
  6. run the service handler under the state lock;
  7. answer in the protocol's success or error format, and count the
     call and its outcome.

Also served: IMDSv2 and the container credential endpoint (imds), and
the unsigned admin API under /_emu/ (admin), both loopback only.
Connections are HTTP/1.1 keep-alive, one thread per connection; with TLS
the handshake runs in that thread, so a slow client cannot stall accept."""

import http.server
import json
import socket
import ssl
import struct
import sys
import time
import traceback
import urllib.parse
import uuid

from . import jsoncodec, querycodec, sigv4
from .errors import AuthError, AwsError, auth_to_aws
from .services import sts
from .validation import validate

JSON_CONTENT_TYPE = "application/x-amz-json-1.1"

# Injected-fault answers, per protocol family: (code, message, status).
_THROTTLE = {"json": ("ThrottlingException", "Rate exceeded", 400),
             "query": ("Throttling", "Rate exceeded", 400)}
_5XX = {500: ("InternalFailure", "The request processing has failed because of an "
              "unknown error, exception or failure.", 500),
        503: ("ServiceUnavailable", "The service is unavailable. Please try again later.",
              503)}


class ResetConnection(Exception):
    """Raised to drop the client's connection with a TCP RST, unanswered."""


class Context:
    """What a handler sees: the world, the caller and its service's data."""

    def __init__(self, emulator, service, caller, request_id):
        self.state = emulator.state
        self.data = emulator.state.data[service]
        self.keys = emulator.keys
        self.account = emulator.state.account
        self.region = emulator.state.region
        self.caller = caller
        self.request_id = request_id


class Call:
    """One request being answered; collects what the error path needs."""

    __slots__ = ("protocol", "service", "operation", "request_id", "outcome")

    def __init__(self):
        self.protocol = "query"
        self.service = "sts"
        self.operation = None      # set once authenticated: the call counts
        self.request_id = str(uuid.uuid4())
        self.outcome = "error"


class Emulator:
    def __init__(self, state, keys, models, handlers, verify=True, control=None,
                 metadata=None, saver=None):
        self.state = state
        self.keys = keys
        self.models = models
        self.handlers = handlers
        self.verify = verify
        self.control = control      # faults.Control
        self.metadata = metadata    # imds.Metadata
        self.saver = saver          # callable saving --state, or None
        self.admin = None           # admin.Admin, set by admin.Admin itself
        self._operations = {}       # (service, name) -> OperationModel

    def operation(self, service, name):
        """botocore builds an OperationModel afresh on every lookup (shapes
        and all), which is most of a cheap call's cost; keep them."""
        key = (service, name)
        op = self._operations.get(key)
        if op is None:
            op = self._operations[key] = self.models.by_name[service].operation_model(name)
        return op

    # -- the AWS path ------------------------------------------------------

    def handle(self, method, url, path, headers, body):
        """Returns (status, headers, body) for one AWS API request; raises
        ResetConnection when a fault says to drop the connection."""
        call = Call()
        try:
            answer = self._handle(call, method, url, path, headers, body)
            call.outcome = "ok"
            return answer
        except AuthError as err:
            return self._error(call, auth_to_aws(err, call.protocol))
        except AwsError as err:
            return self._error(call, err)
        except ResetConnection:
            call.outcome = "reset"
            raise
        except Exception as exc:  # a handler bug: answer like AWS would, keep serving
            traceback.print_exc()
            return self._error(call, AwsError("InternalFailure", "awsemu: %s: %s"
                                              % (type(exc).__name__, exc), 500, sender=False))
        finally:
            if call.operation is not None:
                self.state.record(call.service, call.operation, call.outcome)

    def _handle(self, call, method, url, path, headers, body):
        target = headers.get("X-Amz-Target")
        cred = sigv4.parse_authorization(headers) if "Authorization" in headers else None
        if target:
            call.protocol = "json"
            prefix, _, op_name = target.partition(".")
            call.service = self.models.by_target.get(prefix)
            model = self.models.by_name.get(call.service)
            if model is None or op_name not in model.operation_names:
                call.service = call.service or "sagemaker"
                raise AwsError("UnknownOperationException", "Unknown operation %s" % target)
            fields = None
        else:
            text = body.decode("utf-8", "replace")
            query = urllib.parse.urlsplit(path).query
            fields = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
            fields.update(urllib.parse.parse_qsl(text, keep_blank_values=True))
            op_name = fields.get("Action")
            call.service = self.models.query_service_for_action(
                op_name, cred.service if cred else None)
            model = self.models.by_name[call.service]
            if not op_name:
                raise AwsError("MissingAction", "Missing Action")
            if op_name not in model.operation_names:
                raise AwsError("InvalidAction", "Could not find operation %s for version %s"
                               % (op_name, fields.get("Version", "NO_VERSION_SPECIFIED")))
        operation = self.operation(call.service, op_name)

        if cred is None and call.service == "sts" and op_name in sts.UNSIGNED:
            caller = None
        elif self.verify:
            caller = sigv4.verify(self.keys, cred, method, url, headers, body)
        else:
            caller = (self.keys.get(cred.akid) if cred else None) or self.keys.default
        call.operation = op_name
        self._traffic(call)

        if fields is None:
            params = _json_params(body)
        else:
            try:
                params = querycodec.decode(fields, operation.input_shape)
            except querycodec.DecodeError as err:
                raise self._validation(call, str(err))
        if self.verify:
            problem = validate(params, operation.input_shape)
            if problem:
                raise self._validation(call, problem)

        result = self.run(call.service, op_name, params, caller, call.request_id)
        if call.protocol == "json":
            out = jsoncodec.encode_response(operation, result)
            return 200, self._headers(call, JSON_CONTENT_TYPE), out
        out = querycodec.encode_response(operation, result, model.metadata["xmlNamespace"],
                                         call.request_id)
        return 200, self._headers(call, "text/xml"), out

    def run(self, service, op_name, params, caller, request_id):
        """Runs an operation's handler on already checked params."""
        handler = self.handlers.get(service, {}).get(op_name)
        if handler is None:
            raise AwsError("NotImplemented", "awsemu does not implement %s:%s yet"
                           % (service, op_name), 501, sender=False)
        with self.state.lock:
            return handler(Context(self, service, caller, request_id), params)

    def _traffic(self, call):
        """Latency, stalls, faults and rate caps for an authenticated call.
        Sleeps here hold no lock."""
        if self.control is None:
            return
        verdict = self.control.decide(call.service, call.operation)
        if verdict.delay:
            time.sleep(verdict.delay)
        if verdict.action is None:
            return
        if verdict.action == "reset":
            raise ResetConnection()
        if verdict.action == "throttle":
            call.outcome = "throttled"
            code, message, status = _THROTTLE[call.protocol]
            raise AwsError(code, message, status)
        if verdict.action == "reject":
            raise self._validation(call, "refused by an injected fault")
        code, message, status = _5XX[verdict.status]
        raise AwsError(code, message, status, sender=False)

    @staticmethod
    def _validation(call, message):
        code = "ValidationException" if call.protocol == "json" else "ValidationError"
        return AwsError(code, message)

    def _headers(self, call, content_type):
        return [("Content-Type", content_type), ("x-amzn-RequestId", call.request_id)]

    def _error(self, call, err):
        if call.protocol == "json":
            headers = self._headers(call, JSON_CONTENT_TYPE)
            headers.append(("X-Amzn-ErrorType", err.code))
            return err.status, headers, jsoncodec.encode_error(err)
        namespace = self.models.by_name[call.service].metadata["xmlNamespace"]
        return (err.status, self._headers(call, "text/xml"),
                querycodec.encode_error(err, namespace, call.request_id))


def _json_params(body):
    if not body.strip():
        return {}
    try:
        params = json.loads(body)
    except ValueError:
        raise AwsError("SerializationException", "Malformed JSON body")
    if not isinstance(params, dict):
        raise AwsError("SerializationException", "Expected a JSON object")
    return params


_LOOPBACK = ("127.", "::1", "::ffff:127.")
_LINGER_RST = struct.pack("ii", 1, 0)


def make_handler(emulator, scheme):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self):
            super().setup()
            try:
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass

        def log_message(self, *args):
            pass

        def _read_body(self):
            n = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(n) if n > 0 else b""

        def _send(self, status, headers, body):
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _reset(self):
            """Drop the connection with an RST: SO_LINGER 0, then close
            (the rfile holds a reference that would keep it open)."""
            self.close_connection = True
            try:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
                self.rfile.close()
                self.connection.close()
            except OSError:
                pass

        def _serve(self):
            body = self._read_body()
            loopback = self.client_address[0].startswith(_LOOPBACK)
            if emulator.metadata is not None and emulator.metadata.owns(self.path):
                if not loopback:
                    self._send(403, [("Content-Type", "text/plain")], b"Forbidden")
                    return
                status, ctype, out = emulator.metadata.handle(self.command, self.path,
                                                              self.headers)
                self._send(status, [("Content-Type", ctype)], out)
                return
            if self.path.startswith("/_emu/"):
                if not loopback:
                    self._send(403, [("Content-Type", "application/json")],
                               b'{"message": "admin API is loopback only"}')
                    return
                status, out = emulator.admin.handle(self.command, self.path, body)
                self._send(status, [("Content-Type", "application/json")], out)
                return
            headers = dict(self.headers.items())
            url = "%s://%s%s" % (scheme, self.headers.get("Host", ""), self.path)
            try:
                status, out_headers, out = emulator.handle(self.command, url, self.path,
                                                           headers, body)
            except ResetConnection:
                self._reset()
                return
            self._send(status, out_headers, out)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

    return Handler


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def handle_error(self, request, client_address):
        """A client going away mid-answer (timeouts, resets under test) is
        routine here; anything else is still reported."""
        if isinstance(sys.exc_info()[1], (ConnectionError, ssl.SSLError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class Server6(Server):
    address_family = socket.AF_INET6


def make_server(emulator, host, port, tls_cert=None, tls_key=None):
    scheme = "https" if tls_cert else "http"
    cls = Server6 if ":" in host else Server
    server = cls((host, port), make_handler(emulator, scheme))
    if tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(tls_cert, tls_key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True,
                                        do_handshake_on_connect=False)
    server.scheme = scheme
    return server
