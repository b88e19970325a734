# SPDX-License-Identifier: Apache-2.0
"""A fake varlink server for client tests: a Unix stream socket speaking the
varlink wire format (one JSON object ended by a NUL byte each way), canned
replies per method, and a record of every request with the caller's uid
(SO_PEERCRED), so a test can check what a client sent and who sent it."""

import json
import os
import socket
import struct
import threading


class Reply:
    """A canned answer: parameters, or an error with its parameters."""

    def __init__(self, parameters=None, error=None):
        self.parameters = parameters if parameters is not None else {}
        self.error = error

    def message(self):
        msg = {"parameters": self.parameters}
        if self.error:
            msg["error"] = self.error
        return msg


class VarlinkFake:
    """Serves `replies` (method name -> Reply, a parameters dict, or a
    function (parameters, uid) -> either, or None to never answer) on
    `path`. Methods in `privileged`
    answer io.smstudio.PermissionDenied to any uid but 0, as smstudiod does;
    an unknown method gets org.varlink.service.MethodNotFound."""

    def __init__(self, path, replies=None, privileged=(), mode=0o666):
        self.path = path
        self.replies = replies if replies is not None else {}  # shared: tests edit it
        self.privileged = set(privileged)
        self.requests = []  # (method, parameters, uid), in arrival order
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        os.chmod(path, mode)
        self.sock.listen(16)
        self.stopping = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def calls(self, method=None):
        with self.lock:
            return [r for r in self.requests if method is None or r[0] == method]

    def _accept(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _answer(self, method, parameters, uid):
        if method in self.privileged and uid != 0:
            return Reply({"method": method}, error="io.smstudio.PermissionDenied")
        canned = self.replies.get(method)
        if canned is None:
            return Reply({"method": method}, error="org.varlink.service.MethodNotFound")
        if callable(canned):
            canned = canned(parameters, uid)
        if canned is None or isinstance(canned, Reply):
            return canned
        return Reply(canned)

    def _serve(self, conn):
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        _, uid, _ = struct.unpack("3i", creds)
        buf = b""
        with conn:
            while True:
                try:
                    chunk = conn.recv(65536)
                except OSError:
                    return
                if not chunk:
                    return
                buf += chunk
                while b"\0" in buf:
                    raw, buf = buf.split(b"\0", 1)
                    request = json.loads(raw)
                    method = request.get("method")
                    parameters = request.get("parameters", {})
                    with self.lock:
                        self.requests.append((method, parameters, uid))
                    if request.get("oneway"):
                        continue
                    reply = self._answer(method, parameters, uid)
                    if reply is None:
                        continue
                    conn.sendall(json.dumps(reply.message()).encode() + b"\0")

    def stop(self):
        self.stopping = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.thread.join(timeout=5)
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
