# SPDX-License-Identifier: Apache-2.0
"""The HTTP(S) front: protocol detection, auth, validation, dispatch.

Every request takes the same path, in the order AWS applies its checks:
  1. find the protocol (X-Amz-Target means JSON 1.1, else Query form);
  2. find the operation (target prefix, or Action plus the signing
     service of the credential scope: IAM and STS share one endpoint);
  3. verify the SigV4 signature (sigv4), unless --no-verify;
  4. decode the params and validate them against the model (validation),
     unless --no-verify;
  5. run the service handler under the state lock;
  6. answer in the protocol's success or error format.

Requests under /_emu/ are the unsigned admin API, loopback clients only.
Connections are HTTP/1.1 keep-alive, one thread per connection; with TLS
the handshake runs in that thread, so a slow client cannot stall accept."""

import http.server
import json
import socket
import ssl
import urllib.parse
import uuid

from . import jsoncodec, querycodec, sigv4
from .errors import AuthError, AwsError, auth_to_aws
from .validation import validate

JSON_CONTENT_TYPE = "application/x-amz-json-1.1"


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

    def __init__(self):
        self.protocol = "query"
        self.service = "sts"
        self.request_id = str(uuid.uuid4())


class Emulator:
    def __init__(self, state, keys, models, handlers, verify=True):
        self.state = state
        self.keys = keys
        self.models = models
        self.handlers = handlers
        self.verify = verify

    # -- the AWS path ------------------------------------------------------

    def handle(self, method, url, path, headers, body):
        """Returns (status, headers, body) for one AWS API request."""
        call = Call()
        try:
            return self._handle(call, method, url, path, headers, body)
        except AuthError as err:
            return self._error(call, auth_to_aws(err, call.protocol))
        except AwsError as err:
            return self._error(call, err)

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
        operation = model.operation_model(op_name)

        if self.verify:
            caller = sigv4.verify(self.keys, cred, method, url, headers, body)
        else:
            caller = (self.keys.get(cred.akid) if cred else None) or self.keys.default
        self.state.count(call.service, op_name)

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

        handler = self.handlers.get(call.service, {}).get(op_name)
        if handler is None:
            raise AwsError("NotImplemented", "awsemu does not implement %s:%s yet"
                           % (call.service, op_name), 501, sender=False)
        ctx = Context(self, call.service, caller, call.request_id)
        with self.state.lock:
            result = handler(ctx, params)

        if call.protocol == "json":
            out = jsoncodec.encode_response(operation, result)
            return 200, self._headers(call, JSON_CONTENT_TYPE), out
        out = querycodec.encode_response(operation, result, model.metadata["xmlNamespace"],
                                         call.request_id)
        return 200, self._headers(call, "text/xml"), out

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

    # -- the admin API -----------------------------------------------------

    def admin(self, method, path):
        """Returns (status, body) for /_emu/... requests."""
        route = urllib.parse.urlsplit(path).path
        if method == "GET" and route == "/_emu/state":
            return 200, self.state.dump_json()
        if method == "GET" and route == "/_emu/calls":
            return 200, self.state.calls_json()
        if method == "POST" and route == "/_emu/reset":
            self.state.reset()
            self.keys.remove_temporary()
            return 200, b"{}"
        return 404, b'{"message": "no such admin endpoint"}'


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

        def _serve(self):
            body = self._read_body()
            if self.path.startswith("/_emu/"):
                if not self.client_address[0].startswith(_LOOPBACK):
                    self._send(403, [("Content-Type", "application/json")],
                               b'{"message": "admin API is loopback only"}')
                    return
                status, out = emulator.admin(self.command, self.path)
                self._send(status, [("Content-Type", "application/json")], out)
                return
            headers = {k: v for k, v in self.headers.items()}
            url = "%s://%s%s" % (scheme, self.headers.get("Host", ""), self.path)
            status, out_headers, out = emulator.handle(self.command, url, self.path,
                                                       headers, body)
            self._send(status, out_headers, out)

        do_GET = do_POST = _serve

    return Handler


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


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
