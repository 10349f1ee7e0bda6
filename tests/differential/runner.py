"""Run one differential case against a real WebSocket server and compare.

A case (tests.differential.strategies) runs on each server against that
server's own session (same game, same players); what a client can observe
is recorded: the handshake's HTTP status, the greeting's message types or
the close code, then per message the reply's type (and `code` for an
`error`, `action` for a `result`) or the close code, and the close code the
server answers a normal close with. Both records must be equal, except for
the intended differences (INTENDED, the table in docs/protocol.md, "Sidecar
only"), where each server must do what the table says.

Every text either server sends must be strict JSON (realtime.protocol.loads).
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from autobahn.websocket.protocol import _url_to_origin

from realtime import protocol
from realtime.config import setting

from .. import wsraw

CORPUS = Path(__file__).resolve().parent.parent / "fuzz" / "corpus" / "differential"
REPLY_TIMEOUT = 3.0

# Intended differences: message kind -> what each server does with it. The
# same rows are in docs/protocol.md ("Intended differences"); a test checks.
INTENDED = {
    "target_control": {
        "sidecar": "drops the connection, ends the target there (%0D), or HTTP 403",
        "daphne": "HTTP 403 (400 for a fragment or a bad Origin)",
        "doc": "a request target with an escaped control character (%00 to %1F) first",
    },
    "target_escape": {
        "sidecar": "HTTP 403 (libwebsockets reads the target before anything else)",
        "daphne": "HTTP 403, or 400 for a fragment or a bad Origin (Autobahn reads them first)",
        "doc": "a request target with a % not followed by two hex digits",
    },
    "target_double_slash": {
        "sidecar": "routes the path with its slashes collapsed",
        "daphne": "routes the path after `//host` (urlparse reads a host there)",
        "doc": "a request target starting with //",
    },
    "origin_unparsable": {
        "sidecar": "HTTP 403",
        "daphne": "HTTP 400",
        "doc": "an Origin header that is not a URL with a host",
    },
    "too_large": {
        "sidecar": "close 1009",
        "daphne": "answers",
        "doc": "a text message over `max_message` bytes",
    },
    "binary": {
        "sidecar": "close 1003",
        "daphne": "error INVALID_MESSAGE",
        "doc": "a binary frame",
    },
    "bad_utf8": {
        "sidecar": "close 1007",
        "daphne": "drop",
        "doc": "a text frame that is not UTF-8",
    },
}


@dataclass
class Target:
    """One server and the session a case runs against on it."""

    name: str  # "sidecar" or "daphne"
    port: int
    code: str
    tokens: dict[str, str]  # player, host, other_player, other_host
    other_code: str


def _fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def _code_segment(spec: dict, target: Target) -> str:
    which, form = spec["which"], spec["form"]
    if which == "text":
        return quote(spec["text"], safe="./%")
    code = {"own": target.code, "other": target.other_code, "unknown": "QXQX"}[which]
    if form == "lower":
        return code.lower()
    if form == "mixed":
        return "".join(c.lower() if i % 2 else c for i, c in enumerate(code))
    if form == "fullwidth":
        return quote(_fullwidth(code), safe="")
    if form == "percent":
        return "".join(f"%{ord(c):02X}" for c in code)
    if form == "percent_lower":
        return "".join(f"%{ord(c):02x}" for c in code.lower())
    if form == "nfd_ring":
        return quote(unicodedata.normalize("NFD", code + "\u030a"), safe="")
    return code


def _value(spec: dict, target: Target) -> str:
    if "text" in spec:
        return spec["text"]
    token = target.tokens[spec["token"]]
    form = spec["form"]
    if form == "percent":
        return "".join(f"%{ord(c):02X}" for c in token)  # already encoded
    if form == "upper":
        return token.upper()
    if form == "cut":
        return token[:-1]
    if form == "plus_space":
        return token[:5] + "+" + token[5:]
    if form == "doubled":
        return token + token
    if form == "nfkc_wide":
        return _fullwidth(token[:1]) + token[1:]
    return token


def request_path(handshake: dict, target: Target) -> str:
    """The request target (ASCII) a case's handshake asks for on `target`."""
    pairs = []
    for name, spec in handshake["query"]:
        value = _value(spec, target)
        if handshake["raw_query"] or spec.get("form") == "percent":
            # Raw: what a sloppy client sends ("&", "=", "+" and "%" as they are).
            safe = "=&+%" if handshake["raw_query"] else "%"
            pairs.append(quote(name, safe=safe) + "=" + quote(value, safe=safe))
        else:
            pairs.append(quote(name, safe="") + "=" + quote(value, safe=""))
    path = handshake["prefix"] + _code_segment(handshake["code"], target) + handshake["suffix"]
    path = quote(path, safe="/%;#")
    return path + ("?" + "&".join(pairs) if pairs else "")


