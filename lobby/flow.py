"""auto_advance: phases end by themselves, at their deadline or when everyone is done.

`advance` makes exactly the transitions the host would (show-question and
mix-answers, calculate-scores, reveal-scoreboard, start-round or finish), so
the rules and events are the same either way. Both the timer task and the
"everyone has submitted" check run it inside the transaction that holds the
session's row lock, after checking that the phase they were meant for is
still the current one: whichever of host, timer or last submission comes
first makes the transition, the others find the phase moved on and do nothing.
"""

from __future__ import annotations

import logging

from django.db import transaction

from . import services, timers
from .errors import GameError
from .models import GameSession, Phase
from .publish import publish

logger = logging.getLogger("lobby.flow")

# A task that arrives this early (clock drift between machines) waits again.
EARLY_MS = 50


def advance(session: GameSession) -> services.Outcome:
    """End the current phase as its deadline would; the events to broadcast."""
    events: list[tuple[str, dict]] = []
    if session.phase == Phase.LIE:
        events += services.show_question(session).events
    if session.phase == Phase.QUESTION:
        events += services.mix_answers(session).events
    elif session.phase == Phase.GUESS:
        events += services.calculate_scores(session).events
    elif session.phase == Phase.SCORES:
        events += services.reveal_scoreboard(session).events
    elif session.phase == Phase.SCOREBOARD:
        events += next_round_or_finish(session).events
    return services.Outcome({"phase": session.phase, "round": session.round_number}, events)


def next_round_or_finish(session: GameSession) -> services.Outcome:
    """After a scoreboard: the next round, or game over after the last one."""
    if session.round_number < session.rounds:
        try:
            return services.start_round(session)
        except GameError as exc:  # e.g. the question bank ran dry
            logger.warning(
                "session %s cannot start another round (%s): finishing", session.code, exc
            )
    return services.finish(session)


def advance_if_all_in(session: GameSession) -> list[tuple[str, dict]]:
    """With auto_advance, end the lie or guess phase once every player has submitted."""
    if not session.auto_advance or session.paused:
        return []
    game_round = services.current_round(session)
    players = session.players.count()
    if session.phase in (Phase.LIE, Phase.QUESTION):
        done = game_round.lies.count()
    elif session.phase == Phase.GUESS:
        done = game_round.guesses.count()
    else:
        return []
    return advance(session).events if done >= players else []


def on_deadline(code: str, round_number: int, stage: str, token: str) -> bool:
    """A timer task's work: advance if (round, stage, token) is still current.

    Returns True when it advanced the game. Stale, duplicate and late tasks,
    and tasks for a paused, exited or deleted session, change nothing.
    """
    with transaction.atomic():
        session = GameSession.objects.select_for_update().filter(code=code).first()
        if session is None or not timers.is_current(session, round_number, stage, token):
            logger.debug("stale %s timer of %s round %s ignored", stage, code, round_number)
            return False
        if timers.now_ms() < session.deadline_ms - EARLY_MS:
            timers.schedule(session)  # early: wait for the rest, same token
            return False
        outcome = advance(session)
    publish(session, outcome.events)
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
    ).values_list("code", "round_number", "phase", "timer_token")
    advanced = []
    for code, round_number, phase, token in overdue:
        stage = timers.stage_of(phase)
        if stage is None:
            continue
        try:
            if on_deadline(code, round_number, stage, token):
                advanced.append(code)
        except Exception:  # one broken session must not stop the sweep of the others
            logger.exception("sweeping the %s timer of %s failed", stage, code)
    if advanced:
        logger.warning("advanced %d game(s) whose timer was lost: %s", len(advanced), advanced)
    return advanced
