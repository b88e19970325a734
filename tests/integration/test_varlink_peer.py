# SPDX-License-Identifier: Apache-2.0
"""Our varlink server seen by an independent peer: Python's socket module
speaking the wire format by hand (one JSON object, then a NUL byte) to
tests/tools/varlink-echo, which serves org.example.Echo through
sm_varlink_server. Checks the org.varlink.service interface, errors, framing
in both directions and the request size limit."""

import json
import os
import select
import shutil
import socket
import subprocess
import tempfile
import unittest

VARLINK_ECHO = os.environ.get("VARLINK_ECHO", "varlink-echo")
DEADLINE_S = 10.0
MAX_REQUEST_BYTES = 4096  # the tool's limit


class Peer:
    """One connection; replies are read up to their NUL, with a deadline."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(DEADLINE_S)
        self.sock.connect(path)
        self.buf = b""

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, method, parameters=None, **extra):
        msg = {"method": method}
        if parameters is not None:
            msg["parameters"] = parameters
        msg.update(extra)
        self.send_raw(json.dumps(msg).encode() + b"\0")

    def recv_frame(self):
        """The next reply's bytes without the NUL; None if the server closed."""
        while b"\0" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        frame, _, self.buf = self.buf.partition(b"\0")
        return frame

    def recv(self):
        frame = self.recv_frame()
        if frame is None:
            raise AssertionError("the server closed the connection")
        return json.loads(frame.decode("utf-8"))

    def call(self, method, parameters=None, **extra):
        self.send(method, parameters, **extra)
        return self.recv()

    def closed_by_server(self):
        """True once the server has closed (EOF); replies before it are dropped."""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
        except ConnectionResetError:
            return True

    def close(self):
        self.sock.close()


class VarlinkPeerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="smstudio-varlink-")
        cls.path = os.path.join(cls.tmp, "echo.sock")
        cls.proc = subprocess.Popen([VARLINK_ECHO, cls.path], stdout=subprocess.PIPE)
        ready, _, _ = select.select([cls.proc.stdout], [], [], DEADLINE_S)
        line = cls.proc.stdout.readline() if ready else b""
        if line != b"READY\n":
            cls.proc.kill()
            cls.proc.wait()
            raise RuntimeError("varlink-echo did not start: %r" % line)

    @classmethod
    def tearDownClass(cls):
        cls.proc.terminate()
        try:
            status = cls.proc.wait(timeout=DEADLINE_S)
        except subprocess.TimeoutExpired:
            cls.proc.kill()
            cls.proc.wait()
            status = None
        cls.proc.stdout.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        # Checked last so the temp dir goes whatever happens.
        assert status == 0, "varlink-echo exited with %r" % status

    def setUp(self):
        self.peer = Peer(self.path)

    def tearDown(self):
        self.peer.close()

    def test_get_info(self):
        r = self.peer.call("org.varlink.service.GetInfo")
        self.assertNotIn("error", r)
        self.assertEqual(r["parameters"], {
            "vendor": "smstudio",
            "product": "varlink-echo",
            "version": "0.0.1",
            "url": "https://example.invalid/varlink-echo",
            "interfaces": ["org.varlink.service", "org.example.Echo"],
        })

    def test_interface_descriptions(self):
        r = self.peer.call("org.varlink.service.GetInterfaceDescription",
                           {"interface": "org.example.Echo"})
        desc = r["parameters"]["description"]
        lines = [l for l in desc.splitlines() if l and not l.startswith("#")]
        self.assertEqual(lines[0], "interface org.example.Echo")
        for method in ("Echo", "Fail", "Slow", "Private"):
            self.assertTrue(any(l.startswith("method %s(" % method) for l in lines), method)

        r = self.peer.call("org.varlink.service.GetInterfaceDescription",
                           {"interface": "org.varlink.service"})
        desc = r["parameters"]["description"]
        lines = [l for l in desc.splitlines() if l and not l.startswith("#")]
        self.assertEqual(lines[0], "interface org.varlink.service")
        for decl in ("method GetInfo(", "method GetInterfaceDescription(",
                     "error InterfaceNotFound", "error MethodNotFound",
                     "error InvalidParameter"):
            self.assertTrue(any(l.startswith(decl) for l in lines), decl)

        r = self.peer.call("org.varlink.service.GetInterfaceDescription",
                           {"interface": "org.example.Nowhere"})
        self.assertEqual(r["error"], "org.varlink.service.InterfaceNotFound")
        self.assertEqual(r["parameters"], {"interface": "org.example.Nowhere"})

        r = self.peer.call("org.varlink.service.GetInterfaceDescription", {})
        self.assertEqual(r["error"], "org.varlink.service.InvalidParameter")
        self.assertEqual(r["parameters"], {"parameter": "interface"})

    def test_errors(self):
        r = self.peer.call("org.example.Echo.Nope")
        self.assertEqual(r["error"], "org.varlink.service.MethodNotFound")
        self.assertEqual(r["parameters"], {"method": "org.example.Echo.Nope"})

        r = self.peer.call("org.example.Echo.Fail", {"reason": "asked to"})
        self.assertEqual(r, {"error": "org.example.Echo.Failed",
                             "parameters": {"reason": "asked to"}})

        r = self.peer.call("org.example.Echo.Echo", more=True)
        self.assertEqual(r["error"], "org.varlink.service.InvalidParameter")

        self.peer.send_raw(b'{"parameters": {}}\0')
        r = self.peer.recv()
        self.assertEqual(r["error"], "org.varlink.service.InvalidParameter")
        self.assertEqual(r["parameters"], {"parameter": "method"})
        # The connection survives all of these.
        r = self.peer.call("org.example.Echo.Echo", {"still": "here"})
        self.assertEqual(r, {"parameters": {"still": "here"}})

    def test_privileged_as_root(self):
        r = self.peer.call("org.example.Echo.Private")
        if os.geteuid() == 0:
            self.assertEqual(r, {"parameters": {}})
        else:
            self.assertEqual(r["error"], "io.smstudio.PermissionDenied")

    def test_round_trip_values(self):
        value = {"s": "caf\u00e9 \u2603 \U0001F600", "n": -12345678901,
                 "f": 1.5, "b": [True, False, None], "deep": {"a": {"b": {"c": []}}}}
        r = self.peer.call("org.example.Echo.Echo", {"value": value})
        self.assertEqual(r, {"parameters": {"value": value}})
        # A NUL inside a string would be cut short by every C consumer: such
        # a request is refused like malformed JSON (connection closed).
        self.peer.send("org.example.Echo.Echo", {"value": "a\u0000b"})
        self.assertTrue(self.peer.closed_by_server())

    def test_framing(self):
        # Exactly one NUL per reply, at its end, and nothing after it.
        self.peer.send("org.example.Echo.Echo", {"k": 1})
        raw = b""
        while not raw.endswith(b"\0"):
            chunk = self.peer.sock.recv(65536)
            self.assertTrue(chunk)
            raw += chunk
        self.assertEqual(raw.count(b"\0"), 1)
        self.assertEqual(json.loads(raw[:-1]), {"parameters": {"k": 1}})

        # Several requests in one write, the first answered late: in order.
        batch = b"".join(json.dumps(m).encode() + b"\0" for m in [
            {"method": "org.example.Echo.Slow", "parameters": {"ms": 100}},
            {"method": "org.example.Echo.Echo", "parameters": {"i": 2}},
            {"method": "org.example.Echo.Echo", "parameters": {"i": 3}, "oneway": True},
            {"method": "org.example.Echo.Echo", "parameters": {"i": 4}},
        ])
        self.peer.send_raw(batch)
        self.assertEqual(self.peer.recv(), {"parameters": {"ms": 100}})
        self.assertEqual(self.peer.recv(), {"parameters": {"i": 2}})
        # The oneway call got no reply.
        self.assertEqual(self.peer.recv(), {"parameters": {"i": 4}})

        # A request dribbled byte by byte.
        for b in json.dumps({"method": "org.example.Echo.Echo",
                             "parameters": {"i": 5}}).encode() + b"\0":
            self.peer.send_raw(bytes([b]))
        self.assertEqual(self.peer.recv(), {"parameters": {"i": 5}})

    def test_shut_write_still_answered(self):
        # A peer that sends its request and then closes its writing side
        # (printf ... | socat) still gets the reply, then the server closes.
        self.peer.send("org.example.Echo.Slow", {"ms": 20})
        self.peer.sock.shutdown(socket.SHUT_WR)
        self.assertEqual(self.peer.recv(), {"parameters": {"ms": 20}})
        self.assertIsNone(self.peer.recv_frame())

    def test_invalid_json_closes(self):
        self.peer.send_raw(b'{"method": "org.example.Echo.Echo", \0')
        self.assertTrue(self.peer.closed_by_server())
        other = Peer(self.path)
        try:
            self.peer.close()
            self.peer = Peer(self.path)
            self.peer.send_raw(b"[1, 2]\0")
            self.assertTrue(self.peer.closed_by_server())
            # Others are unaffected.
            self.assertEqual(other.call("org.example.Echo.Echo", {"x": 1}),
                             {"parameters": {"x": 1}})
        finally:
            other.close()

    def test_request_size_limit(self):
        pad = "p" * (MAX_REQUEST_BYTES - 100)
        r = self.peer.call("org.example.Echo.Echo", {"pad": pad})
        self.assertEqual(r["parameters"]["pad"], pad)
        # Over the limit, with or without its NUL: the connection is closed.
        msg = json.dumps({"method": "org.example.Echo.Echo",
                          "parameters": {"pad": "p" * MAX_REQUEST_BYTES}}).encode()
        self.peer.send_raw(msg + b"\0")
        self.assertTrue(self.peer.closed_by_server())
        self.peer.close()
        self.peer = Peer(self.path)
        try:
            self.peer.send_raw(b"{" + b" " * (2 * MAX_REQUEST_BYTES))
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.assertTrue(self.peer.closed_by_server())


if __name__ == "__main__":
    unittest.main()
