"""WebSocket conformance (RFC 6455) of the C sidecar, with Daphne alongside.

Modelled on the Autobahn|Testsuite groups 1-7 and 9: framing, ping/pong,
reserved bits, reserved opcodes, fragmentation, UTF-8, close handling and
limits. Every case is sent by the raw client in tests/wsraw.py (which shares
no code with either server) on a fresh, authenticated game socket, and states
the behaviour RFC 6455 (plus docs/protocol.md, for what the application does
with a valid message) requires.

- The sidecar (`realtime._sidecar.Server`, in a thread of this process) must
  meet every expectation. Its message limit is `max_message` (4096 bytes by
  default, close 1009 past it); the length cases run again with the limit
  raised to 1 MiB.
- Daphne (`python -m daphne partyhub.asgi:application`, a real subprocess on
  the same Redis and the file-based test database) runs the same cases; where
  it differs the difference is recorded, not failed (see docs/testing.md).

After a case's frames, a "sentinel" ping message ({"type":"ping"}) is sent
unless the case leaves a fragmented message open: its pong proves that the
connection is still open and that every earlier answer has arrived, so no
case waits on a fixed sleep. At verbosity 2 or more the run ends with a
table: case, expected, sidecar, sidecar with 1 MiB limit, Daphne.
"""

from __future__ import annotations

import importlib
import json
import os
import struct
import subprocess
import sys
import threading
import time
import unittest
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.test import TransactionTestCase

from realtime import protocol

from . import servers
from .helpers import Api
from .wsraw import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    RSV1,
    RSV2,
    RSV3,
    Eof,
    Frame,
    HandshakeError,
    RawWebSocket,
    close_payload,
    frame,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ORIGIN = "http://localhost"
DEFAULT_LIMIT = 4096
BIG_LIMIT = 1 << 20
SENTINEL_TS = "sentinel"
FAILURE_CODES = (1002, 1003, 1007, 1009)

# ---------------------------------------------------------------------------
# What a server answered


@dataclass
class Outcome:
    """Everything a server sent after the case's first frame, in order."""

    replies: list[tuple[str, Any]] = field(default_factory=list)
    end: str = "timeout"  # "open" (sentinel answered), "close", "eof", "timeout", "refused"
    close_code: int | None = None
    close_reason: bytes = b""
    eof_after_close: bool = False
    eof_delay: float = 0.0  # seconds from the server's close frame to TCP close
    violations: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        parts = [describe_reply(r) for r in self.replies]
        if len(parts) > 4:
            parts = parts[:2] + [f"…{len(parts) - 3} more…", parts[-1]]
        if self.end == "close":
            code = "(empty)" if self.close_code is None else str(self.close_code)
            if not self.eof_after_close:
                code += " (TCP left open)"
            elif self.eof_delay > 1:
                code += f" (TCP closed after {self.eof_delay:.0f} s)"
            parts.append(f"close {code}")
        else:
            parts.append(self.end)
        parts += [f"!{v}" for v in self.violations]
        return ", ".join(parts)


def describe_reply(reply: tuple[str, Any]) -> str:
    kind, value = reply
    if kind == "json":
        if value.get("type") == "error":
            return f"error {value.get('code')}"
        if value.get("type") == "pong":
            ts = json.dumps(value.get("ts"), ensure_ascii=False)
            return f"pong-msg ts={ts[:12]}{'…' if len(ts) > 12 else ''}"
        return f"msg {value.get('type')}"
    if kind in ("pong", "ping"):
        shown = f" {value.decode()!r}" if len(value) <= 6 and value.isascii() else ""
        return f"{kind} {len(value)}B{shown}"
    return f"{kind} {len(value)}B"


# ---------------------------------------------------------------------------
# What a case expects


@dataclass
class Expect:
    text: str
    check: Callable[[Outcome], bool]

    def __or__(self, other: Expect) -> Expect:
        return Expect(f"{self.text} or {other.text}", lambda o: self.check(o) or other.check(o))


def _reply_ok(spec: tuple[str, Any], got: tuple[str, Any]) -> bool:
    kind, value = spec
    if kind == "error":
        return got[0] == "json" and got[1].get("type") == "error" and got[1].get("code") == value
    return got == spec


def _spec_text(spec: tuple[str, Any]) -> str:
    kind, value = spec
    if kind == "error":
        return f"error {value}"
    if kind == "json" and value.get("type") == "pong":
        return "pong-msg"
    if kind == "pong":
        return f"pong {len(value)}B echo"
    return describe_reply(spec)


def _replies_ok(specs: Iterable[tuple[str, Any]], got: list[tuple[str, Any]]) -> bool:
    specs = list(specs)
    return len(specs) == len(got) and all(_reply_ok(s, g) for s, g in zip(specs, got, strict=True))


def stays_open(*specs: tuple[str, Any]) -> Expect:
    """These answers, in order, and the connection stays open."""
    text = ", ".join(_spec_text(s) for s in specs) or "no answer"
    return Expect(f"{text}, open", lambda o: o.end == "open" and _replies_ok(specs, o.replies))


