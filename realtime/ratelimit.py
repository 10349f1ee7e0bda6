"""Per-socket client message rate: the token bucket the C sidecar uses
(csrc/sidecar/conn.c ph_rate_take), for GameConsumer on Daphne.

Settings (shared with the sidecar, `PARTYHUB_SIDECAR`): `msg_rate` messages
per second refill a bucket of `msg_burst`; a message finding it empty is
refused (RATE_LIMITED); `msg_flood` refusals since the bucket was last full
close the socket (protocol.CLOSE_FLOODING).
"""

from __future__ import annotations

import time

from .config import setting

OK, DROP, FLOOD = "ok", "drop", "flood"


class MessageBucket:
    """One socket's bucket; `take()` is O(1)."""

    def __init__(self, rate: float, burst: int, flood: int) -> None:
        self.rate, self.burst, self.flood = float(rate), int(burst), int(flood)
        self.tokens = float(self.burst)
        self.last = time.monotonic()
        self.drops = 0

    @classmethod
    def from_settings(cls) -> MessageBucket:
        return cls(setting("msg_rate"), setting("msg_burst"), setting("msg_flood"))

    def take(self, now: float | None = None) -> str:
        """Account for one message: OK, DROP, or FLOOD (drop and close)."""
        if self.rate <= 0:
            return OK
        now = time.monotonic() if now is None else now
        self.tokens += max(0.0, now - self.last) * self.rate
        self.last = now
        if self.tokens >= self.burst:
            self.tokens = float(self.burst)
            self.drops = 0  # calm again: the flood count restarts
        if self.tokens >= 1:
            self.tokens -= 1
            return OK
        self.drops += 1
        return FLOOD if self.drops >= self.flood else DROP
