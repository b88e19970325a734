# SPDX-License-Identifier: Apache-2.0
"""A minimal varlink client for tests: one call per connection (or several
on one), JSON + NUL over AF_UNIX, as smstudiod's control socket speaks it.

    reply = call(path, "io.smstudio.Status")
    reply["parameters"], reply.get("error")

Run as a script to make one call from another uid (setpriv ... python3
varlinkclient.py SOCKET METHOD [PARAMETERS-JSON]): prints the reply as one
JSON line; exit status 0 for a reply, 1 for an error reply, 2 when the
socket could not be used."""

import json
import socket
import sys


class Connection:
    """One connection; calls on it are answered in order."""

    def __init__(self, path, timeout=30.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""

    def send(self, method, parameters=None, **extra):
        msg = {"method": method}
        if parameters is not None:
            msg["parameters"] = parameters
        msg.update(extra)
        self.sock.sendall(json.dumps(msg).encode() + b"\0")

    def receive(self):
        while b"\0" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            self.buf += chunk
        message, _, self.buf = self.buf.partition(b"\0")
        return json.loads(message)

    def call(self, method, parameters=None):
        self.send(method, parameters)
        return self.receive()

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def call(path, method, parameters=None, timeout=30.0):
    """One call on a fresh connection: the reply object."""
    with Connection(path, timeout) as c:
        return c.call(method, parameters)


def main(argv):
    if len(argv) not in (3, 4):
        sys.stderr.write("usage: varlinkclient.py SOCKET METHOD [PARAMETERS-JSON]\n")
        return 2
    params = json.loads(argv[3]) if len(argv) == 4 else None
    try:
        reply = call(argv[1], argv[2], params)
    except OSError as e:
        sys.stderr.write("varlinkclient: %s\n" % e)
        return 2
    print(json.dumps(reply))
    return 1 if reply.get("error") else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