def fails(*codes: int, before: tuple[tuple[str, Any], ...] = ()) -> Expect:
    """_Fail the WebSocket Connection_ (RFC 6455 7.1.7): a close frame with one
    of `codes` then TCP close, or TCP close alone; nothing answered after the
    offending frame. Answers to valid frames sent before it (`before`) may be
    lost when the server fails at once: like Autobahn ("non-strict"), any
    prefix of `before` is accepted."""
    codes = codes or (1002,)
    head = ", ".join(_spec_text(s) for s in before)
    text = (head + ", " if head else "") + "fail " + "/".join(map(str, codes))

    def check(o: Outcome) -> bool:
        if not _replies_ok(before[: len(o.replies)], o.replies):
            return False
        if o.end == "eof":
            return True
        return o.end == "close" and o.close_code in codes and o.eof_after_close

    return Expect(text, check)


def closes(*codes: int | None, before: tuple[tuple[str, Any], ...] = ()) -> Expect:
    """A clean closing handshake: the server's close frame carries one of
    `codes` (None: empty body) and it then closes TCP (RFC 6455 7.1.1)."""
    head = ", ".join(_spec_text(s) for s in before)
    names = "/".join("empty" if c is None else str(c) for c in codes)
    text = (head + ", " if head else "") + f"close {names}"

    def check(o: Outcome) -> bool:
        return (
            _replies_ok(before, o.replies)
            and o.end == "close"
            and o.close_code in codes
            and o.eof_after_close
        )

    return Expect(text, check)


def pongs_for(pings: list[bytes], *after: tuple[str, Any]) -> Expect:
    """Pongs for `pings` sent back to back: RFC 6455 5.5.3 lets a server answer
    only the most recent of the pings it has not answered yet, so every pong
    must echo one of them, in order, and the last ping must be answered; then
    `after`, and the connection stays open."""

    def check(o: Outcome) -> bool:
        n = len(o.replies) - len(after)
        got = [v for k, v in o.replies[:n] if k == "pong"]
        return (
            o.end == "open"
            and n >= 1
            and len(got) == n
            and got[-1] == pings[-1]
            and all(p in pings for p in got)
            and got == sorted(got, key=pings.index)
            and _replies_ok(after, o.replies[n:])
        )

    tail = "".join(", " + _spec_text(s) for s in after)
    return Expect(f"pongs in order ending with the last ping's{tail}, open", check)


def pong_msg(ts: Any = 1) -> tuple[str, Any]:
    return ("json", {"type": "pong", "ts": ts})


def pong(payload: bytes) -> tuple[str, Any]:
    return ("pong", payload)


def error(code: str) -> tuple[str, Any]:
    return ("error", code)


# ---------------------------------------------------------------------------
# Messages the cases send


def ping_msg(ts: Any = 1) -> bytes:
    message = {"type": "ping", "ts": ts}
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()


def padded_ping(n: int) -> bytes:
    """A valid ping message of exactly n bytes (ts 1, the rest in "pad")."""
    base = b'{"type":"ping","ts":1,"pad":""}'
    assert n >= len(base), n
    return base[:-2] + b"x" * (n - len(base)) + b'"}'


SENTINEL = ping_msg(SENTINEL_TS)

# ---------------------------------------------------------------------------
# The cases


@dataclass
class Case:
    id: str
    title: str
    rfc: str  # the clause the expectation comes from
    act: Callable[[RawWebSocket], None]
    expect: Expect  # with the default 4096-byte limit
    expect_big: Expect | None = None  # with max_message raised to 1 MiB
    sentinel: bool = True  # False when the case leaves a message half-sent
    known: str | None = None  # a known sidecar deviation: asserted to persist
    timeout: float = 3.0  # for the answer after the last frame

    @property
    def group(self) -> str:
        return self.id.split(".")[0]


def send(*frames: bytes, chunk: int | None = None) -> Callable[[RawWebSocket], None]:
    def act(ws: RawWebSocket) -> None:
        ws.send_raw(b"".join(frames), chunk=chunk)

    # After our own close frame there is nothing to add (no sentinel, no echo).
    act.sends_close = any(f[0] & 0x0F == OP_CLOSE for f in frames)  # type: ignore[attr-defined]
    return act


def text(data: bytes, **kw) -> bytes:
    return frame(OP_TEXT, data, **kw)


def close_frame(code: int | None, reason: bytes = b"", **kw) -> bytes:
    return frame(OP_CLOSE, close_payload(code, reason), **kw)


CASES: list[Case] = []

# Deviations of libwebsockets 4.1.6 itself that the sidecar cannot correct
# from its callback. The sidecar is asserted to still show them, so that an
# lws upgrade that fixes one fails loudly and the marker gets removed.
LWS_PING = (
    "lws keeps one pending ping and drops pings that arrive before its pong "
    "is written, so it answers the oldest, not the most recent (5.5.3)"
)
LWS_UNMASKED = "lws accepts unmasked client frames (5.1); the callback cannot see the mask bit"


def case(*args, **kw) -> None:
    CASES.append(Case(*args, **kw))


