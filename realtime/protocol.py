"""The WebSocket protocol: every message type, both directions, defined once.

The Python consumer, the broadcast helpers, the tests and `docs/protocol.md`
follow this module; the C sidecar implements the same contract. Server
messages are JSON objects with a string `type`; phase events add `seq` (one
counter per session, +1 per broadcast) and a `payload` object.
"""

from __future__ import annotations

import json
import time
from typing import Any

import partyhub

SERVER_VERSION = partyhub.__version__

# Server -> client.
WELCOME = "welcome"
SESSION_STATE = "session.state"
PONG = "pong"
ERROR = "error"
REACTION = "reaction"  # also a client type; not a phase event: no seq
# The sidecar is draining: {"type": "server.draining", "reconnect_in_ms": n}.
# The socket is closed with CLOSE_SERVICE_RESTART about n ms later; the
# client reconnects n ms after this message (not its failure backoff). Sent
# by the C sidecar only: Daphne (GameConsumer) cannot drain (daphne#177).
SERVER_DRAINING = "server.draining"

# Phase events (server -> client, broadcast to group game_<code>) and the
# payload fields each one carries at least.
LIE_STARTED = "phase.lie_started"
QUESTION_SHOWN = "phase.question_shown"
GUESS_STARTED = "phase.guess_started"
SCORES_CALCULATED = "phase.scores_calculated"
SCOREBOARD = "phase.scoreboard"
GAME_OVER = "phase.game_over"
PLAYER_JOINED = "player.joined"
REVEAL_STEP = "phase.reveal_step"
PAUSED = "phase.paused"
RESUMED = "phase.resumed"
SESSION_CLOSED = "session.closed"

# `deadline` and `reveal_at` are server time in epoch milliseconds.
# phase.scoreboard also carries `rounds`, `final_round` and `deadline` (null
# unless auto_advance); phase.game_over carries `round` and `awards`.
EVENT_FIELDS: dict[str, tuple[str, ...]] = {
    LIE_STARTED: ("round", "prompt", "time_limit", "deadline"),
    QUESTION_SHOWN: ("round", "question"),
    GUESS_STARTED: ("round", "answers", "time_limit", "deadline"),
    SCORES_CALCULATED: ("round", "truth", "deltas", "fooled", "reveal_at"),
    SCOREBOARD: ("round", "ranking"),
    GAME_OVER: ("ranking",),
    PLAYER_JOINED: ("player_id", "name", "players"),
    REVEAL_STEP: ("round", "index", "answer", "authors", "fooled", "points", "reveal_at"),
    PAUSED: ("round", "phase", "remaining_ms"),
    RESUMED: ("round", "phase", "remaining_ms", "deadline"),
    SESSION_CLOSED: ("reason",),
}
PHASE_EVENTS = tuple(EVENT_FIELDS)

# Award ids of phase.game_over, in the order they are listed.
AWARDS = ("best_liar", "truth_seeker", "crowd_favourite", "most_gullible")

# Client -> server.
PING = "ping"
CLIENT_TYPES = (PING, REACTION)

# The emoji a player may react with (each a single code point).
REACTION_EMOJI = ("😂", "👏", "😮", "🤔", "🔥", "😈", "🤥", "💯")

# Error codes sent in {"type": "error"}; the socket stays open.
MESSAGE_PARSE_FAILED = "MESSAGE_PARSE_FAILED"
INVALID_MESSAGE = "INVALID_MESSAGE"
UNKNOWN_TYPE = "UNKNOWN_TYPE"
WRONG_ROLE = "WRONG_ROLE"
RATE_LIMITED = "RATE_LIMITED"
ERROR_MESSAGES = {
    MESSAGE_PARSE_FAILED: "The message is not valid JSON.",
    INVALID_MESSAGE: "A message must be a JSON object with a string 'type'.",
    UNKNOWN_TYPE: "This message type is not known.",
    WRONG_ROLE: "Only players can react.",
    RATE_LIMITED: "Too many reactions: wait a moment.",
}
# RATE_LIMITED's text when a socket sends more than msg_rate messages/s.
TOO_MANY_MESSAGES = "Too many messages: wait a moment."

# WebSocket close codes.
CLOSE_UNSUPPORTED_DATA = 1003  # a binary frame: the protocol is JSON text only
CLOSE_SERVICE_RESTART = 1012  # the sidecar is draining: reconnect (see SERVER_DRAINING)
CLOSE_SESSION_CLOSED = 4000  # the host exited the session (or it is closed)
CLOSE_FORBIDDEN = 4003  # bad or missing token
CLOSE_NOT_FOUND = 4004  # unknown session
# Kept sending over the message rate (msg_flood refusals without a pause).
# Not 1008: Daphne (Autobahn) can only send 1000 and 3000-4999.
CLOSE_FLOODING = 4008