def message_kind(message: dict) -> str:
    """`text`, or the INTENDED key of a message the servers treat differently."""
    if message["kind"] == "binary":
        return "binary"
    if message["kind"] == "bad_utf8":
        return "bad_utf8"
    if len(message["text"].encode()) > setting("max_message"):
        return "too_large"
    return "text"


def _summary(text: str, bad_json: list[str]) -> str:
    try:
        message = protocol.loads(text)
    except ValueError:
        bad_json.append(text[:200])
        return "not JSON"
    if not isinstance(message, dict):
        bad_json.append(text[:200])
        return "not an object"
    kind = str(message.get("type"))
    if kind == protocol.ERROR:
        return f"error {message.get('code')}"
    if kind == protocol.RESULT:
        return f"result {message.get('action')}"
    return kind


def _next(ws: wsraw.RawWebSocket, bad_json: list[str], timeout: float) -> tuple[str, bool]:
    """The next frame that matters, summarised; (summary, still open)."""
    while True:
        try:
            frame = ws.recv_frame(timeout=timeout)
        except wsraw.Eof:
            return "drop", False
        except (TimeoutError, OSError):
            return "timeout", True
        if frame.opcode == wsraw.OP_CLOSE:
            return f"close {frame.close_code()}", False
        if frame.opcode == wsraw.OP_TEXT:
            try:
                return _summary(frame.payload.decode("utf-8"), bad_json), True
            except UnicodeDecodeError:
                bad_json.append(repr(frame.payload[:200]))
                return "not UTF-8", True
        if frame.opcode == wsraw.OP_PING:
            ws.send_frame(wsraw.OP_PONG, frame.payload)


def run(case: dict, target: Target) -> dict:
    """What a client observes of `case` on `target` (see the module doc)."""
    observed: dict = {"status": None, "greeting": [], "replies": [], "close": None}
    bad_json: list[str] = []
    handshake = case["handshake"]
    path = request_path(handshake, target)
    observed["target"] = path
    try:
        ws = wsraw.RawWebSocket.connect(
            "127.0.0.1",
            target.port,
            path,
            origin=handshake["origin"],
            timeout=10,
        )
    except wsraw.HandshakeError as exc:
        observed["status"] = exc.status or ("timeout" if "in time" in str(exc) else "drop")
        return observed
    observed["status"] = 101
    try:
        while True:
            summary, is_open = _next(ws, bad_json, REPLY_TIMEOUT)
            observed["greeting"].append(summary)
            if not is_open or summary in (protocol.SESSION_STATE, "timeout"):
                break
        if not is_open:
            return observed
        for message in case["messages"]:
            kind = message_kind(message)
            if message["kind"] == "text":
                sent = ws.send_text(message["text"])
            elif message["kind"] == "binary":
                sent = ws.send_frame(wsraw.OP_BINARY, bytes.fromhex(message["hex"]))
            else:
                sent = ws.send_frame(wsraw.OP_TEXT, bytes.fromhex(message["hex"]))
            summary, is_open = _next(ws, bad_json, REPLY_TIMEOUT) if sent else ("drop", False)
            observed["replies"].append({"kind": kind, "got": summary})
            if not is_open:
                return observed
            if kind != "text":
                break  # an intended difference: the rest is not compared
        ws.send_close(1000)
        observed["close"], _ = _next(ws, bad_json, REPLY_TIMEOUT)
    finally:
        if bad_json:
            observed["not_strict_json"] = bad_json
        ws.close()
    return observed


