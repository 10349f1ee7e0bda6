"""The platform's events: every game sends these, with these payload fields.

Declared to the transport (realtime.protocol) as shared by every game when
the platform starts (lobby.apps). `deadline` and `reveal_at` fields are
server time in epoch milliseconds. The field tables here are the one typed
source of these messages: the transport checks payloads against them and
the contracts (lobby.contracts) are generated from them. The shapes games
reuse (a player, a ranking row, ...) are here too.
"""

from __future__ import annotations

from realtime import protocol
from realtime.schema import (
    Field,
    Message,
    any_value,
    array,
    boolean,
    const,
    enum,
    integer,
    map_of,
    nullable,
    obj,
    string,
)

PLAYER_JOINED = "player.joined"
PLAYER_LEFT = "player.left"
PAUSED = "phase.paused"
RESUMED = "phase.resumed"
SCOREBOARD = "phase.scoreboard"
GAME_OVER = "phase.game_over"
SESSION_CLOSED = "session.closed"
# Not state (no seq): everyone in the session sees it (lobby.reactions).
REACTION = "reaction"

# --- shapes ---------------------------------------------------------------------------

PLAYER_ID = integer(1)
ROUND = Field("round", integer(0), doc="0 before the first round")
DEADLINE = Field(
    "deadline", nullable(integer()), doc="epoch ms when the countdown ends; null if none"
)
TIME_LIMIT = Field("time_limit", integer(0), doc="seconds")
WHO = obj(Field("player_id", PLAYER_ID), Field("name", string()), title="PlayerRef")
PLAYER = obj(
    Field("player_id", PLAYER_ID),
    Field("name", string()),
    Field("score", integer()),
    title="PlayerScore",
)
RANK = obj(
    Field("player_id", PLAYER_ID),
    Field("name", string()),
    Field("score", integer()),
    Field("rank", integer(1), doc="standard competition ranking: 1, 1, 3"),
    title="RankRow",
)
# A player's points in one step or round, and the running score after it.
SCORE_DELTA = obj(
    Field("player_id", PLAYER_ID),
    Field("name", string()),
    Field("delta", integer()),
    Field("score", integer()),
    title="ScoreDelta",
)
AWARD = obj(
    Field("award", string(), doc="the award's id"),
    Field("title", string()),
    Field("count", integer(0), doc="the top count"),
    Field("winners", array(WHO), doc="every player with the top count; none when it is 0"),
    title="Award",
)
PLAYERS = Field("players", array(PLAYER), doc="the players still in, in join order")
RANKING = Field("ranking", array(RANK))
AWARDS = Field("awards", array(AWARD), doc="one per award of the game's table, in its order")
PHASE = Field("phase", string(), doc="the phase (the game's phase table)")

# --- the platform's events ---------------------------------------------------------------

FIELDS: dict[str, tuple[Field, ...]] = {
    PLAYER_JOINED: (Field("player_id", PLAYER_ID), Field("name", string()), PLAYERS),
    PLAYER_LEFT: (Field("player_id", PLAYER_ID), Field("name", string()), PLAYERS),
    PAUSED: (
        ROUND,
        PHASE,
        Field("remaining_ms", nullable(integer(0)), doc="time left; null if none counted down"),
    ),
    RESUMED: (
        ROUND,
        PHASE,
        Field("remaining_ms", nullable(integer(0)), doc="as when paused"),
        DEADLINE,
    ),
    SCOREBOARD: (
        ROUND,
        Field("rounds", integer(1)),
        Field("final_round", boolean()),
        RANKING,
        Field("deadline", nullable(integer()), doc="next round or game over; null by hand"),
    ),
    GAME_OVER: (ROUND, Field("ranking", array(RANK), doc="final"), AWARDS),
    SESSION_CLOSED: (Field("reason", enum("exited")),),
}

# When each is sent (docs/protocol.md's "sent after" column).
AFTER = {
    PLAYER_JOINED: "a player joins",
    PLAYER_LEFT: "a player leaves (`leave`); the leaver's sockets then close with 4001",
    PAUSED: "`pause`",
    RESUMED: "`resume`",
    SCOREBOARD: "the game ends a round",
    GAME_OVER: "`finish`, the scoreboard's deadline after the last round, "
    "or a leave below the game's minimum",
    SESSION_CLOSED: "`exit`; every socket of the session then closes with 4000",
}

# The platform's fields of every `session.state` payload (lobby.services);
# the game's own (GameDriver.public_state) come after them.
STATE_FIELDS: tuple[Field, ...] = (
    Field("code", string(), doc="the session code"),
    Field("game", string(), doc="the game the session plays"),
    PHASE,
    ROUND,
    Field("rounds", integer(1)),
    Field("settings", map_of(any_value()), doc="its settings table's values and options"),
    DEADLINE,
    Field("paused", boolean()),
    Field("remaining_ms", nullable(integer(0)), doc="time left while paused, else null"),
    PLAYERS,
    Field("ranking", nullable(array(RANK)), doc="in scoreboard and finished, else null"),
    Field("awards", array(AWARD), required=False, doc="in finished only"),
)

REACTION_MESSAGE = Message(
    REACTION,
    protocol.SHARED_OWNER,
    protocol.SEND,
    fields=(
        Field("player_id", PLAYER_ID, doc="who reacted"),
        Field("emoji", string()),
        Field("targets", array(PLAYER_ID), doc="whom it was counted for (often none)"),
    ),
    doc="A player's reaction, to everyone in the session (the sender too); no seq.",
    after="a `reaction` client message",
)


def declare() -> None:
    """Declare the platform's events to the transport (idempotent)."""
    for event_type, fields in FIELDS.items():
        protocol.declare_event(protocol.SHARED_OWNER, event_type, fields, after=AFTER[event_type])
    protocol.declare_message(REACTION_MESSAGE)
    protocol.declare_state_fields(STATE_FIELDS)


def state_fields(game: str, public: tuple[Field, ...]) -> tuple[Field, ...]:
    """A game's fields of `session.state`, beside the platform's (STATE_FIELDS):
    its name as `game`, which tells the games' states apart, then its own."""
    return (Field("game", const(game), doc="the game the session plays"), *public)
