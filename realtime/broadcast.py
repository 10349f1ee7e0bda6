"""Broadcast helpers: send a phase event to every socket of a session.

`sync_broadcast_phase_event` is for sync Django views, `broadcast_phase_event`
for async code; both return the event's `seq`. The event's JSON text is
encoded once here; the group message carries it so that each receiver
forwards the same bytes.

Two paths, same Redis data. With the C extension built and channels_redis
configured, both helpers use `realtime.layer.FastRedisLayer`: one EVALSHA
INCRs the session counter, splices the seq into the pre-encoded text and
stores the group message for every member process, so one broadcast is one
Redis round trip with no event loop, and seq order is delivery order. The
async helper runs that blocking call in a worker thread. Otherwise (no C
extension, which is logged once, or another channel layer) the channels
layer does INCR then group_send.

Given `state` (the `session.state` payload after the event), the helpers
also store the session's state text with the event's seq
(`realtime.snapshot`): on the C path in the same script as the event, so a
socket that joins the group after the event reads a state that has it;
otherwise before the group_send, so a joiner gets the newest state and at
worst the event again (clients drop seq <= the state's).
"""

from __future__ import annotations

import asyncio
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from . import layer as fast_layer
from . import protocol, snapshot

logger = logging.getLogger("realtime.broadcast")

SEQ_TTL = 7 * 24 * 3600  # a session's counter outlives any game by far

# Layers without Redis (e.g. InMemoryChannelLayer in a user's own tests) get a
# per-process counter instead of the shared Redis one.
_local_seq: dict[str, int] = {}


class BroadcastError(ConnectionError):
    """The event could not be handed to the channel layer (e.g. Redis is down)."""


async def _next_seq(layer, code: str) -> int:
    if not hasattr(layer, "connection"):
        _local_seq[code] = _local_seq.get(code, 0) + 1
        return _local_seq[code]
    group = protocol.group_name(code)
    conn = layer.connection(layer.consistent_hash(group))
    key = protocol.seq_key(code)
    async with conn.pipeline(transaction=True) as pipe:
        pipe.incr(key)
        pipe.expire(key, SEQ_TTL)
        seq, _ = await pipe.execute()
    return int(seq)


async def current_seq(code: str) -> int:
    """The seq of the last event broadcast to the session (0 if none)."""
    layer = get_channel_layer()
    if not hasattr(layer, "connection"):
        return _local_seq.get(code, 0)
    group = protocol.group_name(code)
    conn = layer.connection(layer.consistent_hash(group))
    value = await conn.get(protocol.seq_key(code))
    return int(value or 0)


def _state_arg(session_code: str, state: dict | None) -> tuple | None:
    """group_send_seq's `state` argument for the session's state payload."""
    if state is None:
        return None
    head, tail = snapshot.state_parts(state)
    keys = snapshot.state_key(session_code), snapshot.state_seq_key(session_code)
    return (*keys, head, tail, snapshot.KEY_TTL)


def _c_broadcast(fast, session_code: str, head: str, tail: str, state: tuple | None) -> int:
    """One Redis round trip: INCR the counter, store the state, group-send."""
    message = {"type": protocol.GROUP_EVENT_TYPE, "seq": 0, "text": ""}
    try:
        return fast.group_send_seq(
            protocol.group_name(session_code),
            message,
            protocol.seq_key(session_code),
            "seq",
            "text",
            head,
            tail,
            counter_ttl=SEQ_TTL,
            state=state,
        )
    except (fast_layer.RedisUnavailable, fast_layer.RedisReplyError) as exc:
        raise BroadcastError(f"channel layer unavailable: {exc}") from exc


async def broadcast_phase_event(
    session_code: str, event_type: str, payload: dict, state: dict | None = None
) -> int:
    """Send one event to group `game_<code>`; return its seq.

    With `state` (the session.state payload that includes this event), the
    state text is stored with the event's seq no later than the event is
    sent. Raises BroadcastError when the channel layer cannot take it.
    """
    head, tail = protocol.encode_event_parts(event_type, payload)
    fast = fast_layer.get_layer()
    if fast is not None:
        stored = _state_arg(session_code, state)
        # Blocking C call: keep it off the event loop.
        return await asyncio.to_thread(_c_broadcast, fast, session_code, head, tail, stored)
    layer = get_channel_layer()
    try:
        seq = await _next_seq(layer, session_code)
        if state is not None:
            # Before the send: a socket that joins in between reads this
            # state and gets the event at worst twice. A failure is logged.
            await asyncio.to_thread(snapshot.store_state, session_code, seq, state)
        message = {"type": protocol.GROUP_EVENT_TYPE, "seq": seq, "text": f"{head}{seq}{tail}"}
        await layer.group_send(protocol.group_name(session_code), message)
    except (OSError, ConnectionError) as exc:
        raise BroadcastError(f"channel layer unavailable: {exc}") from exc
    except Exception as exc:  # redis-py raises its own RedisError tree
        if type(exc).__module__.startswith("redis"):
            raise BroadcastError(f"channel layer unavailable: {exc}") from exc
        raise
    return seq


def sync_broadcast_phase_event(
    session_code: str, event_type: str, payload: dict, state: dict | None = None
) -> int:
    """Sync twin of `broadcast_phase_event` for Django views.

    With the C layer: one blocking Redis round trip, no event loop; raises
    BroadcastError within the connect/read timeouts when Redis is down.
    """
    fast = fast_layer.get_layer()
    if fast is not None:
        head, tail = protocol.encode_event_parts(event_type, payload)
        return _c_broadcast(fast, session_code, head, tail, _state_arg(session_code, state))
    return async_to_sync(broadcast_phase_event)(session_code, event_type, payload, state)


# --- messages without seq (additive; the phase-event path above is unchanged) ---


async def _group_send(session_code: str, message: dict) -> None:
    try:
        await get_channel_layer().group_send(protocol.group_name(session_code), message)
    except (OSError, ConnectionError) as exc:
        raise BroadcastError(f"channel layer unavailable: {exc}") from exc
    except Exception as exc:  # redis-py raises its own RedisError tree
        if type(exc).__module__.startswith("redis"):
            raise BroadcastError(f"channel layer unavailable: {exc}") from exc
        raise


async def broadcast_text(session_code: str, text: str) -> None:
    """Send ready-encoded JSON that is not state (e.g. a reaction): no seq is taken.

    Travels as {"type": "game.event", "text": text}; receivers forward `text`.
    """
    await _group_send(session_code, {"type": protocol.GROUP_EVENT_TYPE, "text": text})


async def close_session_sockets(
    session_code: str, code: int = protocol.CLOSE_SESSION_CLOSED
) -> None:
    """Close every socket of the session, on every server, with `code`."""
    await _group_send(session_code, {"type": protocol.GROUP_CLOSE_TYPE, "code": code})


def sync_close_session_sockets(
    session_code: str, code: int = protocol.CLOSE_SESSION_CLOSED
) -> None:
    """Sync twin of `close_session_sockets`."""
    async_to_sync(close_session_sockets)(session_code, code)
