"""The platform's events: every game sends these, with these payload fields.

Declared to the transport (realtime.protocol) as shared by every game when
the platform starts (lobby.apps). `deadline` and `reveal_at` fields are
server time in epoch milliseconds.
"""

from __future__ import annotations

from realtime import protocol

PLAYER_JOINED = "player.joined"
PLAYER_LEFT = "player.left"
PAUSED = "phase.paused"
RESUMED = "phase.resumed"
SCOREBOARD = "phase.scoreboard"
GAME_OVER = "phase.game_over"
SESSION_CLOSED = "session.closed"
# Not state (no seq): everyone in the session sees it (lobby.reactions).
REACTION = "reaction"

# phase.scoreboard also carries `rounds`, `final_round` and `deadline` (null
# unless auto_advance); phase.game_over carries `round` and `awards`.
FIELDS: dict[str, tuple[str, ...]] = {
    PLAYER_JOINED: ("player_id", "name", "players"),
    PLAYER_LEFT: ("player_id", "name", "players"),
    PAUSED: ("round", "phase", "remaining_ms"),
    RESUMED: ("round", "phase", "remaining_ms", "deadline"),
    SCOREBOARD: ("round", "ranking"),
    GAME_OVER: ("ranking",),
    SESSION_CLOSED: ("reason",),
}


def declare() -> None:
    """Declare the platform's events to the transport (idempotent)."""
    for event_type, fields in FIELDS.items():
        protocol.declare_event(protocol.SHARED_OWNER, event_type, fields)
