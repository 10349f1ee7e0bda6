"""The WebSocket protocol: every message type, both directions, defined once.

The Python consumer, the broadcast helpers, the tests and `docs/protocol.md`
follow this module; the C sidecar implements the same contract. Server
messages are JSON objects with a string `type`; events add `seq` (one
counter per session, +1 per broadcast) and a `payload` object; private
messages to one player add `pseq` (one counter per player) instead.

The transport knows no game. Which events exist, with which payload fields,
and which client messages are accepted beyond `ping`, is declared at start-up
by whoever owns them (the platform and its registered games) through
`declare_event` and `declare_client_type`; `check_event` and
`parse_client_message` follow those declarations.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import partyhub

SERVER_VERSION = partyhub.__version__

# Server -> client.
WELCOME = "welcome"
SESSION_STATE = "session.state"
PONG = "pong"
ERROR = "error"
# The sidecar is draining: {"type": "server.draining", "reconnect_in_ms": n}.
# The socket is closed with CLOSE_SERVICE_RESTART about n ms later; the
# client reconnects n ms after this message (not its failure backoff). Sent
# by the C sidecar only: Daphne (GameConsumer) cannot drain (daphne#177).
SERVER_DRAINING = "server.draining"
# A player's private state: {"type": "player.state", "pseq": n, "payload":
# {...}}, to that player's sockets only: after `session.state` on (re)connect
# when one is stored, and live like any private event.
PLAYER_STATE = "player.state"
# The answer to a client message that ran an action (realtime.inbound):
# {"type": "result", "action": <its type>, "ref": <its ref>, "body": {...}}.
RESULT = "result"

# Client -> server (the transport's own; owners declare more).
PING = "ping"

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
    WRONG_ROLE: "This socket's role cannot send this message.",
    RATE_LIMITED: "Too many messages: wait a moment.",
}
# RATE_LIMITED's text when a socket sends more than msg_rate messages/s.
TOO_MANY_MESSAGES = "Too many messages: wait a moment."

# WebSocket close codes.
CLOSE_UNSUPPORTED_DATA = 1003  # a binary frame: the protocol is JSON text only
# Redis is down, or lost this session's keys and they are being rebuilt from
# the database: the session exists, reconnect with backoff (not final).
CLOSE_TRY_AGAIN = 1013
CLOSE_SERVICE_RESTART = 1012  # the sidecar is draining: reconnect (see SERVER_DRAINING)
CLOSE_SESSION_CLOSED = 4000  # the host exited the session (or it is closed)
CLOSE_LEFT = 4001  # this player left the game (their token no longer works)
CLOSE_FORBIDDEN = 4003  # bad or missing token
CLOSE_NOT_FOUND = 4004  # unknown session
# Kept sending over the message rate (msg_flood refusals without a pause).
# Not 1008: Daphne (Autobahn) can only send 1000 and 3000-4999.
CLOSE_FLOODING = 4008

# The channel-layer message that carries a ready-to-send event to consumers:
# {"type": "game.event", "seq": n, "text": "<exact JSON text>"}; messages
# that are not state (e.g. reactions) travel the same way without "seq".
GROUP_EVENT_TYPE = "game.event"
# The channel-layer message that closes every socket of a group:
# {"type": "game.close", "code": 4000}.
GROUP_CLOSE_TYPE = "game.close"


# --- declarations ------------------------------------------------------------


class UndeclaredEvent(ValueError):
    """An event type its sender did not declare (or declared otherwise)."""


@dataclass(frozen=True)
class EventSpec:
    """One declared event: who owns it, the payload fields it requires, and
    whether it goes to one player only (private) or to the whole session."""

    owner: str
    fields: tuple[str, ...]
    private: bool = False


# Owner name of the events every game may send (the platform's).
SHARED_OWNER = "partyhub"

# Filled at start-up (AppConfig.ready) by the platform for itself and for each
# registered game; read-only afterwards.
_events: dict[str, EventSpec] = {}
# client type -> check(message) -> error message or None (None: no check).
ClientCheck = Callable[[dict], "dict | None"]
_client_types: dict[str, ClientCheck | None] = {PING: None}


def declare_event(
    owner: str, event_type: str, fields: tuple[str, ...], private: bool = False
) -> None:
    """Declare `event_type` as `owner`'s, with its required payload fields.

    Declaring the same type again with the same owner, fields and privacy is
    a no-op; anything else raises ValueError (two owners for one type).
    """
    spec = EventSpec(owner, tuple(fields), private)
    current = _events.get(event_type)
    if current is not None and current != spec:
        raise ValueError(
            f"event type {event_type!r} is already declared by {current.owner!r}"
            + (" with other fields" if current.owner == owner else "")
        )
    _events[event_type] = spec


def event_spec(event_type: str) -> EventSpec | None:
    return _events.get(event_type)


def declared_events(owner: str | None = None) -> dict[str, EventSpec]:
    """Every declared event (of `owner` only, when given), in declaration order."""
    return {t: s for t, s in _events.items() if owner is None or s.owner == owner}


def owners() -> list[str]:
    """Every owner that declared events, in declaration order."""
    return list(dict.fromkeys(s.owner for s in _events.values()))


def check_event(
    event_type: str, payload: dict, owner: str | None = None, private: bool = False
) -> None:
    """Raise UndeclaredEvent (a ValueError) unless `event_type` may be sent.

    It must be declared by `owner` (or be shared), or by anyone when `owner`
    is None; be private exactly when `private`; and `payload` must hold its
    required fields.
    """
    spec = _events.get(event_type)
    if spec is None:
        if owner is not None:
            raise UndeclaredEvent(f"game {owner!r} does not declare event type {event_type!r}")
        known = ", ".join(o for o in owners() if o != SHARED_OWNER) or "none"
        raise UndeclaredEvent(
            f"unknown event type {event_type!r}: no registered game declares it "
            f"(registered games: {known})"
        )
    if owner is not None and spec.owner not in (owner, SHARED_OWNER):
        raise UndeclaredEvent(
            f"game {owner!r} does not declare event type {event_type!r} (game {spec.owner!r} does)"
        )
    if spec.private != private:
        how = "private (to one player)" if spec.private else "public (to the whole session)"
        raise UndeclaredEvent(f"{spec.owner!r} declares {event_type!r} as {how}")
    if not isinstance(payload, dict):
        raise ValueError("an event payload must be a dict")
    missing = [name for name in spec.fields if name not in payload]
    if missing:
        raise ValueError(f"{event_type} payload lacks {', '.join(missing)}")


def declare_client_type(client_type: str, check: ClientCheck | None = None) -> None:
    """Accept client messages of `client_type` (besides `ping`).

    `check(message)` returns the `error` message for a malformed one, or None.
    Both servers refuse undeclared types with UNKNOWN_TYPE; the sidecar
    forwards declared ones to the inbound worker (realtime.inbound).
    """
    if client_type in _client_types and _client_types[client_type] is not check:
        raise ValueError(f"client message type {client_type!r} is already declared")
    _client_types[client_type] = check


def client_types() -> tuple[str, ...]:
    """Every accepted client message type, `ping` first."""
    return tuple(_client_types)


# --- encoding ----------------------------------------------------------


def dumps(message: dict) -> str:
    """The one JSON encoding used on the wire: compact, UTF-8, key order kept;
    strict (NaN and Infinity raise ValueError: they are not JSON)."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


