# SPDX-License-Identifier: Apache-2.0
"""Traffic control: injected faults, added latency and rate caps.

These imitate what a real AWS endpoint does to a client under load or in
a bad hour, so tests can check smstudio's retries, backoff and timeouts
against the very errors AWS sends. The server consults Control.decide()
after authentication and before the handler runs, so a throttled or
failed call never changes state, and it sleeps (latency, stall) with no
lock held so one slow call does not slow the others.

Operations are named by a pattern: "*" (every call), "iam:*" (every
call to a service) or "sagemaker:CreateDomain" (one operation).

Fault rule (admin POST /_emu/faults, a rule or a list of rules):
  operation  pattern, default "*"
  kind       throttle | error5xx | reject | reset | stall
             (reject: the protocol's validation error, 400, which no
             retry can cure)
  rate       probability a matching call is hit, default 1.0
  after      let this many matching calls through first, default 0
  count      stop after injecting this many, default unlimited
  status     error5xx only: 500 (InternalFailure) or 503
             (ServiceUnavailable), default 503
  stall_s    stall only: seconds to wait before answering, default 5
The first rule that fires decides; every matching rule counts the call.

Latency: a fixed and a uniformly random part, in ms, account-wide or per
pattern (the most specific pattern that matches wins).

Rate caps: token buckets of `rps` tokens per second holding at most
`burst`; one account-wide and any number per pattern; a call needs a token
from each bucket that applies, else it is throttled."""

import random
import threading
import time

KINDS = ("throttle", "error5xx", "reject", "reset", "stall")


class BadRule(ValueError):
    """An admin request the control cannot accept; the message says why."""


def matches(pattern, service, operation):
    if pattern == "*":
        return True
    svc, _, op = pattern.partition(":")
    return svc == service and op in ("*", operation)


def _check_pattern(pattern):
    if not isinstance(pattern, str) or not (
            pattern == "*" or (":" in pattern and all(pattern.partition(":")[::2]))):
        raise BadRule("operation must be '*', 'service:*' or 'service:Operation', not %r"
                      % (pattern,))
    return pattern


def _number(rule, name, default, low=None, high=None, integer=False):
    value = rule.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            integer and not isinstance(value, int)):
        raise BadRule("%s must be a %s" % (name, "whole number" if integer else "number"))
    if (low is not None and value < low) or (high is not None and value > high):
        raise BadRule("%s must be within [%s, %s]" % (name, low, high))
    return value


class FaultRule:
    def __init__(self, rule):
        if not isinstance(rule, dict):
            raise BadRule("a fault rule is a JSON object")
        unknown = set(rule) - {"operation", "kind", "rate", "after", "count", "status",
                               "stall_s"}
        if unknown:
            raise BadRule("unknown fault rule members: %s" % ", ".join(sorted(unknown)))
        self.operation = _check_pattern(rule.get("operation", "*"))
        self.kind = rule.get("kind")
        if self.kind not in KINDS:
            raise BadRule("kind must be one of %s" % ", ".join(KINDS))
        self.rate = _number(rule, "rate", 1.0, 0.0, 1.0)
        self.after = _number(rule, "after", 0, 0, integer=True)
        self.count = _number(rule, "count", None, 0, integer=True)
        self.status = _number(rule, "status", 503, integer=True)
        if self.status not in (500, 503):
            raise BadRule("status must be 500 or 503")
        self.stall_s = _number(rule, "stall_s", 5.0, 0, 3600)
        self.seen = 0        # matching calls so far
        self.injected = 0    # faults this rule injected

    def fire(self):
        """Called for a matching call with the control's lock held."""
        self.seen += 1
        if self.seen <= self.after:
            return False
        if self.count is not None and self.injected >= self.count:
            return False
        if self.rate < 1.0 and random.random() >= self.rate:
            return False
        self.injected += 1
        return True

    def describe(self):
        return {"operation": self.operation, "kind": self.kind, "rate": self.rate,
                "after": self.after, "count": self.count, "status": self.status,
                "stall_s": self.stall_s, "seen": self.seen, "injected": self.injected}


