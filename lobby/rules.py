"""Pure game rules of the Weirsøe Party Protocol: no database, no I/O."""

from __future__ import annotations

import secrets
import unicodedata
from dataclasses import dataclass

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I or O: they read like 1 and 0
MIN_PLAYERS = 2
MAX_PLAYERS = 12
NAME_MAX = 20
LIE_MAX = 80
TRUTH_POINTS = 1000
FOOL_POINTS = 500

# (default, minimum, maximum) of each per-session setting.
SETTINGS = {
    "rounds": (3, 1, 20),
    "lie_time_limit": (60, 10, 600),
    "guess_time_limit": (30, 10, 300),
}


def new_code() -> str:
    """A random 4-letter session code."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(4))


def new_token() -> str:
    """A 192-bit random token, URL-safe (no '+', '/' or '=')."""
    return secrets.token_urlsafe(24)


def normalize(text: str) -> str:
    """Compare form of an answer: case-folded, without spaces or punctuation."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in text if ch.isalnum())


def clean_name(name: str) -> str:
    """Trim a display name and squeeze inner whitespace."""
    return " ".join(name.split())


def truth_points(round_number: int) -> int:
    return TRUTH_POINTS * round_number


def fool_points(round_number: int) -> int:
    return FOOL_POINTS * round_number


@dataclass(frozen=True)
class GuessOutcome:
    """One guess: who guessed, which answer, who wrote it (empty for the truth)."""

    guesser_id: int
    answer_id: int
    is_truth: bool
    author_ids: tuple[int, ...]


def score_round(round_number: int, outcomes: list[GuessOutcome]) -> dict[int, int]:
    """Points won this round, by player id (players with nothing are absent)."""
    points: dict[int, int] = {}
    for outcome in outcomes:
        if outcome.is_truth:
            points[outcome.guesser_id] = points.get(outcome.guesser_id, 0) + truth_points(
                round_number
            )
            continue
        for author in outcome.author_ids:
            if author != outcome.guesser_id:
                points[author] = points.get(author, 0) + fool_points(round_number)
    return points


def rank(players: list[tuple[int, str, int]]) -> list[dict]:
    """Standard competition ranking (1, 1, 3) of (id, name, score) by score.

    Ties keep join order (lower id first), so the ranking is deterministic.
    """
    ordered = sorted(players, key=lambda p: (-p[2], p[0]))
    ranking = []
    previous_score = None
    current_rank = 0
    for position, (player_id, name, score) in enumerate(ordered, start=1):
        if score != previous_score:
            current_rank = position
            previous_score = score
        ranking.append({"player_id": player_id, "name": name, "score": score, "rank": current_rank})
    return ranking