def _length_cases() -> None:
    case(
        "1.1.1",
        "text, 0 bytes",
        "5.6: an empty text frame is valid",
        send(text(b"")),
        stays_open(error(protocol.MESSAGE_PARSE_FAILED)),
    )
    for cid, n in (("1.1.2", 125), ("1.1.3", 126), ("1.1.4", 127), ("1.1.5", 128)):
        case(
            cid,
            f"text, {n} bytes",
            "5.2: 7-bit length up to 125, 16-bit from 126",
            send(text(padded_ping(n))),
            stays_open(pong_msg()),
            stays_open(pong_msg()),
        )
    for cid, n, chunk in (
        ("1.1.6", 65535, None),
        ("1.1.7", 65536, None),
        ("1.1.8", 65536, 997),
    ):
        how = f", written {chunk} bytes at a time" if chunk else ""
        case(
            cid,
            f"text, {n} bytes{how}",
            "5.2 (16/64-bit length); 7.4.1: 1009 past our limit",
            send(text(padded_ping(n)), chunk=chunk),
            fails(1009),
            stays_open(pong_msg()),
        )
    for cid, n in (("1.2.1", 0), ("1.2.2", 125), ("1.2.3", 65536)):
        case(
            cid,
            f"binary, {n} bytes",
            "7.4.1: 1003 for a data type it cannot accept",
            send(frame(OP_BINARY, b"\xfe" * n)),
            fails(1003),
            fails(1003),
        )
    case(
        "1.3.1",
        "unmasked client text frame",
        "5.1: the server MUST close on an unmasked client frame",
        send(text(ping_msg(), mask=False)),
        fails(1002),
        known=LWS_UNMASKED,
    )
    case(
        "1.3.2",
        "5-byte text with a 16-bit length (not minimal)",
        "5.2: senders MUST use the minimal length; receivers unspecified (either)",
        send(text(b"[1,2]", length_form=16)),
        stays_open(error(protocol.INVALID_MESSAGE)) | fails(1002),
    )
    case(
        "1.3.3",
        "64-bit length with the top bit set",
        "5.2: the most significant bit MUST be 0",
        send(b"\x81\xff" + struct.pack("!Q", (1 << 63) | 5) + b"\0\0\0\0" + b"hello"),
        fails(1002, 1009),
    )


def _ping_cases() -> None:
    case(
        "2.1",
        "ping, no payload",
        "5.5.2/5.5.3: pong with the same payload",
        send(frame(OP_PING)),
        stays_open(pong(b"")),
    )
    case(
        "2.2",
        "ping, 13-byte text payload",
        "5.5.3: pong echoes the application data",
        send(frame(OP_PING, b"Hello, world!")),
        stays_open(pong(b"Hello, world!")),
    )
    binary = bytes([0x00, 0xFF, 0xFE, 0xFD, 0xFC, 0xFB, 0x00, 0xFF])
    case(
        "2.3",
        "ping, binary payload",
        "5.5.3: pong echoes the application data",
        send(frame(OP_PING, binary)),
        stays_open(pong(binary)),
    )
    case(
        "2.4",
        "ping, 125 bytes",
        "5.5: control payload up to 125 bytes",
        send(frame(OP_PING, b"\xfe" * 125)),
        stays_open(pong(b"\xfe" * 125)),
    )
    case(
        "2.5",
        "ping, 126 bytes",
        "5.5: control frames MUST have payload <= 125",
        send(frame(OP_PING, b"\xfe" * 126)),
        fails(1002),
    )
    case(
        "2.6",
        "unsolicited pong, no payload",
        "5.5.3: an unsolicited pong is ignored",
        send(frame(OP_PONG)),
        stays_open(),
    )
    case(
        "2.7",
        "unsolicited pong with payload",
        "5.5.3: an unsolicited pong is ignored",
        send(frame(OP_PONG, b"unsolicited")),
        stays_open(),
    )
    case(
        "2.8",
        "unsolicited pong, then ping",
        "5.5.3: pong only for the ping",
        send(frame(OP_PONG, b"x"), frame(OP_PING, b"ping")),
        stays_open(pong(b"ping")),
    )

    case(
        "2.9",
        "10 pings at once",
        "5.5.2/5.5.3: a pong per ping (MAY answer only the last)",
        send(*(frame(OP_PING, b"p%d" % i) for i in range(10))),
        pongs_for([b"p%d" % i for i in range(10)]),
        known=LWS_PING,
    )
    case(
        "2.10",
        "ping, 125 bytes written 1 byte at a time",
        "5.5.3",
        send(frame(OP_PING, b"*" * 125), chunk=1),
        stays_open(pong(b"*" * 125)),
    )
    # docs/protocol.md: {"type":"ping","ts":X} -> {"type":"pong","ts":X}, any JSON X.
    values: list[Any] = [0, -1.5, "κόσμε 𝄞", {"a": [1, None, True]}, [], None]
    case(
        "2.11",
        "ping messages, ts of every JSON type",
        "protocol.md: pong echoes ts",
        send(*(text(ping_msg(v)) for v in values), text(b'{"type":"ping"}')),
        stays_open(*(pong_msg(v) for v in values), pong_msg(None)),
    )
    big_ts = "t" * 2000
    case(
        "2.12",
        "ping message, 2000-byte ts (under the limit)",
        "protocol.md: pong echoes ts (any JSON value)",
        send(text(ping_msg(big_ts))),
        stays_open(pong_msg(big_ts)),
    )
    # 1e400 is valid JSON but no double: it cannot be echoed as valid JSON
    # (RFC 8259 has no Infinity), so it is refused at the door on both
    # servers (protocol.md, "strict JSON"), and the socket stays open.
    case(
        "2.13",
        "ping message, ts 1e400 (beyond a double)",
        "protocol.md strict JSON + RFC 8259: refused, not echoed as Infinity",
        send(text(b'{"type":"ping","ts":1e400}')),
        stays_open(error(protocol.MESSAGE_PARSE_FAILED)),
    )


