"""Failed sign-ins per username: a guesser spread over many addresses still
meets a limit (the HTTP rate limit, `account` in lobby.ratelimit, holds each
address to a few sign-in attempts).

After PARTYHUB_LOGIN_FAILURES failures for one username within
PARTYHUB_LOGIN_WINDOW seconds, signing in as them is refused (even with the
right password) until the window that began with the first failure ends; a
successful sign-in starts the count again. The count is a Redis key (on the
channel layer's hosts), so every server process agrees; its name holds a
hash of the username, not the username. A fixed window, unlike the rate
limits' bucket, because only failures count and the question is "how many
so far". When Redis cannot be asked the attempt goes on (logged): the limit
protects accounts, it must not lock everyone out.
"""

from __future__ import annotations

import hashlib
import logging
import math

import redis
from django.conf import settings
from django.utils.translation import ngettext

from realtime import keys, snapshot

logger = logging.getLogger("accounts.throttle")


def key(username: str) -> str:
    """The count's key (usernames compared as Django's ModelBackend does not:
    case and spaces folded, so "Ana" and " ana" share one count)."""
    digest = hashlib.sha256(username.strip().casefold().encode()).hexdigest()[:32]
    return f"{keys.KEY_LOGIN_USER}{digest}"


def wait_seconds(username: str) -> int:
    """0 when signing in as `username` may be tried; else the seconds until it may."""
    name = key(username)
    try:
        pipe = snapshot.client_for_key(name).pipeline(transaction=False)
        pipe.get(name)
        pipe.pttl(name)
        count, ttl = pipe.execute()
    except redis.RedisError as exc:
        logger.warning("sign-in limit not checked (Redis: %s)", exc)
        return 0
    if count is None or int(count) < settings.PARTYHUB_LOGIN_FAILURES:
        return 0
    return max(1, math.ceil(max(ttl, 0) / 1000))


def failed(username: str) -> None:
    """Count one failed sign-in as `username`."""
    name = key(username)
    window = max(1, int(settings.PARTYHUB_LOGIN_WINDOW * 1000))
    try:
        pipe = snapshot.client_for_key(name).pipeline(transaction=True)
        pipe.set(name, 0, px=window, nx=True)  # the window starts with the first failure
        pipe.incr(name)
        pipe.execute()
    except redis.RedisError as exc:
        logger.warning("sign-in failure not counted (Redis: %s)", exc)


def succeeded(username: str) -> None:
    """The right password: the count starts again."""
    name = key(username)
    try:
        snapshot.client_for_key(name).delete(name)
    except redis.RedisError as exc:
        logger.warning("sign-in count not cleared (Redis: %s)", exc)


def message(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return ngettext(
        "Too many failed attempts for this account: try again in %(minutes)d minute.",
        "Too many failed attempts for this account: try again in %(minutes)d minutes.",
        minutes,
    ) % {"minutes": minutes}
