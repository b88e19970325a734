# SPDX-License-Identifier: Apache-2.0
"""The emulator's in-memory world, behind one lock.

A single re-entrant lock keeps every operation atomic with respect to the
others (a create racing a delete sees one order, never half of each); the
handlers are short, so contention is not what limits throughput. Each
service keeps its data in its own dict under `data`, made by the service
module's fresh_state(), so reset and the JSON dump need no knowledge of
what the services store."""

import collections
import json
import threading


class State:
    def __init__(self, account, region, fresh):
        self.account = account
        self.region = region
        self._fresh = fresh      # service name -> callable returning its empty state
        # How long asynchronous statuses (Pending, Updating, Deleting, ...)
        # last before they settle; see services/sagemaker_common.py.
        self.async_delay_s = 0.0
        self.lock = threading.RLock()
        self.calls = collections.Counter()
        self.data = {}
        self.reset()

    def reset(self):
        with self.lock:
            self.data = {name: make() for name, make in self._fresh.items()}
            self.calls.clear()

    def count(self, service, operation):
        with self.lock:
            self.calls["%s:%s" % (service, operation)] += 1

    def calls_json(self):
        with self.lock:
            return json.dumps(dict(sorted(self.calls.items())), indent=1).encode()

    def dump_json(self):
        with self.lock:
            return json.dumps({"account": self.account, "region": self.region,
                               "services": self.data}, indent=1, sort_keys=True,
                              default=str).encode()
