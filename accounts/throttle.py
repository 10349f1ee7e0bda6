"""Sign-in rate limit: failed attempts counted per username and per client
address in Redis (so every server process agrees), in a fixed window.

After PARTYHUB_LOGIN_FAILURES failures for one username, or
PARTYHUB_LOGIN_ADDRESS_FAILURES from one address, within
PARTYHUB_LOGIN_WINDOW seconds, sign-in is refused (even with the right
password) until the window that began with the first failure ends. A
successful sign-in clears its username's count. Password-reset requests
count against their address, as failures do, so the form cannot be used
to flood someone's inbox. When Redis cannot be asked the attempt goes on
(logged): the limit protects accounts, it must not lock everyone out.
"""

from __future__ import annotations

import hashlib
import logging
import math

import redis
from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import ngettext

from realtime import snapshot

logger = logging.getLogger("accounts.throttle")


def client_address(request: HttpRequest) -> str:
    """The address the request came from (the proxy's, behind one)."""
    return request.META.get("REMOTE_ADDR") or "unknown"


def _counters(username: str | None, address: str) -> list[tuple[str, int]]:
    """(Redis key, limit) of each count an attempt is held to."""
    counters = [(f"partyhub:login:addr:{address}", settings.PARTYHUB_LOGIN_ADDRESS_FAILURES)]
    if username is not None:
        # Hashed: the key holds no personal data (usernames are case-insensitive here).
        digest = hashlib.sha256(username.strip().casefold().encode()).hexdigest()[:32]
        counters.append((f"partyhub:login:user:{digest}", settings.PARTYHUB_LOGIN_FAILURES))
    return counters


def _client(key: str) -> redis.Redis:
    return snapshot.client_for("", group=key)


def wait_seconds(username: str | None, address: str) -> int:
    """0 when an attempt may go on; else the seconds until one may."""
    try:
        for key, limit in _counters(username, address):
            pipe = _client(key).pipeline(transaction=False)
            pipe.get(key)
            pipe.pttl(key)
            count, ttl = pipe.execute()
            if count is not None and int(count) >= limit:
                return max(1, math.ceil(max(ttl, 0) / 1000))
    except redis.RedisError as exc:
        logger.warning("sign-in limit not checked (Redis: %s)", exc)
    return 0


def failed(username: str | None, address: str) -> None:
    """Count one failed attempt (or one password-reset request: no username)."""
    window = max(1, int(settings.PARTYHUB_LOGIN_WINDOW * 1000))
    try:
        for key, _limit in _counters(username, address):
            pipe = _client(key).pipeline(transaction=True)
            pipe.set(key, 0, px=window, nx=True)  # the window starts with the first failure
            pipe.incr(key)
            pipe.execute()
    except redis.RedisError as exc:
        logger.warning("sign-in failure not counted (Redis: %s)", exc)


def succeeded(username: str) -> None:
    """A right password: the username's count starts again (the address's stays)."""
    key = _counters(username, "")[1][0]
    try:
        _client(key).delete(key)
    except redis.RedisError as exc:
        logger.warning("sign-in count not cleared (Redis: %s)", exc)


def message(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return ngettext(
        "Too many attempts: try again in %(minutes)d minute.",
        "Too many attempts: try again in %(minutes)d minutes.",
        minutes,
    ) % {"minutes": minutes}