# The channel-layer message that carries a ready-to-send event to consumers:
# {"type": "game.event", "seq": n, "text": "<exact JSON text>"}; reactions
# travel the same way without "seq".
GROUP_EVENT_TYPE = "game.event"
# The channel-layer message that closes every socket of a session:
# {"type": "game.close", "code": 4000}.
GROUP_CLOSE_TYPE = "game.close"


def group_name(code: str) -> str:
    """Channels group of every socket of one session."""
    return f"game_{code}"


def player_group_name(code: str, player_id: int) -> str:
    """Channels group of every socket of one player."""
    return f"player_{code}_{player_id}"


def seq_key(code: str) -> str:
    """Redis key of the session's event counter (on the group's host)."""
    return f"partyhub:seq:{code}"


def dumps(message: dict) -> str:
    """The one JSON encoding used on the wire: compact, UTF-8, key order kept."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


def check_event(event_type: str, payload: dict) -> None:
    """Raise ValueError unless `payload` has the fields `event_type` requires."""
    if event_type not in EVENT_FIELDS:
        raise ValueError(f"unknown event type {event_type!r}")
    if not isinstance(payload, dict):
        raise ValueError("an event payload must be a dict")
    missing = [name for name in EVENT_FIELDS[event_type] if name not in payload]
    if missing:
        raise ValueError(f"{event_type} payload lacks {', '.join(missing)}")


def encode_event_parts(event_type: str, payload: dict) -> tuple[str, str]:
    """The event's JSON text split around its seq: head + str(seq) + tail.

    Lets the payload be encoded once, before the seq is known (the C layer
    splices the seq in on the Redis server).
    """
    check_event(event_type, payload)
    head = '{"type":' + dumps(event_type) + ',"seq":'
    tail = ',"payload":' + dumps(payload) + "}"
    return head, tail


def encode_event(event_type: str, seq: int, payload: dict) -> str:
    """The JSON text of a phase event as clients receive it."""
    head, tail = encode_event_parts(event_type, payload)
    return f"{head}{int(seq)}{tail}"


def welcome(connection_id: str, code: str, role: str, player_id: int | None) -> dict[str, Any]:
    return {
        "type": WELCOME,
        "connection_id": connection_id,
        "server_version": SERVER_VERSION,
        "session": code,
        "role": role,
        "player_id": player_id,
        # Server time (epoch ms) as the message is sent: clients align their
        # clocks with it to count down to `deadline`s.
        "server_time": time.time_ns() // 1_000_000,
    }


def session_state(payload: dict, seq: int) -> dict[str, Any]:
    """`session.state`: the whole public state; `seq` is the last event it reflects."""
    return {"type": SESSION_STATE, "seq": seq, "payload": payload}


def pong(ts: Any) -> dict[str, Any]:
    return {"type": PONG, "ts": ts}


def server_draining(reconnect_in_ms: int) -> dict[str, Any]:
    """`server.draining` as the sidecar writes it (see SERVER_DRAINING)."""
    return {"type": SERVER_DRAINING, "reconnect_in_ms": reconnect_in_ms}


def error(code: str, message: str | None = None) -> dict[str, Any]:
    return {"type": ERROR, "code": code, "message": message or ERROR_MESSAGES[code]}


def reaction(player_id: int, emoji: str, targets: list[int]) -> dict[str, Any]:
    """A reaction as everyone in the session receives it (no seq: not state)."""
    return {"type": REACTION, "player_id": player_id, "emoji": emoji, "targets": targets}


def check_reaction(message: dict) -> dict | None:
    """The error for a malformed `reaction` message, or None if it is well formed."""
    emoji = message.get("emoji")
    if not isinstance(emoji, str) or emoji not in REACTION_EMOJI:
        return error(INVALID_MESSAGE, f"'emoji' must be one of {' '.join(REACTION_EMOJI)}.")
    target = message.get("target_player_id")
    if target is not None and (isinstance(target, bool) or not isinstance(target, int)):
        return error(INVALID_MESSAGE, "'target_player_id' must be a player id (a whole number).")
    return None


def parse_client_message(text: str | None) -> tuple[dict | None, dict | None]:
    """Validate one client text frame: (message, None) or (None, error message)."""
    if text is None:
        return None, error(INVALID_MESSAGE, "Only text frames carry messages.")
    try:
        message = json.loads(text)
    except (ValueError, RecursionError):
        return None, error(MESSAGE_PARSE_FAILED)
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        return None, error(INVALID_MESSAGE)
    if message["type"] not in CLIENT_TYPES:
        return None, error(UNKNOWN_TYPE, f"Unknown message type {message['type'][:40]!r}.")
    if message["type"] == REACTION:
        problem = check_reaction(message)
        if problem is not None:
            return None, problem
    return message, None