def _rsv_cases() -> None:
    good = text(ping_msg())
    case(
        "3.1",
        "text with RSV1 (no extension)",
        "5.2: non-zero RSV without extension: fail",
        send(text(ping_msg(), rsv=RSV1)),
        fails(1002),
    )
    case(
        "3.2",
        "text, then text with RSV2",
        "5.2",
        send(good, text(ping_msg(), rsv=RSV2)),
        fails(1002, before=(pong_msg(),)),
    )
    case(
        "3.3",
        "text, text with RSV3, ping",
        "5.2: nothing after the bad frame",
        send(good, text(ping_msg(), rsv=RSV3), frame(OP_PING, b"x")),
        fails(1002, before=(pong_msg(),)),
    )
    case(
        "3.4",
        "binary with RSV1|RSV3",
        "5.2",
        send(frame(OP_BINARY, b"\x00\xff", rsv=RSV1 | RSV3)),
        fails(1002, 1003),
    )
    case(
        "3.5",
        "ping with RSV1|RSV2",
        "5.2",
        send(frame(OP_PING, b"x", rsv=RSV1 | RSV2)),
        fails(1002),
    )
    case(
        "3.6",
        "close with all RSV bits",
        "5.2",
        send(close_frame(1000, rsv=RSV1 | RSV2 | RSV3)),
        fails(1002),
    )


def _opcode_cases() -> None:
    good = text(ping_msg())
    for cid, op, payload, sandwich in (
        ("4.1.1", 3, b"", False),
        ("4.1.2", 4, b"reserved", False),
        ("4.1.3", 5, b"", True),
        ("4.1.4", 6, b"reserved", True),
        ("4.1.5", 7, b"reserved", True),
        ("4.2.1", 11, b"", False),
        ("4.2.2", 12, b"reserved", False),
        ("4.2.3", 13, b"", True),
        ("4.2.4", 14, b"reserved", True),
        ("4.2.5", 15, b"reserved", True),
    ):
        kind = "non-control" if op < 8 else "control"
        bad = frame(op, payload)
        if sandwich:
            case(
                cid,
                f"text, reserved {kind} opcode {op}, ping",
                "5.2: an unknown opcode MUST fail the connection",
                send(good, bad, frame(OP_PING, b"x")),
                fails(1002, before=(pong_msg(),)),
            )
        else:
            case(
                cid,
                f"reserved {kind} opcode {op}" + (" with payload" if payload else ""),
                "5.2: an unknown opcode MUST fail the connection",
                send(bad),
                fails(1002),
            )


def _fragment_cases() -> None:
    msg = ping_msg("fragmented")
    a, b = msg[:10], msg[10:]
    case(
        "5.1",
        "ping in two fragments",
        "5.4/5.5: control frames MUST NOT be fragmented",
        send(frame(OP_PING, b"ab", fin=False), frame(OP_CONT, b"cd")),
        fails(1002),
    )
    case(
        "5.2",
        "pong in two fragments",
        "5.4/5.5",
        send(frame(OP_PONG, b"ab", fin=False), frame(OP_CONT, b"cd")),
        fails(1002),
    )
    case(
        "5.3",
        "text in two fragments",
        "5.4: the message is the concatenation",
        send(text(a, fin=False), frame(OP_CONT, b)),
        stays_open(pong_msg("fragmented")),
    )
    case(
        "5.4",
        "text in two fragments, 1 byte per write",
        "5.4",
        send(text(a, fin=False), frame(OP_CONT, b), chunk=1),
        stays_open(pong_msg("fragmented")),
    )
    case(
        "5.5",
        "text fragments with a ping between",
        "5.4: control frames MAY be injected",
        send(text(a, fin=False), frame(OP_PING, b"mid"), frame(OP_CONT, b)),
        stays_open(pong(b"mid"), pong_msg("fragmented")),
    )
    frames = [text(msg[:1], fin=False)]
    for i in range(1, len(msg)):
        frames.append(frame(OP_PING, b"%d" % i))
        frames.append(frame(OP_CONT, msg[i : i + 1], fin=i == len(msg) - 1))
    case(
        "5.6",
        f"text in {len(msg)} one-byte fragments, a ping before each continuation",
        "5.4/5.5.3",
        send(*frames),
        pongs_for([b"%d" % i for i in range(1, len(msg))], pong_msg("fragmented")),
        known=LWS_PING,
    )
    case(
        "5.7",
        "continuation (FIN) with nothing to continue",
        "5.4: fail",
        send(frame(OP_CONT, b"x")),
        fails(1002),
    )
    case(
        "5.8",
        "continuation (no FIN) then continuation (FIN), nothing to continue",
        "5.4",
        send(frame(OP_CONT, b"x", fin=False), frame(OP_CONT, b"y")),
        fails(1002),
    )
    case(
        "5.9",
        "text (no FIN) then a new text instead of a continuation",
        "5.4: fragments of one message only",
        send(text(a, fin=False), text(b)),
        fails(1002),
    )
    case(
        "5.10",
        "text (no FIN) then binary",
        "5.4",
        send(text(a, fin=False), frame(OP_BINARY, b"x")),
        fails(1002, 1003),
    )
    case(
        "5.11",
        "text as empty first, data, empty last fragments",
        "5.4: empty fragments valid",
        send(text(b"", fin=False), frame(OP_CONT, msg, fin=False), frame(OP_CONT, b"")),
        stays_open(pong_msg("fragmented")),
    )
    case(
        "5.12",
        "good text, continuation with nothing to continue, ping",
        "5.4",
        send(text(ping_msg()), frame(OP_CONT, b"x"), frame(OP_PING, b"x")),
        fails(1002, before=(pong_msg(),)),
    )


