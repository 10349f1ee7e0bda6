"""A session's whole phase table: the platform's phases around the game's own.

lobby -> (the game's phases, once per round) -> scoreboard -> ... -> finished.
One table per game answers which phases exist, which have a deadline, which
the host may pause, and what happens when a deadline passes.
"""

from __future__ import annotations

from functools import cache

from . import rounds
from .driver import GameDriver, Phase
from .models import GameSession


@cache
def table(driver: GameDriver) -> dict[str, Phase]:
    """Every phase of `driver`'s sessions, in the order a game goes through them."""
    rows = (rounds.LOBBY_PHASE, *driver.phases, rounds.SCOREBOARD_PHASE, rounds.FINISHED_PHASE)
    return {row.name: row for row in rows}


def spec(driver: GameDriver, name: str) -> Phase:
    """The row of phase `name`; ValueError if the game has no such phase."""
    try:
        return table(driver)[name]
    except KeyError:
        raise ValueError(f"game {driver.name!r} has no phase {name!r}") from None


def stage_of(driver: GameDriver, session: GameSession) -> str | None:
    """The timer stage of the session's phase (None: it has no deadline)."""
    row = table(driver).get(session.phase)
    return row.timer_stage if row is not None and row.timed else None
