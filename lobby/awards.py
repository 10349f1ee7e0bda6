"""Awards of phase.game_over: a game's awards table, its counts, one tie rule.

A game lists its awards (lobby.driver.Award) and counts them
(GameDriver.award_counts); the platform counts its own (CROWD_FAVOURITE,
from the reactions each player received, lobby.reactions) and picks the
winners the same way for every game:

Ties: every player with the top count wins, listed in join order; a count of
0 wins nothing (`winners` is empty). Players who left are not counted.
"""

from __future__ import annotations

from django.utils.translation import gettext_noop

from .driver import Award, GameDriver
from .models import GameSession

CROWD_FAVOURITE = Award(
    "crowd_favourite",
    gettext_noop("Crowd favourite"),
    gettext_noop("Most reactions received from the other players."),
)


def platform_counts(session: GameSession) -> dict[str, dict[int, int]]:
    """The counts of the platform's own awards, per player id."""
    received = session.players.active().values_list("id", "reactions_received")
    return {CROWD_FAVOURITE.id: dict(received)}


def pick_awards(
    table: tuple[Award, ...], counts: dict[str, dict[int, int]], names: dict[int, str]
) -> list[dict]:
    """The awards list: one entry per award of `table`, winners by the tie rule.

    `names` maps player id to name in join order (ids grow with joins).
    """
    awards = []
    for award in table:
        per_player = {p: n for p, n in counts.get(award.id, {}).items() if p in names}
        best = max(per_player.values(), default=0)
        winners = [
            {"player_id": pid, "name": names[pid]}
            for pid in sorted(per_player)
            if best > 0 and per_player[pid] == best
        ]
        awards.append({"award": award.id, "title": award.title, "count": best, "winners": winners})
    return awards


def game_awards(session: GameSession, driver: GameDriver) -> list[dict]:
    """The `awards` of the session's phase.game_over."""
    names = dict(session.players.active().order_by("id").values_list("id", "name"))
    counts = {**driver.award_counts(session), **platform_counts(session)}
    return pick_awards(driver.awards, counts, names)
