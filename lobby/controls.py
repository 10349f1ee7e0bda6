"""Host controls: pause, resume, exit. There is no skip: phases change only by the rules."""

from __future__ import annotations

from django.utils.translation import gettext as _

from realtime import protocol

from . import events, lifecycle, phases, timers
from .context import Context
from .errors import conflict


def pause(ctx: Context, body: dict) -> dict:
    """Freeze the countdown; every action but resume (and exit) is refused meanwhile.

    Only in the phases the game's phase table marks pausable.
    """
    session = ctx.session
    if session.paused:
        raise conflict("PAUSED", _("The game is already paused."))
    pausable = [p.name for p in phases.table(ctx.driver).values() if p.pausable]
    ctx.require_phase(*pausable)
    remaining = timers.pause(session)
    payload = {"round": session.round_number, "phase": session.phase, "remaining_ms": remaining}
    ctx.emit(events.PAUSED, payload)
    return _body(ctx, events.PAUSED)


def resume(ctx: Context, body: dict) -> dict:
    """Run the countdown on with the time that was left when it was paused."""
    session = ctx.session
    if not session.paused:
        raise conflict("NOT_PAUSED", _("The game is not paused."))
    remaining = session.remaining_ms
    timers.resume(session, phases.spec(ctx.driver, session.phase).timer_stage)
    payload = {
        "round": session.round_number,
        "phase": session.phase,
        "remaining_ms": remaining,
        "deadline": session.deadline_ms,
    }
    ctx.emit(events.RESUMED, payload)
    return _body(ctx, events.RESUMED)


def exit_session(ctx: Context, body: dict) -> dict:
    """End the session at once: session.closed to everyone, then every socket closes (4000).

    Works in any phase, paused or not. The REST API answers 410 until the
    purge deletes the session a grace period later, then 404.
    """
    lifecycle.end_session(ctx.session, closed=True)
    ctx.emit(events.SESSION_CLOSED, {"reason": "exited"})
    ctx.close_code = protocol.CLOSE_SESSION_CLOSED
    return {**_body(ctx, events.SESSION_CLOSED), "closed": True}


def _body(ctx: Context, event_type: str) -> dict:
    session = ctx.session
    return {
        "phase": session.phase,
        "round": session.round_number,
        "paused": session.paused,
        "event": event_type,
    }
