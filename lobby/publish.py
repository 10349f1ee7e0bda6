"""After an action's transaction commits: broadcast its events, keep Redis in step.

Used by the REST views and by the timer tasks, so both leave the same trace:
events in order, the `session.state` snapshot WebSocket servers read, the
key lifetimes of an ended session, and (on exit) every socket closed.
"""

from __future__ import annotations

import logging

import redis
from django.conf import settings

from realtime import session_keys
from realtime.broadcast import (
    BroadcastError,
    sync_broadcast_phase_event,
    sync_close_session_sockets,
)

from . import services
from .models import GameSession

logger = logging.getLogger("lobby.publish")

# Clients get this much only; the cause (Redis' address, its error) is logged.
UNTOLD = "The change is saved but live players were not told."
# Redis keys of an ended session outlive the grace period by this much (the
# purge deletes them anyway).
KEY_MARGIN = 3600


def publish(
    session: GameSession,
    events: list[tuple[str, dict]],
    close_code: int | None = None,
    log: logging.Logger = logger,
) -> dict | None:
    """Broadcast events in order with the new state, then close sockets if asked.

    The `session.state` snapshot is stored by the broadcast of the last
    event, with its seq (realtime.broadcast), so a socket joining at any
    moment reads a state no older than the last event it did not get.

    Returns the report for a response body: {"ok": true, "seq": [...]}, or
    {"ok": false, "error": ...} (also logged to `log`) when the change was
    saved but Redis could not take it; None when there was nothing to send.
    """
    if not events and close_code is None:
        return None
    code = session.code
    report: dict = {"ok": True, "seq": []}
    for index, (event_type, payload) in enumerate(events):
        state = services.session_state(session) if index == len(events) - 1 else None
        try:
            report["seq"].append(sync_broadcast_phase_event(code, event_type, payload, state))
        except BroadcastError as exc:
            log.error("broadcast of %s to %s failed: %s", event_type, code, exc)
            return {"ok": False, "error": UNTOLD}
    if session.ended_at is not None:
        # After the snapshot write, which would set a full day's TTL again.
        try:
            ttl = int(settings.PARTYHUB_END_GRACE) + KEY_MARGIN
            session_keys.end_session(code, ttl, session.closed)
        except redis.RedisError as exc:
            log.warning("could not shorten the Redis keys of %s: %s", code, exc)
    if close_code is not None:
        try:
            sync_close_session_sockets(code, close_code)
        except BroadcastError as exc:
            log.error("closing the sockets of %s failed: %s", code, exc)
            return {"ok": False, "error": UNTOLD}
    return report