def _utf8_cases() -> None:
    hello = "κόσμε 𝄞 ✓"
    msg = ping_msg(hello)
    i4 = msg.index("𝄞".encode())
    case(
        "6.1",
        "valid multi-byte UTF-8",
        "5.6/8.1: valid UTF-8 accepted",
        send(text(msg)),
        stays_open(pong_msg(hello)),
    )
    case(
        "6.2",
        "valid text split inside a 4-byte character",
        "5.6: validity is per message",
        send(text(msg[: i4 + 2], fin=False), frame(OP_CONT, msg[i4 + 2 :])),
        stays_open(pong_msg(hello)),
    )
    case(
        "6.3",
        "valid text, one byte per fragment",
        "5.6",
        send(
            *(
                frame(OP_TEXT if i == 0 else OP_CONT, msg[i : i + 1], fin=i == len(msg) - 1)
                for i in range(len(msg))
            )
        ),
        stays_open(pong_msg(hello)),
    )
    nonchar = "\uffff\U0010ffff"
    case(
        "6.4",
        "noncharacters U+FFFF and U+10FFFF",
        "8.1: valid UTF-8 (Autobahn 6.23)",
        send(text(ping_msg(nonchar))),
        stays_open(pong_msg(nonchar)),
    )

    def bad(ts_bytes: bytes) -> bytes:
        return b'{"type":"ping","ts":"' + ts_bytes + b'"}'

    for cid, title, raw in (
        ("6.5", "byte 0xFF", b"\xff"),
        ("6.6", "overlong '/' (C0 AF)", b"\xc0\xaf"),
        ("6.7", "UTF-16 surrogate U+D800 (ED A0 80)", b"\xed\xa0\x80"),
        ("6.8", "above U+10FFFF (F4 90 80 80)", b"\xf4\x90\x80\x80"),
        ("6.9", "lone continuation byte 0x80", b"\x80"),
    ):
        case(
            cid,
            f"invalid UTF-8: {title}",
            "8.1: invalid UTF-8 MUST fail; 7.4.1: 1007",
            send(text(bad(raw))),
            fails(1007),
        )
    cut = bad("𝄞".encode())
    case(
        "6.10",
        "message ends inside a 4-byte character",
        "8.1: 1007",
        send(text(cut[: cut.index(b"\xf0") + 3])),
        fails(1007),
    )
    case(
        "6.11",
        "fragment ends with E2 82, next starts with 'x'",
        "8.1: 1007",
        send(text(b'{"type":"ping","ts":"\xe2\x82', fin=False), frame(OP_CONT, b'x"}')),
        fails(1007),
    )
    case(
        "6.12",
        "invalid first fragment, message left open",
        "8.1: fail (Autobahn: fail-fast is non-strict)",
        send(text(b'{"type":"\xff', fin=False)),
        fails(1007) | Expect("no answer yet", lambda o: o.end == "timeout" and not o.replies),
        sentinel=False,
        timeout=1.5,
    )
    case(
        "6.13",
        "close reason with invalid UTF-8",
        "5.5.1/8.1: 1007 (or 1002)",
        send(close_frame(1000, b"ok\xff\xfe")),
        fails(1007, 1002),
    )
    case(
        "6.14",
        "close reason with valid multi-byte UTF-8",
        "5.5.1: echo a close",
        send(close_frame(1000, hello.encode())),
        closes(1000),
    )


