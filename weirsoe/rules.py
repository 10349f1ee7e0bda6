"""Pure rules of the Weirsøe Party Protocol: no database, no I/O.

The scoring rule is stated once, in `credits`: what one guess earns and for
whom. The round's scores (`score_round`), each step of the reveal
(weirsoe.reveal) and the awards (weirsoe.awards) are all counted from it.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from django.utils.translation import gettext_lazy

from lobby.text import TextRule

MIN_PLAYERS = 2
MAX_PLAYERS = 12
LIE_MAX = 80  # user-perceived characters
# Translators: the subject of "%(what)s contains invisible characters." and the like.
LIE = TextRule("text", "INVALID_LIE", gettext_lazy("A lie"), LIE_MAX)
TRUTH_POINTS = 1000
FOOL_POINTS = 500

# Kinds of credit a guess gives.
TRUTH = "truth"  # the guesser found the truth
FOOL = "fool"  # an author's lie fooled the guesser
POINTS = {TRUTH: TRUTH_POINTS, FOOL: FOOL_POINTS}


def normalize(text: str) -> str:
    """Compare form of an answer: case-folded, without spaces or punctuation."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in text if ch.isalnum())


@dataclass(frozen=True)
class GuessOutcome:
    """One guess: who guessed, which answer, who wrote it (empty for the truth)."""

    guesser_id: int
    answer_id: int
    is_truth: bool
    author_ids: tuple[int, ...]


@dataclass(frozen=True)
class Credit:
    """One thing a guess earns: `player_id` earns a `kind` (TRUTH or FOOL)."""

    player_id: int
    kind: str


def credits(outcome: GuessOutcome) -> list[Credit]:
    """The scoring rule: finding the truth credits the guesser; picking a lie
    credits each of its authors (a shared lie credits every one), except a
    guesser who wrote it."""
    if outcome.is_truth:
        return [Credit(outcome.guesser_id, TRUTH)]
    return [Credit(a, FOOL) for a in outcome.author_ids if a != outcome.guesser_id]


def points(kind: str, round_number: int) -> int:
    """A credit's points: escalating, times the round number."""
    return POINTS[kind] * round_number


def score_round(round_number: int, outcomes: list[GuessOutcome]) -> dict[int, int]:
    """Points won from these guesses, by player id (players with nothing are absent)."""
    won: dict[int, int] = {}
    for outcome in outcomes:
        for credit in credits(outcome):
            won[credit.player_id] = won.get(credit.player_id, 0) + points(credit.kind, round_number)
    return won
