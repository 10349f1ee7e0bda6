"""Pure rules of Spyster: no database, no I/O.

A round ends in exactly one of the ways in `ENDINGS`, which says who wins.
The scoring rule is stated once, in `credits`: what an ending earns and for
whom. The round's points (`score`), the `spyster.round_over` deltas, the
scoreboard and the awards (spyster.awards) are all counted from it.
spyster/README.md explains the rules to people; keep it in step.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

MIN_PLAYERS = 3
MAX_PLAYERS = 12
NAME_MAX = 40  # characters of a location's or a role's name

# Who wins a round.
SPY = "spy"
PLAYERS = "players"

# How a round ends (`how` in spyster.round_over) -> who wins.
CAUGHT = "caught"  # an accusation of the spy passed
FRAMED = "framed"  # an accusation of an innocent player passed
GUESSED = "guessed"  # the spy named the location
MISGUESSED = "misguessed"  # the spy named a wrong location
VOTED_OUT = "voted_out"  # time ran out and a strict majority named the spy
SURVIVED = "survived"  # time ran out and no strict majority named the spy
SPY_LEFT = "spy_left"  # the spy left the game mid-round: nobody scores
ENDINGS: dict[str, str] = {
    CAUGHT: PLAYERS,
    FRAMED: SPY,
    GUESSED: SPY,
    MISGUESSED: PLAYERS,
    VOTED_OUT: PLAYERS,
    SURVIVED: SPY,
    SPY_LEFT: PLAYERS,
}

# Kinds of credit an ending gives, and their points (not escalating: every
# round is worth the same, as in the table game).
SPY_GUESS = "spy_guess"  # the spy won by naming the location
SPY_FRAME = "spy_frame"  # the spy won by getting an innocent convicted
SPY_SURVIVE = "spy_survive"  # the spy won by surviving the final vote
CATCH = "catch"  # a non-spy, when the players win
ACCUSER_BONUS = "accuser_bonus"  # who started the accusation that caught the spy
POINTS: dict[str, int] = {
    SPY_GUESS: 400,
    SPY_FRAME: 400,
    SPY_SURVIVE: 200,
    CATCH: 100,
    ACCUSER_BONUS: 100,
}
SPY_CREDIT = {GUESSED: SPY_GUESS, FRAMED: SPY_FRAME, SURVIVED: SPY_SURVIVE}

# Results of an accusation's vote.
PASSED = "passed"  # every voter said yes: the accused is revealed
REJECTED = "rejected"  # someone said no
TIMED_OUT = "timed_out"  # the vote's time ran out before everyone said yes
CANCELLED = "cancelled"  # the accused left the game


@dataclass(frozen=True)
class Outcome:
    """How one round ended, as the scoring rule reads it.

    `non_spy_ids`: the players dealt a role who are still in the game.
    `accuser_id`: who started the accusation that ended the round, if one did.
    """

    how: str
    spy_id: int
    non_spy_ids: tuple[int, ...]
    accuser_id: int | None = None

    @property
    def winner(self) -> str:
        return ENDINGS[self.how]


@dataclass(frozen=True)
class Credit:
    """One thing an ending earns: `player_id` earns a `kind`."""

    player_id: int
    kind: str


def credits(outcome: Outcome) -> list[Credit]:
    """The scoring rule.

    The spy wins 400 for naming the location or getting an innocent
    convicted, 200 for surviving the final vote. When the players win, every
    non-spy scores 100, and whoever started an accusation that caught the
    spy scores 100 more. A round whose spy left scores nothing.
    """
    if outcome.how == SPY_LEFT:
        return []
    if outcome.winner == SPY:
        return [Credit(outcome.spy_id, SPY_CREDIT[outcome.how])]
    won = [Credit(pid, CATCH) for pid in outcome.non_spy_ids]
    if outcome.how == CAUGHT and outcome.accuser_id is not None:
        won.append(Credit(outcome.accuser_id, ACCUSER_BONUS))
    return won


def score(outcome: Outcome) -> dict[int, int]:
    """Points won in the round, by player id (players with nothing are absent)."""
    won: dict[int, int] = {}
    for credit in credits(outcome):
        won[credit.player_id] = won.get(credit.player_id, 0) + POINTS[credit.kind]
    return won


def accusation_result(votes: Mapping[int, bool], voter_ids: Iterable[int]) -> str | None:
    """PASSED once every voter said yes, REJECTED at the first no, else None
    (still open). `votes` maps voter id to yes/no; others have not voted."""
    if any(agree is False for agree in votes.values()):
        return REJECTED
    if all(votes.get(pid) is True for pid in voter_ids):
        return PASSED
    return None


def final_vote_catches(suspects: Mapping[int, int], spy_id: int, player_count: int) -> bool:
    """Whether a strict majority of the `player_count` players named the spy.

    `suspects` maps voter id to the player they named; a player who did not
    vote counts as not naming the spy.
    """
    against = sum(1 for suspect in suspects.values() if suspect == spy_id)
    return 2 * against > player_count


def deal_roles(roles: list[str], player_ids: list[int]) -> dict[int, str]:
    """Give each player a role of the (already shuffled) list, in turn; with
    more players than roles, the list starts over (roles are shared)."""
    if not roles:
        raise ValueError("a location needs at least one role")
    return {pid: roles[i % len(roles)] for i, pid in enumerate(player_ids)}


def normalize(name: str) -> str:
    """Compare form of a location name: case-folded, spaces squeezed."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())