def _close_cases() -> None:
    case(
        "7.1.1",
        "close 1000",
        "5.5.1/7.1.1: answer with a close, then close TCP",
        send(close_frame(1000)),
        closes(1000),
    )
    case(
        "7.1.2",
        "close, then a text message",
        "5.5.1: no data after a close",
        send(close_frame(1000), text(ping_msg())),
        closes(1000),
    )
    case(
        "7.1.3",
        "close, then ping",
        "5.5.1: nothing after a close",
        send(close_frame(1000), frame(OP_PING, b"after")),
        closes(1000),
    )
    case("7.1.4", "close twice", "5.5.1", send(close_frame(1000), close_frame(1000)), closes(1000))
    case(
        "7.1.5",
        "text (no FIN), then close",
        "5.4: control frames between fragments",
        send(text(b'{"type":', fin=False), close_frame(1000)),
        closes(1000),
    )
    case(
        "7.3.1",
        "close with an empty body",
        "5.5.1/7.1.5: echo empty or 1000",
        send(close_frame(None)),
        closes(None, 1000),
    )
    case(
        "7.3.2",
        "close with a 1-byte body",
        "5.5.1: the body is a 2-byte code first",
        send(frame(OP_CLOSE, b"\x03")),
        fails(1002),
    )
    case(
        "7.3.3",
        "close 1000 with a reason",
        "5.5.1",
        send(close_frame(1000, b"Hello World!")),
        closes(1000),
    )
    case(
        "7.3.4",
        "close 1000 with a 123-byte reason",
        "5.5: 125-byte control payload",
        send(close_frame(1000, b"r" * 123)),
        closes(1000),
    )
    case(
        "7.3.5",
        "close 1000 with a 124-byte reason",
        "5.5: payload 126 > 125",
        send(close_frame(1000, b"r" * 124)),
        fails(1002),
    )
    for n, code in enumerate(
        (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999), start=1
    ):
        case(
            f"7.7.{n}",
            f"close {code} (valid)",
            "7.4: echo the code (or 1000)",
            send(close_frame(code)),
            closes(code, 1000),
        )
    for n, code in enumerate(
        (0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535), start=1
    ):
        case(
            f"7.9.{n}",
            f"close {code} (invalid)",
            "7.4.1/7.4.2: reserved or out of range",
            send(close_frame(code)),
            fails(1002),
        )
    for n, code in enumerate((1012, 1013, 1014), start=1):
        case(
            f"7.10.{n}",
            f"close {code} (IANA-registered after RFC 6455)",
            "7.4.2: either (registered since; Autobahn varies)",
            send(close_frame(code)),
            closes(code, 1000) | fails(1002),
        )


