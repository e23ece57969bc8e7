"""When to try a failed `url:` download again: exponential backoff with jitter.

A mirror that is down must not be asked every minute by every office server at once,
and a source that never arrived must still come as soon as the mirror is back. So each
failure doubles the wait (30 s, 1 min, 2 min ... up to 1 h by default), each wait is
shortened by a random share so that servers started together do not retry in step,
and a server's `Retry-After` is honoured when it asks for longer. Kept in memory by the
process that downloads; a success forgets the URL.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

RETRY_AFTER_CAP = 86_400.0
"""A `Retry-After` longer than this (a day) is read as a day: a misconfigured mirror must
not stop a list from ever being fetched again."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long to wait after the n-th failure in a row: initial * 2**(n-1), capped."""

    initial: float = 30.0
    maximum: float = 3600.0
    jitter: float = 0.2  # each wait is shortened by up to this share, at random

    def __post_init__(self) -> None:
        if not 0 < self.initial <= self.maximum:
            raise ValueError("RetryPolicy needs 0 < initial <= maximum")
        if not 0.0 <= self.jitter < 1.0:
            raise ValueError("RetryPolicy.jitter must be in [0, 1)")

    def delay(self, failures: int, rng: random.Random) -> float:
        """Seconds to wait after `failures` failures in a row (at least 1)."""
        exponent = min(max(failures, 1) - 1, 62)  # 2**62 s is far past any maximum
        full = min(self.initial * 2.0 ** exponent, self.maximum)
        return full * (1.0 - self.jitter * rng.random())


@dataclass(frozen=True, slots=True)
class Attempts:
    """A URL's failures in a row and when it may be tried next."""

    failures: int
    next_at: float          # epoch seconds
    last_error: str | None  # None: not tried yet (scheduled only)


class RetrySchedule:
    """Per URL: failures in a row and the time of the next attempt."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng if rng is not None else random.Random()
        self._urls: dict[str, Attempts] = {}

    def due(self, url: str, now: float) -> bool:
        """Whether `url` may be tried now (a URL never failed always may)."""
        found = self._urls.get(url)
        return found is None or now >= found.next_at

    def attempts(self, url: str) -> Attempts | None:
        return self._urls.get(url)

    def failed(self, url: str, now: float, error: str, policy: RetryPolicy,
               retry_after: float | None = None) -> Attempts:
        """Record a failure; the next attempt is after the backoff or the server's
        Retry-After (at most a day), whichever is later."""
        before = self._urls.get(url)
        failures = (before.failures if before is not None else 0) + 1
        wait = policy.delay(failures, self._rng)
        if retry_after is not None and retry_after > 0:
            wait = max(wait, min(retry_after, RETRY_AFTER_CAP))
        found = Attempts(failures, now + wait, error)
        self._urls[url] = found
        return found

    def succeeded(self, url: str) -> None:
        self._urls.pop(url, None)

    def soon(self, url: str, at: float) -> None:
        """Try `url` at `at` unless it already has a time (a source missing at start-up
        that was not tried yet)."""
        self._urls.setdefault(url, Attempts(0, at, None))

    def keep_only(self, urls: set[str]) -> None:
        """Forget URLs no list names any more."""
        for url in [u for u in self._urls if u not in urls]:
            del self._urls[url]

    def next_due(self) -> float | None:
        """The earliest next attempt, or None when nothing waits."""
        return min((a.next_at for a in self._urls.values()), default=None)
