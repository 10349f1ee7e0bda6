"""Who a WebSocket belongs to, and the state it is sent: sync DB helpers."""

from __future__ import annotations

from .errors import GameError
from .models import GameSession
from .services import HOST, PLAYER, authenticate, session_state

NOT_FOUND = object()
FORBIDDEN = object()
CLOSED = object()
__all__ = [
    "HOST",
    "PLAYER",
    "NOT_FOUND",
    "FORBIDDEN",
    "CLOSED",
    "identify_socket",
    "state_payload",
]


def identify_socket(code: str, role: str, token: str):
    """(role, player_id) for a socket's query, or NOT_FOUND / FORBIDDEN / CLOSED."""
    session = GameSession.objects.filter(code=code).first()
    if session is None:
        return NOT_FOUND
    if session.closed:
        return CLOSED
    if role not in (HOST, PLAYER):
        return FORBIDDEN
    try:
        actor = authenticate(session, token)
    except GameError:
        return FORBIDDEN
    if actor.role != role:
        return FORBIDDEN
    return actor.role, (actor.player.id if actor.player else None)


def state_payload(code: str) -> dict:
    """The current `session.state` payload of a session."""
    return session_state(GameSession.objects.get(code=code))
