"""Host controls: pause, resume, exit. There is no skip: phases change only by the rules."""

from __future__ import annotations

from realtime import protocol

from . import lifecycle, timers
from .errors import conflict
from .models import GameSession, Phase
from .services import Outcome, require_phase

# Phases in which a round runs; in the lobby or after the game there is nothing to pause.
PAUSABLE = (Phase.LIE, Phase.QUESTION, Phase.GUESS, Phase.SCORES, Phase.SCOREBOARD)


def pause(session: GameSession) -> Outcome:
    """Freeze the countdown; every action but resume (and exit) is refused meanwhile."""
    if session.paused:
        raise conflict("PAUSED", "The game is already paused.")
    require_phase(session, *PAUSABLE)
    remaining = timers.pause(session)
    session.save(update_fields=["updated_at", *timers.FIELDS])
    payload = {"round": session.round_number, "phase": session.phase, "remaining_ms": remaining}
    return _outcome(session, protocol.PAUSED, payload)


def resume(session: GameSession) -> Outcome:
    """Run the countdown on with the time that was left when it was paused."""
    if not session.paused:
        raise conflict("NOT_PAUSED", "The game is not paused.")
    remaining = session.remaining_ms
    timers.resume(session)
    session.save(update_fields=["updated_at", *timers.FIELDS])
    payload = {
        "round": session.round_number,
        "phase": session.phase,
        "remaining_ms": remaining,
        "deadline": session.deadline_ms,
    }
    return _outcome(session, protocol.RESUMED, payload)


def exit_session(session: GameSession) -> Outcome:
    """End the session at once: session.closed to everyone, then every socket closes (4000).

    Works in any phase, paused or not. The REST API answers 410 until the
    purge deletes the session a grace period later, then 404.
    """
    lifecycle.end_session(session, closed=True)
    session.save(update_fields=["updated_at", "ended_at", "closed", *timers.FIELDS])
    outcome = _outcome(session, protocol.SESSION_CLOSED, {"reason": "exited"})
    outcome.body["closed"] = True
    outcome.close_code = protocol.CLOSE_SESSION_CLOSED
    return outcome


def _outcome(session: GameSession, event_type: str, payload: dict) -> Outcome:
    body = {
        "phase": session.phase,
        "round": session.round_number,
        "paused": session.paused,
        "event": event_type,
    }
    return Outcome(body, [(event_type, payload)])