def _handshake_rules(case: dict, target: str) -> dict | None:
    """For a handshake an intended difference decides, what each server may
    answer: {server: (row, allowed statuses)}; None for any other.

    libwebsockets reads the whole request target first (bad escapes), then
    the sidecar looks at the path ("#") and the Origin; Autobahn looks at the
    path ("#") and the Origin first, then Channels and realtime.routing.
    """
    path = target.partition("?")[0]
    bad = re.search("%(?![0-9A-Fa-f]{2})|%[01][0-9A-Fa-f]", target)
    control = bool(bad and re.fullmatch("%[01][0-9A-Fa-f]", target[bad.start() : bad.start() + 3]))
    fragment = "#" in path
    origin = case["handshake"]["origin"]
    bad_origin = origin is not None and not _origin_parses(origin)
    if path.startswith("//") and not (bad or fragment or bad_origin):
        every = ("drop", 400, 403, 101)
        return {name: ("target_double_slash", every) for name in ("sidecar", "daphne")}
    if not (bad or fragment or bad_origin):
        return None
    if control:
        sidecar = ("target_control", ("drop", 400, 403, 101))
    elif bad:
        sidecar = ("target_escape", (403,))
    elif fragment:
        sidecar = ("fragment", (400,))
    else:
        sidecar = ("origin_unparsable", (403,))
    if fragment:
        daphne = ("fragment", (400,))
    elif bad_origin:
        daphne = ("origin_unparsable", (400,))
    else:
        daphne = ("target_escape", (403,))
    return {"sidecar": sidecar, "daphne": daphne}


def _origin_parses(origin: str) -> bool:
    """False for an Origin that Daphne's Autobahn refuses to parse (HTTP 400)."""
    try:
        _url_to_origin(origin)
    except ValueError:
        return False
    return True


def _matches(expected: str, got: str) -> bool:
    if expected == "answers":
        return not got.startswith(("close", "drop", "timeout"))
    if expected == "drop":
        return got in ("drop", "close None") or got.startswith("close 1007")
    return got == expected


def disagreement(case: dict, sidecar: dict, daphne: dict) -> str | None:
    """Why the two observations of `case` disagree, or None."""
    for name, seen in (("sidecar", sidecar), ("daphne", daphne)):
        if seen.get("not_strict_json"):
            return f"{name} sent text that is not strict JSON: {seen['not_strict_json']}"
    expected = _handshake_rules(case, sidecar["target"])
    if expected is not None:
        for name, seen in (("sidecar", sidecar), ("daphne", daphne)):
            row, allowed = expected[name]
            if seen["status"] not in allowed:
                return f"{name}: {row}: status {seen['status']}, not one of {allowed}"
        return None
    head = ("status", "greeting")
    if [sidecar[k] for k in head] != [daphne[k] for k in head]:
        return "handshake or greeting differ"
    for ours, theirs in zip(sidecar["replies"], daphne["replies"], strict=False):
        kind = ours["kind"]
        if kind in INTENDED:
            want = INTENDED[kind]
            if not _matches(want["sidecar"], ours["got"]):
                return f"sidecar: {want['doc']} answered {ours['got']!r}, not {want['sidecar']!r}"
            if not _matches(want["daphne"], theirs["got"]):
                return f"daphne: {want['doc']} answered {theirs['got']!r}, not {want['daphne']!r}"
            return None
        if ours != theirs:
            return "replies differ"
    if len(sidecar["replies"]) != len(daphne["replies"]) or sidecar["close"] != daphne["close"]:
        return "replies or close differ"
    return None


def case_id(case: dict) -> str:
    text = json.dumps(case, sort_keys=True, ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def save(case: dict, why: str) -> Path:
    """Keep a case that made the servers disagree as a regression case."""
    CORPUS.mkdir(parents=True, exist_ok=True)
    path = CORPUS / f"{case_id(case)}.json"
    path.write_text(json.dumps({"why": why, "case": case}, indent=1, ensure_ascii=True) + "\n")
    return path


def corpus() -> list[tuple[str, dict]]:
    """Every saved case: (file name, case)."""
    return [
        (path.name, json.loads(path.read_text())["case"]) for path in sorted(CORPUS.glob("*.json"))
    ]
