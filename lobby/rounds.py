"""Rounds, the scoreboard between them, and game over: the same for every game.

A game plays `settings["rounds"]` rounds. The host's `start-round` (or the
scoreboard's deadline, with auto_advance) counts the next round and hands it
to the game (GameDriver.start_round); the game ends its round with
`ctx.show_scoreboard()`; after the last round, `finish` (or the scoreboard's
deadline) ends the game with the final ranking and the awards.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from . import awards, events, lifecycle, services
from .driver import Phase
from .errors import GameError, conflict
from .models import FINISHED, LOBBY, SCOREBOARD

if TYPE_CHECKING:
    from .context import Context

logger = logging.getLogger("lobby.rounds")


def start_round(ctx: Context) -> None:
    """Lobby or scoreboard -> the game's first phase of the next round."""
    session, driver = ctx.session, ctx.driver
    services.require_phase(session, LOBBY, SCOREBOARD)
    if len(ctx.players()) < driver.min_players:
        message = _("At least %(least)s players must join.") % {"least": driver.min_players}
        raise conflict("NOT_ENOUGH_PLAYERS", message)
    if session.round_number >= session.rounds:
        raise conflict("NO_MORE_ROUNDS", _("That was the last round: finish the game."))
    session.round_number += 1
    driver.start_round(ctx)


def show_scoreboard(ctx: Context) -> None:
    """The round is over: the ranking after it (phase.scoreboard).

    With auto_advance the scoreboard stays PARTYHUB_SCOREBOARD_PAUSE seconds,
    then the next round starts (or the game ends after the last one).
    """
    session = ctx.session
    pause_ms = int(settings.PARTYHUB_SCOREBOARD_PAUSE * 1000) if session.auto_advance else None
    ctx.enter(SCOREBOARD, pause_ms)
    payload = {
        "round": session.round_number,
        "rounds": session.rounds,
        "final_round": session.round_number >= session.rounds,
        "ranking": services.ranking(session),
        "deadline": session.deadline_ms,
    }
    ctx.emit(events.SCOREBOARD, payload)


def finish(ctx: Context) -> None:
    """The game is over: the final ranking and the awards (phase.game_over)."""
    session = ctx.session
    session.phase = FINISHED
    lifecycle.end_session(session)
    payload = {
        "round": session.round_number,
        "ranking": services.ranking(session),
        "awards": awards.game_awards(session, ctx.driver),
    }
    ctx.emit(events.GAME_OVER, payload)


def next_round_or_finish(ctx: Context) -> None:
    """After a scoreboard: the next round, or game over after the last one."""
    session = ctx.session
    if session.round_number < session.rounds:
        emitted = len(ctx.events)
        try:
            with transaction.atomic():  # a refused start leaves nothing behind
                start_round(ctx)
            return
        except GameError as exc:  # e.g. the question bank ran dry
            logger.warning(
                "session %s cannot start another round (%s): finishing", session.code, exc
            )
            del ctx.events[emitted:]
            session.refresh_from_db()
    finish(ctx)


# The platform's rows of every game's phase table (lobby.phases).
LOBBY_PHASE = Phase(LOBBY, "Waiting for players", pausable=False)
SCOREBOARD_PHASE = Phase(SCOREBOARD, "Scoreboard", timed=True, on_deadline=next_round_or_finish)
FINISHED_PHASE = Phase(FINISHED, "Game over", pausable=False)
