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

from . import schema

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


# Owner name of the events every game may send (the platform's), and of the
# transport's own messages.
SHARED_OWNER = "partyhub"
TRANSPORT_OWNER = "transport"
SEND, RECEIVE = "send", "receive"  # server -> client, client -> server

# Filled at start-up (AppConfig.ready) by the platform for itself and for each
# registered game; read-only afterwards.
_events: dict[str, schema.Message] = {}
# Server messages that are not events (reactions): declared like them.
_others: dict[str, schema.Message] = {}
# client type -> check(message) -> error message or None (None: the message's
# fields, by their schemas).
ClientCheck = Callable[[dict], "dict | None"]
_client_types: dict[str, tuple[schema.Message, ClientCheck | None]] = {}  # ping: below
# Check every payload against its whole schema, not only its required fields
# (the test suite turns it on: PARTYHUB_STRICT_EVENTS).
_strict = {"on": False}


def strict_payloads(on: bool) -> None:
    """Check sent payloads against their whole schemas (tests), or only for
    their required fields (the default: the hot path stays cheap)."""
    _strict["on"] = on


def declare_event(
    owner: str,
    event_type: str,
    fields: tuple[schema.Field, ...],
    private: bool = False,
    doc: str = "",
    after: str = "",
) -> None:
    """Declare `event_type` as `owner`'s, with its payload fields.

    Declaring the same type again with the same owner, fields and privacy is
    a no-op; anything else raises ValueError (two owners for one type).
    """
    spec = schema.Message(
        event_type,
        owner,
        SEND,
        fields=event_fields(private),
        payload=tuple(fields),
        private=private,
        doc=doc,
        after=after,
    )
    current = _events.get(event_type)
    if current is not None and (current.owner, current.payload, current.private) != (
        spec.owner,
        spec.payload,
        spec.private,
    ):
        raise ValueError(
            f"event type {event_type!r} is already declared by {current.owner!r}"
            + (" with other fields" if current.owner == owner else "")
        )
    _events[event_type] = spec


def event_fields(private: bool) -> tuple[schema.Field, ...]:
    """An event's own fields beside `type` and `payload`: its counter."""
    if private:
        return (schema.Field("pseq", schema.integer(0), doc="this player's message counter"),)
    return (schema.Field("seq", schema.integer(0), doc="the session's event counter"),)


def declare_message(message: schema.Message) -> None:
    """Declare a server message that is neither an event nor the transport's
    own (e.g. the platform's `reaction`)."""
    current = _others.get(message.type)
    if current is not None and current != message:
        raise ValueError(f"server message {message.type!r} is already declared")
    _others[message.type] = message


def event_spec(event_type: str) -> schema.Message | None:
    return _events.get(event_type)


def declared_events(owner: str | None = None) -> dict[str, schema.Message]:
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
    required fields (and, with strict_payloads, match its whole schema).
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
    missing = schema.missing(spec.payload, payload)
    if missing:
        raise ValueError(f"{event_type} payload lacks {', '.join(missing)}")
    if _strict["on"]:
        check_schema(spec.type, spec.payload_schema(), payload)


def check_schema(what: str, message_schema: dict, value: Any) -> None:
    """Raise ValueError naming every way `value` breaks `message_schema`."""
    problems = schema.errors(message_schema, value)
    if problems:
        raise ValueError(f"{what} breaks its schema: " + "; ".join(problems[:5]))


def declare_client_type(message: schema.Message, check: ClientCheck | None = None) -> None:
    """Accept client messages of `message.type` (besides `ping`).

    They are checked by `check(message)` (the `error` message for a
    malformed one, or None) or, without one, against the message's fields.
    Both servers refuse undeclared types with UNKNOWN_TYPE; the sidecar
    forwards declared ones to the inbound worker (realtime.inbound).
    """
    current = _client_types.get(message.type)
    if current is not None and current != (message, check):
        raise ValueError(f"client message type {message.type!r} is already declared")
    _client_types[message.type] = (message, check)


def client_types() -> tuple[str, ...]:
    """Every accepted client message type, `ping` first."""
    return tuple(_client_types)


def client_messages() -> dict[str, schema.Message]:
    """Every accepted client message, `ping` first, by type."""
    return {t: m for t, (m, _) in _client_types.items()}


def server_messages() -> dict[str, schema.Message]:
    """Every server message that is not an event: the transport's and those
    declared with declare_message, by type."""
    return {**transport_messages(), **_others}


# --- the transport's own messages ------------------------------------------------

_F = schema.Field
_REF = _F(
    "ref",
    schema.one_of(schema.string(), schema.number()),
    required=False,
    doc="the client message's `ref`, when it had one",
)


@dataclass(frozen=True)
class StateSpec:
    """One game's `session.state` payload and `player.state` payload fields."""

    public: tuple[schema.Field, ...]
    private: tuple[schema.Field, ...]


# Per owner (a game): its fields of the state payloads (declare_state), and
# the fields every `session.state` has (the platform's, declare_state_fields).
# Read by the contracts and, with strict_payloads, by check_state.
_states: dict[str, StateSpec] = {}
_shared_state: dict[str, tuple[schema.Field, ...]] = {"fields": ()}