# --- strict JSON in ------------------------------------------------------------
#
# What both servers accept from a client (the sidecar's wsparse.c checks the
# same): RFC 8259 JSON, plus
# - no NaN, Infinity or -Infinity (Python's json takes them, JSON does not);
# - no number beyond a double's range (1e400): it would come back as
#   Infinity; and none longer than MAX_JSON_NUMBER characters (the C
#   parser's limit, PH_JSON_NUMBER_MAX in csrc/sidecar/wsparse.h);
# - no string (key or value) holding a lone surrogate ("\ud800"), which no
#   UTF-8 text can carry, or U+0000;
# - arrays and objects nested at most MAX_JSON_DEPTH deep.
MAX_JSON_DEPTH = 32
MAX_JSON_NUMBER = 63
_BAD_CHARS = re.compile("[\x00\ud800-\udfff]")


class NotStrictJSON(ValueError):
    """Text that json.loads takes but strict JSON (above) does not."""


def _no_constant(name: str):
    raise NotStrictJSON(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    if len(text) > MAX_JSON_NUMBER:
        raise NotStrictJSON(f"a number longer than {MAX_JSON_NUMBER} characters")
    value = float(text)
    if math.isinf(value):
        raise NotStrictJSON("a number beyond a double's range")
    return value


def _finite_int(text: str) -> int:
    if len(text) > MAX_JSON_NUMBER:
        raise NotStrictJSON(f"a number longer than {MAX_JSON_NUMBER} characters")
    return int(text)  # 63 digits are always within a double's range


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_BRACKET = re.compile(r"[\[\]{}]")


def _check_text(text: str, strings: bool) -> None:
    """Raise NotStrictJSON for nesting past MAX_JSON_DEPTH (and, with
    `strings`, an escaped lone surrogate or U+0000) anywhere in the text,
    duplicate keys json.loads drops included: the sidecar checks the text
    the same way (wsparse.c)."""
    depth, pos = 0, 0
    for match in [*_STRING.finditer(text), None]:
        gap_end = match.start() if match else len(text)
        for bracket in _BRACKET.findall(text, pos, gap_end):
            depth += 1 if bracket in "[{" else -1
            if depth > MAX_JSON_DEPTH:
                raise NotStrictJSON(f"nested deeper than {MAX_JSON_DEPTH}")
        if match is None:
            return
        literal = match.group()
        if strings and "\\u" in literal and _BAD_CHARS.search(json.loads(literal)):
            raise NotStrictJSON("a lone surrogate or U+0000 in a string")
        pos = match.end()


def loads(text: str | bytes, strings: bool = True) -> Any:
    """json.loads by strict JSON (above); ValueError for anything else.

    `strings=False` lets lone surrogates and U+0000 through, for the REST
    API, whose text fields refuse them with their own error (lobby.text).
    """
    if isinstance(text, bytes | bytearray):
        text = text.decode("utf-8")
    _check_text(text, strings)
    try:
        return json.loads(
            text,
            parse_constant=_no_constant,
            parse_float=_finite_float,
            parse_int=_finite_int,
        )
    except RecursionError:
        raise NotStrictJSON(f"nested deeper than {MAX_JSON_DEPTH}") from None


def message_parts(message_type: str, counter: str, payload: dict) -> tuple[str, str]:
    """A message's JSON text split around its counter: head + str(n) + tail.

    `counter` is "seq" (events to the session) or "pseq" (to one player).
    Lets the payload be encoded once, before the number is known (the C
    layer splices it in on the Redis server).
    """
    head = '{"type":' + dumps(message_type) + ',"' + counter + '":'
    tail = ',"payload":' + dumps(payload) + "}"
    return head, tail


def encode_event_parts(event_type: str, payload: dict, owner: str | None = None) -> tuple[str, str]:
    """A public event's JSON text split around its seq (`session.state` included).

    For `session.state` it is the text of `dumps(session_state(payload, seq))`,
    encoded before the seq is known (see message_parts).
    """
    if event_type != SESSION_STATE:
        check_event(event_type, payload, owner)
    return message_parts(event_type, "seq", payload)


def encode_private_parts(
    event_type: str, payload: dict, owner: str | None = None
) -> tuple[str, str]:
    """A private event's JSON text split around its pseq (`player.state` included)."""
    if event_type != PLAYER_STATE:
        check_event(event_type, payload, owner, private=True)
    return message_parts(event_type, "pseq", payload)


def encode_event(event_type: str, seq: int, payload: dict) -> str:
    """The JSON text of a public event as clients receive it."""
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


def player_state(payload: dict, pseq: int) -> dict[str, Any]:
    """`player.state`: a player's private state; `pseq`: the last private message in it."""
    return {"type": PLAYER_STATE, "pseq": pseq, "payload": payload}


def pong(ts: Any) -> dict[str, Any]:
    return {"type": PONG, "ts": ts}


def server_draining(reconnect_in_ms: int) -> dict[str, Any]:
    """`server.draining` as the sidecar writes it (see SERVER_DRAINING)."""
    return {"type": SERVER_DRAINING, "reconnect_in_ms": reconnect_in_ms}


def error(code: str, message: str | None = None, ref: Any = None) -> dict[str, Any]:
    reply = {"type": ERROR, "code": code, "message": message or ERROR_MESSAGES[code]}
    if ref is not None:
        reply["ref"] = ref
    return reply


def result(action: str, body: dict, ref: Any = None) -> dict[str, Any]:
    """The `result` of a client message that ran an action."""
    reply = {"type": RESULT, "action": action, "body": body}
    if ref is not None:
        reply["ref"] = ref
    return reply


def parse_client_message(text: str | None) -> tuple[dict | None, dict | None]:
    """Validate one client text frame: (message, None) or (None, error message)."""
    if text is None:
        return None, error(INVALID_MESSAGE, "Only text frames carry messages.")
    try:
        message = loads(text)
    except ValueError:
        return None, error(MESSAGE_PARSE_FAILED)
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        return None, error(INVALID_MESSAGE)
    if message["type"] not in _client_types:
        return None, error(UNKNOWN_TYPE, f"Unknown message type {message['type'][:40]!r}.")
    check = _client_types[message["type"]]
    if check is not None:
        problem = check(message)
        if problem is not None:
            return None, problem
    return message, None
