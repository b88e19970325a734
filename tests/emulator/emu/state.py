# SPDX-License-Identifier: Apache-2.0
"""The emulator's in-memory world, behind one lock.

A single re-entrant lock keeps every operation atomic with respect to the
others (a create racing a delete sees one order, never half of each); the
handlers are short, so contention is not what limits throughput. Each
service keeps its data in its own dict under `data`, made by the service
module's fresh_state(), so reset, the JSON dump and --state persistence
need no knowledge of what the services store.

Call counters count signed calls per "service:Operation" (what tests
assert on: "smstudio made exactly one CreateDomain"), and separately how
each ended: ok, throttled (injected or rate-capped), error (any other AWS
error) or reset (connection dropped by a fault). Out-of-band calls made
through the admin API are not counted, so the counters only ever reflect
what the client under test did."""

import collections
import json
import threading

OUTCOMES = ("ok", "throttled", "error", "reset")


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
        self.outcomes = {}       # "svc:Op" -> Counter of OUTCOMES
        self.data = {}
        self.reset()

    def reset(self):
        with self.lock:
            self.data = {name: make() for name, make in self._fresh.items()}
            self.reset_calls()

    def reset_calls(self):
        with self.lock:
            self.calls.clear()
            self.outcomes.clear()

    def load(self, data):
        """Replace the services' data with data (from a saved file);
        services missing from it start empty, so a file saved before a
        service existed still loads."""
        with self.lock:
            self.data = {name: make() for name, make in self._fresh.items()}
            for name, value in data.items():
                if name in self.data and isinstance(value, dict):
                    self.data[name] = value

    def record(self, service, operation, outcome):
        """Counts one authenticated call and how it ended."""
        name = "%s:%s" % (service, operation)
        with self.lock:
            self.calls[name] += 1
            per = self.outcomes.get(name)
            if per is None:
                per = self.outcomes[name] = collections.Counter()
            per[outcome] += 1

    def calls_json(self, detail=False):
        with self.lock:
            if not detail:
                return json.dumps(dict(sorted(self.calls.items())), indent=1).encode()
            names = sorted(set(self.calls) | set(self.outcomes))
            out = {}
            for name in names:
                per = self.outcomes.get(name, {})
                out[name] = {k: per.get(k, 0) for k in OUTCOMES}
                out[name]["calls"] = self.calls.get(name, 0)
            return json.dumps(out, indent=1).encode()

    def dump_json(self):
        with self.lock:
            return json.dumps({"account": self.account, "region": self.region,
                               "services": self.data}, indent=1, sort_keys=True,
                              default=str).encode()
