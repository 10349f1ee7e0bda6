"""Hunch's rules, pure: secret numbers and what a guess of their total scores."""

from __future__ import annotations

import secrets

SECRET_MIN, SECRET_MAX = 1, 9
CLOSEST_POINTS = 100  # x the round number, for the closest guess(es)
BULLSEYE_BONUS = 100  # x the round number, more for the exact total


def deal(player_ids: list[int]) -> dict[int, int]:
    """A secret number for each player."""
    return {pid: SECRET_MIN + secrets.randbelow(SECRET_MAX - SECRET_MIN + 1) for pid in player_ids}


def score(guesses: dict[int, int], total: int, round_number: int) -> dict[int, int]:
    """Points by player id: the guess(es) closest to the total score, an exact one more.

    Players who did not guess score nothing.
    """
    if not guesses:
        return {}
    best = min(abs(g - total) for g in guesses.values())
    points = {}
    for pid, guess in guesses.items():
        if abs(guess - total) == best:
            points[pid] = CLOSEST_POINTS * round_number
            if guess == total:
                points[pid] += BULLSEYE_BONUS * round_number
    return points
