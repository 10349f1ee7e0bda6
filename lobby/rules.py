"""Pure platform rules: session codes, tokens, player names, rankings. No I/O."""

from __future__ import annotations

import secrets

from .errors import bad_request

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I or O: they read like 1 and 0
NAME_MAX = 20


def new_code() -> str:
    """A random 4-letter session code."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(4))


def is_code(code: str) -> bool:
    """True for a well-formed session code (any case)."""
    return len(code) == 4 and all(ch in CODE_ALPHABET for ch in code.upper())


def new_token() -> str:
    """A 192-bit random token, URL-safe (no '+', '/' or '=')."""
    return secrets.token_urlsafe(24)


def clean_name(name: str) -> str:
    """Trim a display name and squeeze inner whitespace."""
    return " ".join(name.split())


def check_name(name) -> tuple[str, str]:
    """The one check of a player's display name, for every game.

    Returns (name as shown, key that must be unique in the session); raises
    GameError 400 for anything else than 1..NAME_MAX characters of text.
    """
    if not isinstance(name, str):
        raise bad_request("INVALID_FIELD", "'name' must be a string.")
    name = clean_name(name)
    if not 1 <= len(name) <= NAME_MAX:
        raise bad_request("INVALID_NAME", f"A name has 1 to {NAME_MAX} characters.")
    return name, name.casefold()


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
