"""Phase deadlines: when the running countdown ends, and the one task that may end it.

Every phase with a countdown has a `deadline_ms` (server time, epoch ms) and a
fresh random `timer_token`. With `auto_advance`, entering the phase schedules
a Celery task (after the transaction commits) carrying (code, round, stage,
token). The task advances the game only if all four still match: any
transition, pause or resume changes the token, so a late, duplicate or stale
task does nothing. A phase's stage comes from its game's phase table
(lobby.phases): phases that share a countdown share a stage, so entering the
next one does not restart it.

The task is looked up by name in the Celery app (`PHASE_DEADLINE_TASK`,
defined in lobby.tasks, which imports the flow, which imports this module).
"""

from __future__ import annotations

import logging
import secrets
import time

from celery import current_app
from django.db import transaction

from .models import GameSession

logger = logging.getLogger("lobby.timers")

PHASE_DEADLINE_TASK = "lobby.tasks.phase_deadline"
# The fields a countdown change touches (for save(update_fields=...)).
FIELDS = ["deadline_ms", "paused", "remaining_ms", "timer_token"]


def now_ms() -> int:
    """Server time in epoch milliseconds, the unit of every deadline."""
    return time.time_ns() // 1_000_000


def start_countdown(session: GameSession, duration_ms: int | None, stage: str = "") -> None:
    """Give the phase the session just entered a deadline `duration_ms` from now.

    None means nothing counts down. Always issues a new token, which
    invalidates every task scheduled before; with auto_advance, schedules the
    task that ends this phase (`stage`) once the caller's transaction commits.
    """
    session.timer_token = secrets.token_hex(8)
    session.paused = False
    session.remaining_ms = None
    session.deadline_ms = None if duration_ms is None else now_ms() + max(0, int(duration_ms))
    if session.auto_advance and session.deadline_ms is not None:
        schedule(session, stage)


def stop_countdown(session: GameSession) -> None:
    """No countdown any more (game over, exit): pending tasks become stale."""
    start_countdown(session, None)


def pause(session: GameSession) -> int | None:
    """Freeze the countdown; return the milliseconds left (None if none ran)."""
    remaining = None
    if session.deadline_ms is not None:
        remaining = max(0, session.deadline_ms - now_ms())
    session.timer_token = secrets.token_hex(8)
    session.deadline_ms = None
    session.paused = True
    session.remaining_ms = remaining
    return remaining


def resume(session: GameSession, stage: str) -> None:
    """Run the frozen countdown on with the time that was left."""
    start_countdown(session, session.remaining_ms, stage)


def is_current(
    session: GameSession, round_number: int, stage: str, token: str, current_stage: str | None
) -> bool:
    """True when a task scheduled for (round, stage, token) may still act.

    `current_stage` is the stage of the session's phase now (None: untimed).
    """
    return (
        session.auto_advance
        and not session.paused
        and not session.closed
        and session.deadline_ms is not None
        and session.round_number == round_number
        and current_stage == stage
        and secrets.compare_digest(session.timer_token, token)
    )


def schedule(session: GameSession, stage: str) -> None:
    """Send the timer task of the session's current countdown after commit."""
    args = (session.code, session.round_number, stage, session.timer_token)
    deadline = session.deadline_ms
    transaction.on_commit(lambda: send_timer(*args, deadline_ms=deadline))


def send_timer(code: str, round_number: int, stage: str, token: str, deadline_ms: int) -> bool:
    """Publish the task now, due at `deadline_ms`; False (logged) if the broker is down.

    A lost timer never blocks a game: the sweep (lobby.flow) ends it late,
    and the host can still advance by hand where the game allows it.
    """
    countdown = max(0.0, (deadline_ms - now_ms()) / 1000)
    try:
        task = current_app.tasks[PHASE_DEADLINE_TASK]
        task.apply_async((code, round_number, stage, token), countdown=countdown)
    except Exception as exc:  # kombu raises OperationalError, redis its own errors
        logger.error("could not schedule the %s timer of %s: %s", stage, code, exc)
        return False
    return True
