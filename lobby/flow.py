"""Deadlines: a phase ends by itself when its countdown runs out (with auto_advance).

What happens is the phase's `on_deadline` in its game's phase table
(lobby.phases): the same transitions the host or the players would cause, so
the rules and events are the same either way. The timer task (lobby.tasks)
runs it inside the transaction that holds the session's row lock, after
checking that the phase it was meant for is still the current one: whichever
of host, timer or last submission comes first makes the transition, the
others find the phase moved on and do nothing.
"""

from __future__ import annotations

import logging

from django.db import transaction

from . import outbox, phases, registry, timers
from .context import Context
from .models import GameSession
from .publish import publish

logger = logging.getLogger("lobby.flow")

# A task that arrives this early (clock drift between machines) waits again.
EARLY_MS = 50


def on_deadline(code: str, round_number: int, stage: str, token: str) -> bool:
    """A timer task's work: advance if (round, stage, token) is still current.

    Returns True when it advanced the game. Stale, duplicate and late tasks,
    and tasks for a paused, exited or deleted session, change nothing.
    """
    with transaction.atomic():
        session = GameSession.objects.select_for_update().filter(code=code).first()
        if session is None:
            return False
        driver = registry.of(session)
        current = phases.stage_of(driver, session)
        if not timers.is_current(session, round_number, stage, token, current):
            logger.debug("stale %s timer of %s round %s ignored", stage, code, round_number)
            return False
        if timers.now_ms() < session.deadline_ms - EARLY_MS:
            timers.schedule(session, current)  # early: wait for the rest, same token
            return False
        ctx = Context(session, driver)
        phases.spec(driver, session.phase).on_deadline(ctx)
        outcome = ctx.outcome(200, {"phase": session.phase, "round": session.round_number})
        rows = outbox.record(session, outcome)
        session.save()
    publish(session, rows)
    return True


def sweep_overdue(grace_ms: int) -> list[str]:
    """End every countdown more than `grace_ms` past its deadline; the codes advanced.

    The safety net for lost timer tasks (broker down when the phase began, a
    worker killed while holding the task): Celery beat runs it every few
    seconds. Each overdue session goes through `on_deadline` with its current
    (round, stage, token), so a timer that is merely late still finds the phase
    moved on and does nothing, and the host still wins a race.
    """
    cutoff = timers.now_ms() - max(0, int(grace_ms))
    overdue = GameSession.objects.filter(
        auto_advance=True, paused=False, closed=False, deadline_ms__lt=cutoff
    )
    advanced = []
    for session in overdue.only("code", "game", "round_number", "phase", "timer_token"):
        try:
            stage = phases.stage_of(registry.of(session), session)
            if stage is None:
                continue
            if on_deadline(session.code, session.round_number, stage, session.timer_token):
                advanced.append(session.code)
        except Exception:  # one broken session must not stop the sweep of the others
            logger.exception("sweeping the timer of %s failed", session.code)
    if advanced:
        logger.warning("advanced %d game(s) whose timer was lost: %s", len(advanced), advanced)
    return advanced