class TokenBucket:
    def __init__(self, rps, burst):
        self.rps = float(rps)
        self.burst = float(burst)
        self.tokens = self.burst
        self.stamp = time.monotonic()

    def take(self, now):
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rps)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class Verdict:
    """What to do with one call: sleep `delay` seconds first, then
    `action`: None (run it), "throttle", "error5xx" (with `status`) or
    "reset"."""

    __slots__ = ("delay", "action", "status")

    def __init__(self, delay=0.0, action=None, status=None):
        self.delay = delay
        self.action = action
        self.status = status


_PASS = Verdict()


class Control:
    def __init__(self, latency_ms=0, rate_limit=None):
        self._lock = threading.Lock()
        self.rules = []
        self.latency = {}          # pattern -> (fixed_ms, random_ms)
        self.buckets = []          # [(pattern, TokenBucket)], "*" is account-wide
        self._initial = (latency_ms, rate_limit)
        self.clear_latency()
        self.clear_rate_limits()
        self._idle = not (self.rules or self.latency or self.buckets)

    def _update_idle(self):
        self._idle = not (self.rules or self.latency or self.buckets)

    # -- configuration (admin API) ----------------------------------------

    def add_faults(self, body):
        rules = [FaultRule(r) for r in (body if isinstance(body, list) else [body])]
        with self._lock:
            self.rules.extend(rules)
            self._update_idle()
        return [r.describe() for r in rules]

    def clear_faults(self):
        with self._lock:
            self.rules = []
            self._update_idle()

    def faults(self):
        with self._lock:
            return [r.describe() for r in self.rules]

    def set_latency(self, body):
        if not isinstance(body, dict):
            raise BadRule("latency is a JSON object")
        pattern = _check_pattern(body.get("operation", "*"))
        fixed = _number(body, "fixed_ms", 0, 0, 600000)
        spread = _number(body, "random_ms", 0, 0, 600000)
        with self._lock:
            if fixed or spread:
                self.latency[pattern] = (fixed, spread)
            else:
                self.latency.pop(pattern, None)
            self._update_idle()

    def clear_latency(self):
        """Back to the command line's --latency-ms."""
        with self._lock:
            self.latency = {"*": (self._initial[0], 0)} if self._initial[0] else {}
            self._update_idle()

    def latency_json(self):
        with self._lock:
            return {p: {"fixed_ms": f, "random_ms": r} for p, (f, r) in self.latency.items()}

    def set_rate_limit(self, body):
        if not isinstance(body, dict):
            raise BadRule("a rate limit is a JSON object")
        pattern = _check_pattern(body.get("operation", "*"))
        rps = _number(body, "rps", None, 0.001)
        if rps is None:
            raise BadRule("rps is required")
        burst = _number(body, "burst", max(1.0, rps), 1)
        with self._lock:
            self.buckets = [(p, b) for p, b in self.buckets if p != pattern]
            self.buckets.append((pattern, TokenBucket(rps, burst)))
            self._update_idle()

    def clear_rate_limits(self):
        """Back to the command line's --rate-limit."""
        rps = self._initial[1]
        with self._lock:
            self.buckets = [("*", TokenBucket(rps, max(1.0, rps)))] if rps else []
            self._update_idle()

    def rate_limits_json(self):
        with self._lock:
            return {p: {"rps": b.rps, "burst": b.burst} for p, b in self.buckets}

    # -- the request path -------------------------------------------------

    def decide(self, service, operation):
        if self._idle:
            return _PASS
        with self._lock:
            delay = self._latency(service, operation)
            fired = None
            for rule in self.rules:
                if not matches(rule.operation, service, operation):
                    continue
                if fired is None:
                    if rule.fire():
                        fired = rule
                else:
                    rule.seen += 1
            if fired is not None and fired.kind != "stall":
                return Verdict(delay, fired.kind, fired.status)
            if fired is not None:
                delay += fired.stall_s
            now = time.monotonic()
            for pattern, bucket in self.buckets:
                if matches(pattern, service, operation) and not bucket.take(now):
                    return Verdict(delay, "throttle")
            return Verdict(delay) if delay else _PASS

    def _latency(self, service, operation):
        best = None
        for pattern in ("%s:%s" % (service, operation), "%s:*" % service, "*"):
            best = self.latency.get(pattern)
            if best:
                break
        if not best:
            return 0.0
        fixed, spread = best
        return (fixed + (random.uniform(0, spread) if spread else 0)) / 1000.0
