"""Redis keys a session creates besides the channel layer's own: lifetime and limits.

The keys live on the Redis host that holds the session's group (like the seq
counter), so one connection serves them all. A channel layer without Redis
(e.g. InMemoryChannelLayer) gets per-process stand-ins.
"""

from __future__ import annotations

import time

from channels.layers import get_channel_layer

from . import protocol

_local_hits: dict[str, list[float]] = {}


def reaction_rate_key(code: str, player_id: int) -> str:
    """Redis key counting one player's recent reactions (expires with its window)."""
    return f"partyhub:react:{code}:{player_id}"


def _connection(code: str):
    layer = get_channel_layer()
    if not hasattr(layer, "connection"):
        return None
    return layer.connection(layer.consistent_hash(protocol.group_name(code)))


async def expire_session_keys(code: str, seconds: int) -> None:
    """Let the session's keys (its seq counter) expire in `seconds`."""
    conn = _connection(code)
    if conn is not None:
        await conn.expire(protocol.seq_key(code), max(1, int(seconds)))


async def delete_session_keys(code: str) -> None:
    """Delete the session's keys now (the purge)."""
    conn = _connection(code)
    if conn is not None:
        await conn.delete(protocol.seq_key(code))


async def over_rate_limit(code: str, key: str, limit: int, window: float) -> bool:
    """Count one hit on `key` of session `code`; True when beyond `limit` in the window.

    A fixed window: the first hit starts it (the key's TTL), later hits count
    until it expires.
    """
    conn = _connection(code)
    if conn is None:
        now = time.monotonic()
        hits = [t for t in _local_hits.get(key, []) if t > now - window] + [now]
        _local_hits[key] = hits
        return len(hits) > limit
    async with conn.pipeline(transaction=True) as pipe:
        # SET NX starts the window (INCR keeps the TTL); works on any Redis >= 2.6.12.
        pipe.set(key, 0, px=max(1, int(window * 1000)), nx=True)
        pipe.incr(key)
        _, count = await pipe.execute()
    return int(count) > limit
