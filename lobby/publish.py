"""Hand an action's events to the channel layer once its transaction has committed."""

from __future__ import annotations

import logging

from realtime.broadcast import (
    BroadcastError,
    sync_broadcast_phase_event,
    sync_close_session_sockets,
)

logger = logging.getLogger("lobby.publish")


def publish(
    code: str,
    events: list[tuple[str, dict]],
    close_code: int | None = None,
    log: logging.Logger = logger,
) -> dict | None:
    """Broadcast events in order, then close every socket if `close_code` is given.

    Returns the report for a response body: {"ok": true, "seq": [...]}, or
    {"ok": false, "error": ...} (also logged to `log`) when the change was
    saved but Redis could not take it; None when there was nothing to send.
    """
    if not events and close_code is None:
        return None
    report: dict = {"ok": True, "seq": []}
    what = "the close"
    try:
        for what, payload in events:
            report["seq"].append(sync_broadcast_phase_event(code, what, payload))
        if close_code is not None:
            what = "the close"
            sync_close_session_sockets(code, close_code)
    except BroadcastError as exc:
        log.error("broadcast of %s to %s failed: %s", what, code, exc)
        return {"ok": False, "error": f"The change is saved but live players were not told: {exc}"}
    return report
