"""Pure platform rules: session codes, tokens, player names, rankings. No I/O."""

from __future__ import annotations

import secrets

from django.utils.translation import gettext, gettext_lazy

from . import text
from .errors import bad_request

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I or O: they read like 1 and 0
NAME_MAX = 20  # user-perceived characters
# Translators: the subject of "%(what)s contains invisible characters." and the like.
NAME = text.TextRule("name", "INVALID_NAME", gettext_lazy("A name"), NAME_MAX)
# Player.name_key holds the confusable key of a name of NAME.max_code_points.
NAME_KEY_MAX = NAME.max_code_points * 4


def new_code() -> str:
    """A random 4-letter session code."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(4))


def is_code(code: str) -> bool:
    """True for a well-formed session code (any case)."""
    return len(code) == 4 and all(ch in CODE_ALPHABET for ch in code.upper())


def new_token() -> str:
    """A 192-bit random token, URL-safe (no '+', '/' or '=')."""
    return secrets.token_urlsafe(24)


def check_name(name) -> tuple[str, str]:
    """The one check of a player's display name, for every game (lobby.text).

    Returns (name as shown, key that must be unique in the session: names
    players could mistake for each other share it); raises GameError 400.
    """
    name = text.clean(name, NAME)
    key = text.confusable_key(name)
    if len(key) > NAME_KEY_MAX:
        raise bad_request("INVALID_NAME", gettext("A name is too long."))
    return name, key


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