def declare_state_fields(fields: tuple[schema.Field, ...]) -> None:
    """The fields of every `session.state` payload, whatever the game (the platform's)."""
    _shared_state["fields"] = tuple(fields)


def declare_state(
    owner: str, public: tuple[schema.Field, ...], private: tuple[schema.Field, ...]
) -> None:
    """Declare the fields of `owner`'s `session.state` and `player.state` payloads."""
    _states[owner] = StateSpec(tuple(public), tuple(private))


def check_state(owner: str, payload: dict, private: bool = False) -> None:
    """With strict_payloads, raise ValueError when a state payload of
    `owner`'s sessions breaks its declared schema (else nothing)."""
    spec = _states.get(owner)
    if _strict["on"] and spec is not None:
        fields = spec.private if private else (*_shared_state["fields"], *spec.public)
        what = PLAYER_STATE if private else SESSION_STATE
        check_schema(f"{what} of {owner}", schema.obj(*fields), payload)


def _state_payload(private: bool) -> dict:
    """A state payload's schema: the shared fields (public state only) and one
    game's (anyOf: one per game); any object before a game is declared."""
    variants = []
    for owner, spec in _states.items():
        kind = "private_state" if private else "state"
        variants.append(
            schema.obj(*(spec.private if private else spec.public), title=f"{owner}.{kind}")
        )
    if not variants:
        return schema.map_of(schema.any_value())
    games = schema.one_of(*variants)
    if private:
        return games
    return schema.all_of(schema.obj(*_shared_state["fields"], title="platform_state"), games)


def transport_messages() -> dict[str, schema.Message]:
    """The transport's own server messages, by type (the state messages'
    payloads as their owners declared them)."""
    messages = (
        schema.Message(
            WELCOME,
            TRANSPORT_OWNER,
            SEND,
            fields=(
                _F("connection_id", schema.string(), doc="this socket's id"),
                _F("server_version", schema.string()),
                _F("session", schema.string(), doc="the session code"),
                _F("role", schema.enum("host", "player")),
                _F("player_id", schema.nullable(schema.integer()), doc="null for the host"),
                _F("server_time", schema.integer(), doc="the server's clock, epoch ms"),
            ),
            doc="The first message on every socket.",
            after="connect",
        ),
        schema.Message(
            SESSION_STATE,
            TRANSPORT_OWNER,
            SEND,
            fields=(_F("seq", schema.integer(0), doc="the last event this state reflects"),),
            payload=(),
            doc="The whole public state of the session: right after `welcome`, and again "
            "after a Redis outage (sidecar). The platform's fields, then the game's own "
            "(one schema per game, told apart by `game`).",
            after="connect",
            extra={"payload_schema": _state_payload(private=False)},
        ),
        schema.Message(
            PLAYER_STATE,
            TRANSPORT_OWNER,
            SEND,
            private=True,
            fields=(_F("pseq", schema.integer(0), doc="the last private message it reflects"),),
            payload=(),
            doc="A player's whole private state (GameDriver.private_state), to that "
            "player's sockets only: after `session.state` on (re)connect, and live "
            "(one schema per game).",
            after="connect, or the game refreshes it",
            extra={"payload_schema": _state_payload(private=True)},
        ),
        schema.Message(
            PONG,
            TRANSPORT_OWNER,
            SEND,
            fields=(_F("ts", schema.any_value(), required=False, doc="the ping's `ts`"),),
            doc="The answer to `ping`.",
            after="ping",
        ),
        schema.Message(
            ERROR,
            TRANSPORT_OWNER,
            SEND,
            fields=(
                _F("code", schema.string(), doc="a code of the error table, or a REST error code"),
                _F("message", schema.string(), doc="for people"),
                _REF,
            ),
            doc="A refused client message; the socket stays open.",
            after="a refused client message",
        ),
        schema.Message(
            RESULT,
            TRANSPORT_OWNER,
            SEND,
            fields=(
                _F("action", schema.string(), doc="the client message's type"),
                _F("body", schema.map_of(schema.any_value()), doc="what the REST action answers"),
                _REF,
            ),
            doc="The answer to a client message that ran a game action, to its sender.",
            after="a game action's client message",
        ),
        schema.Message(
            SERVER_DRAINING,
            TRANSPORT_OWNER,
            SEND,
            fields=(_F("reconnect_in_ms", schema.integer(0), doc="when to reconnect"),),
            doc="The sidecar is draining: this socket closes with 1012 about "
            "reconnect_in_ms later (C sidecar only).",
            after="SIGUSR1 to runsidecar",
        ),
    )
    return {m.type: m for m in messages}


PING_MESSAGE = schema.Message(
    PING,
    TRANSPORT_OWNER,
    RECEIVE,
    fields=(_F("ts", schema.any_value(), required=False, doc="any JSON value, echoed"),),
    doc="Answered with `pong`.",
)
_client_types[PING] = (PING_MESSAGE, None)


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
    spec, check = _client_types[message["type"]]
    if check is not None:
        problem = check(message)
        if problem is not None:
            return None, problem
        return message, None
    bad = schema.problem(spec.fields, message)
    if bad is not None:
        return None, error(INVALID_MESSAGE, bad.must_be())
    return message, None