def _limit_cases() -> None:
    n = DEFAULT_LIMIT
    case(
        "9.1.1",
        f"text of exactly the limit ({n} bytes)",
        "our max_message: accepted",
        send(text(padded_ping(n))),
        stays_open(pong_msg()),
        stays_open(pong_msg()),
    )
    case(
        "9.1.2",
        f"text of the limit + 1 ({n + 1} bytes)",
        "7.4.1: 1009 past the limit",
        send(text(padded_ping(n + 1))),
        fails(1009),
        stays_open(pong_msg()),
    )

    def fragments(total: int, parts: int) -> list[bytes]:
        data = padded_ping(total)
        size = -(-total // parts)
        chunks = [data[i : i + size] for i in range(0, total, size)]
        return [
            frame(OP_TEXT if i == 0 else OP_CONT, c, fin=i == len(chunks) - 1)
            for i, c in enumerate(chunks)
        ]

    case(
        "9.2.1",
        f"{n} bytes in 4 fragments",
        "5.4 + our limit per message",
        send(*fragments(n, 4)),
        stays_open(pong_msg()),
        stays_open(pong_msg()),
    )
    case(
        "9.2.2",
        f"{n + 1} bytes in 4 fragments (each under the limit)",
        "7.4.1: 1009",
        send(*fragments(n + 1, 4)),
        fails(1009),
        stays_open(pong_msg()),
    )
    case(
        "9.3.1",
        "1 MiB text in one frame",
        "7.4.1: 1009",
        send(text(padded_ping(BIG_LIMIT))),
        fails(1009),
        stays_open(pong_msg()),
        timeout=10,
    )
    case(
        "9.3.2",
        "1 MiB text in 16 fragments of 64 KiB",
        "7.4.1: 1009",
        send(*fragments(BIG_LIMIT, 16)),
        fails(1009),
        stays_open(pong_msg()),
        timeout=10,
    )
    case(
        "9.3.3",
        "1 MiB + 1 text in one frame",
        "7.4.1: 1009 past the raised limit",
        send(text(padded_ping(BIG_LIMIT + 1))),
        fails(1009),
        fails(1009),
        timeout=10,
    )

    def header_only(ws: RawWebSocket) -> None:
        # Announce 16 MiB, send 4 KiB: the server must judge by the header.
        head = b"\x81\xff" + struct.pack("!Q", 16 << 20) + b"\x00\x00\x00\x00"
        ws.send_raw(head + b" " * 4096)

    case(
        "9.4.1",
        "16 MiB frame announced, 4 KiB sent",
        "7.4.1: 1009 from the header",
        header_only,
        fails(1009),
        fails(1009),
        sentinel=False,
        timeout=3,
    )

    def many(ws: RawWebSocket) -> None:
        ws.send_raw(b"".join(text(ping_msg(i)) for i in range(1000)))

    case(
        "9.5.1",
        "1000 ping messages in one write",
        "5.6: every message answered, in order",
        many,
        stays_open(*(pong_msg(i) for i in range(1000))),
        timeout=10,
    )


_length_cases()
_ping_cases()
_rsv_cases()
_opcode_cases()
_fragment_cases()
_utf8_cases()
_close_cases()
_limit_cases()
CASE_IDS = [c.id for c in CASES]
assert len(set(CASE_IDS)) == len(CASE_IDS), "duplicate case ids"

# ---------------------------------------------------------------------------
# Running one case


def _check_server_frame(f: Frame, o: Outcome) -> None:
    """What a client must check of the server (RFC 6455 5.1, 5.2, 5.5.1)."""
    if f.masked:
        o.violations.append("masked server frame")
    if f.rsv:
        o.violations.append("RSV set by server")
    if f.opcode == OP_CLOSE:
        if len(f.payload) == 1:
            o.violations.append("1-byte close body")
        code = f.close_code()
        if code is not None and not (
            1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999
        ):
            o.violations.append(f"server sent close code {code}")
        try:
            f.close_reason().decode("utf-8")
        except UnicodeDecodeError:
            o.violations.append("close reason not UTF-8")


def run_case(connect: Callable[[], RawWebSocket], c: Case) -> Outcome:
    """Open a socket, read welcome and state, play the case, record the answer."""
    o = Outcome()
    try:
        ws = connect()
    except (HandshakeError, OSError) as exc:
        o.end = "refused"
        o.violations.append(str(exc))
        return o
    try:
        for expected in (protocol.WELCOME, protocol.SESSION_STATE):
            f = ws.recv_frame(timeout=5)
            first = json.loads(f.payload)
            if first.get("type") != expected:
                raise AssertionError(f"expected {expected} first, got {first}")
        t0 = time.monotonic()
        c.act(ws)
        sent_close = getattr(c.act, "sends_close", False)
        if c.sentinel and not sent_close:
            ws.send_raw(text(SENTINEL))
        _collect(ws, c, o, sent_close)
        o.seconds = time.monotonic() - t0
    finally:
        ws.close()
    return o


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (RFC 8259)")


def _collect(ws: RawWebSocket, c: Case, o: Outcome, sent_close: bool) -> None:
    deadline = time.monotonic() + c.timeout
    message: list[bytes] = []
    opcode = None
    while True:
        left = deadline - time.monotonic()
        try:
            f = ws.recv_frame(timeout=max(left, 0.01))
        except Eof:
            o.end = "eof"
            return
        except TimeoutError:
            o.end = "timeout"
            return
        _check_server_frame(f, o)
        if f.opcode == OP_CLOSE:
            o.end = "close"
            o.close_code = f.close_code()
            o.close_reason = f.close_reason()
            if not sent_close or o.close_code in FAILURE_CODES:
                # Complete the closing handshake (5.5.1), echoing the code
                # (also when the server failed on a close frame of ours).
                code = o.close_code if o.close_code not in (None, 1005, 1006, 1015) else 1000
                ws.send_raw(frame(OP_CLOSE, close_payload(code)))
            t_close = time.monotonic()
            o.eof_after_close = ws.wait_eof(timeout=8)
            o.eof_delay = time.monotonic() - t_close
            return
        if f.opcode in (OP_PING, OP_PONG):
            o.replies.append(("ping" if f.opcode == OP_PING else "pong", f.payload))
            continue
        if f.opcode in (OP_TEXT, OP_BINARY):
            opcode, message = f.opcode, [f.payload]
        elif f.opcode == OP_CONT:
            message.append(f.payload)
        else:
            o.violations.append(f"server sent opcode {f.opcode}")
            continue
        if not f.fin:
            continue
        data = b"".join(message)
        if opcode == OP_BINARY:
            o.replies.append(("binary", data))
            continue
        try:
            decoded = json.loads(data.decode("utf-8"), parse_constant=_no_constant)
        except UnicodeDecodeError:
            o.violations.append("server text not UTF-8")
            o.replies.append(("text", data))
            continue
        except ValueError:
            o.replies.append(("text", data))
            continue
        if decoded == {"type": "pong", "ts": SENTINEL_TS}:
            o.end = "open"
            return
        o.replies.append(("json", decoded))


# ---------------------------------------------------------------------------
# The servers


def sidecar_server_type() -> type | None:
    """realtime._sidecar.Server, else the stand-in module mk/sidecar.mk builds
    until module.c registers the type (as tests/sidecar/test_sidecar_binding.py
    does); built here on demand. None when neither can be had."""
    try:
        mod = importlib.import_module("realtime._sidecar")
        if hasattr(mod, "Server"):
            return mod.Server
    except ImportError:
        pass
    outdir = os.path.join(ROOT, "build", "sidecar")
    target = os.path.join(outdir, "_sidecar_server_test.so")
    make = [
        "make",
        "-s",
        "-C",
        ROOT,
        "-f",
        "mk/sidecar.mk",
        "build/sidecar/_sidecar_server_test.so",
        f"SIDECAR_PY={sys.executable}",
    ]
    if subprocess.run(make, capture_output=True).returncode != 0 or not os.path.exists(target):
        return None
    if outdir not in sys.path:
        sys.path.insert(0, outdir)
    return importlib.import_module("_sidecar_server_test").Server


class SidecarThread:
    """The sidecar serving in a thread of this process."""

    def __init__(self, server_type: type, redis_port: int, **config: Any) -> None:
        self.srv = server_type(
            host="127.0.0.1",
            port=0,
            redis_port=redis_port,
            allowed_origins=ORIGIN,
            client_types=",".join(protocol.client_types()),
            stop_grace=1.0,
            **config,
        )
        self.port = self.srv.stats()["port"]
        self.thread = threading.Thread(target=self.srv.serve, name="sidecar", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.srv.stats()["redis_up"]:
            if time.monotonic() > deadline:
                raise RuntimeError(f"sidecar: Redis links not up: {self.srv.drain_logs()}")
            time.sleep(0.02)

    def stop(self) -> None:
        self.srv.stop()
        self.thread.join(10)


# ---------------------------------------------------------------------------
# The tests

# (server label, case id) -> Outcome, for the table.
RESULTS: dict[tuple[str, str], Outcome] = {}
SERVERS = ("sidecar", "sidecar 1MiB", "daphne")
_verbose = False


class _Conformance:
    """The cases as test methods; a mixin (not a TestCase, so that it is not
    run by itself) for a TransactionTestCase that sets `port`."""

    serialized_rollback = True  # keeps the question bank loaded by the migration
    label = ""
    strict = True  # failures fail (sidecar); else recorded only (Daphne)
    big = False  # run the length cases with expect_big
    port = 0

    def run(self, result=None):
        global _verbose
        _verbose = _verbose or bool(getattr(result, "showAll", False))
        return super().run(result)

    def setUp(self) -> None:
        api = Api()
        self.code, _host = api.create()
        _pid, self.token = api.join(self.code, "Conformance")
        self.path = f"/ws/game/{self.code}/?session_token={self.token}"

    def connect(self) -> RawWebSocket:
        return RawWebSocket.connect("127.0.0.1", self.port, self.path, origin=ORIGIN)

    def run_group(self, group: str) -> None:
        cases = [c for c in CASES if c.group == group and (not self.big or c.expect_big)]
        for c in cases:
            expect = c.expect_big if self.big else c.expect
            with self.subTest(case=c.id, title=c.title):
                o = run_case(self.connect, c)
                RESULTS[(self.label, c.id)] = o
                ok = expect.check(o) and not o.violations
                if self.strict and c.known:
                    self.assertFalse(
                        ok,
                        f"{c.id} {c.title}: known deviation no longer seen "
                        f"({c.known}): remove the marker",
                    )
                elif self.strict:
                    self.assertTrue(
                        ok, f"{c.id} {c.title}: expected {expect.text} ({c.rfc}); got {o.summary()}"
                    )
                else:
                    self.assertNotEqual(o.end, "refused", o.summary())

    def test_1_framing(self) -> None:
        self.run_group("1")

    def test_2_ping_pong(self) -> None:
        self.run_group("2")

    def test_3_reserved_bits(self) -> None:
        self.run_group("3")

    def test_4_reserved_opcodes(self) -> None:
        self.run_group("4")

    def test_5_fragmentation(self) -> None:
        self.run_group("5")

    def test_6_utf8(self) -> None:
        self.run_group("6")

    def test_7_close(self) -> None:
        self.run_group("7")

    def test_9_limits(self) -> None:
        self.run_group("9")


class _SidecarBase(_Conformance):
    config: dict[str, Any] = {}
    server: SidecarThread | None = None

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        server_type = sidecar_server_type()
        if server_type is None:
            raise unittest.SkipTest("no sidecar Server type (realtime._sidecar or stand-in)")
        # RFC 6455 cases, not the message rate (test_limits): no bucket, as
        # the C defaults had before the settings table made them one with
        # the Python ones (msg_rate 10/s).
        config = {"msg_rate": 0.0, **cls.config}
        cls.server = SidecarThread(server_type, settings.CHANNEL_REDIS_PORT, **config)
        cls.port = cls.server.port

    @classmethod
    def tearDownClass(cls) -> None:
        if cls.server is not None:
            cls.server.stop()
        super().tearDownClass()


class SidecarConformanceTests(_SidecarBase, TransactionTestCase):
    """The sidecar with its default 4096-byte message limit."""

    label = "sidecar"


class SidecarRaisedLimitTests(_SidecarBase, TransactionTestCase):
    """The length cases with max_message raised to 1 MiB."""

    label = "sidecar 1MiB"
    big = True
    config = {"max_message": BIG_LIMIT}


class DaphneConformanceTests(_Conformance, TransactionTestCase):
    """Daphne + GameConsumer: informational, differences are recorded."""

    label = "daphne"
    strict = False
    daphne: servers.Daphne | None = None

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.daphne = servers.Daphne()
        cls.port = cls.daphne.port

    @classmethod
    def tearDownClass(cls) -> None:
        if cls.daphne is not None:
            cls.daphne.close()
        super().tearDownClass()


def result_table() -> str:
    """case | expected | one column per server; '≠' marks a miss."""
    rows = [("case", "title", "expected (RFC 6455)", *SERVERS)]
    for c in CASES:
        cells = []
        for label in SERVERS:
            o = RESULTS.get((label, c.id))
            if o is None:
                cells.append("-")
                continue
            expect = c.expect_big if label == "sidecar 1MiB" else c.expect
            ok = expect is not None and expect.check(o) and not o.violations
            mark = "" if ok else "≠ known: " if c.known and label != "daphne" else "≠ "
            cells.append(mark + o.summary())
        if any(cell != "-" for cell in cells):
            rows.append((c.id, c.title[:44], c.expect.text[:40], *cells))
    widths = [min(max(len(r[i]) for r in rows), 48) for i in range(len(rows[0]))]
    return "\n".join(
        " | ".join(cell[:w].ljust(w) for cell, w in zip(r, widths, strict=True)) for r in rows
    )


def tearDownModule() -> None:
    if _verbose and RESULTS:
        sys.stderr.write("\nWebSocket conformance (≠: differs from the expectation)\n")
        sys.stderr.write(result_table() + "\n")
