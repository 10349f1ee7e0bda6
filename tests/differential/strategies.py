"""Hypothesis strategies for the differential fuzzer: handshakes and client
messages, as plain JSON-able dicts (a case is saved as it was drawn).

A handshake names the session symbolically (`own`, `other`, `unknown`) so
that one case runs against either server's own session; a message is a
text frame (any text, most of it JSON or nearly JSON), a binary frame or
bytes that are not UTF-8.
"""

from __future__ import annotations

import json

from hypothesis import strategies as st

from realtime import protocol

# Every type the servers know, and near misses.
KNOWN_TYPES = (
    "ping",
    "reaction",
    "weirsoe.lie",
    "weirsoe.guess",
    "hunch.guess",
    "spyster.accuse",
    "spyster.vote",
    "spyster.spy_guess",
    "spyster.suspect",
)
NEAR_TYPES = ("PING", " ping", "ping ", "pin", "pingg", "ping\u0000", "Ping", "reaction.", "result")
FIELDS = (
    "ts",
    "ref",
    "text",
    "emoji",
    "target_player_id",
    "answer_id",
    "total",
    "location",
    "suspect_id",
    "agree",
)
EMOJI = ("😂", "👏", "💯", "x", "😂\u200d", "")

# --- JSON text, including what is not quite JSON ---------------------------------

ODD_NUMBERS = (
    "NaN",
    "-NaN",
    "Infinity",
    "-Infinity",
    "1e400",
    "-1e400",
    "1E308",
    "1.7976931348623157e308",
    "1.8e308",
    "1e-400",
    "-0",
    "-0.0",
    "01",
    "1.",
    "1e",
    "+1",
    ".5",
    "0x10",
    "1_000",
    "9" * 309,
    "9" * 308,
    "123456789012345678901234567890",
)
ODD_STRINGS = (
    '"\\ud800"',
    '"\\udfff"',
    '"\\udc00\\ud800"',
    '"\\ud83d\\ude00"',
    '"\\ud83d"',
    '"\\u0000"',
    '"a\\u0000b"',
    '"\\x41"',
    '"\\u00e9"',
    '"\\U0041"',
    '"\\u12"',
    '"\\/"',
    '"\t"',
    '"\x7f"',
    '"\\a"',
    "'single'",
    '"unterminated',
)
WHITESPACE = ("", " ", "\n", "\t", "\r\n", "\u00a0", "\x0b", "\x00", "\u2028")


def _string_literal(text: str, ascii_only: bool) -> str:
    return json.dumps(text, ensure_ascii=ascii_only)


plain_text = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=24
) | st.sampled_from(("", "Ana", "😂", "\u200b", "\u202eabc", "\x1b[31m", "a" * 60))
string_literals = st.one_of(
    st.builds(_string_literal, plain_text, st.booleans()),
    st.sampled_from(ODD_STRINGS),
)
numbers = st.one_of(
    st.integers().map(str),
    st.integers(min_value=-(10**400), max_value=10**400).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(ODD_NUMBERS),
)
scalars = st.one_of(
    st.sampled_from(("null", "true", "false", "True", "nul", "undefined")),
    numbers,
    string_literals,
)


def _array(items: list[str]) -> str:
    return "[" + ",".join(items) + "]"


def _object(members: list[tuple[str, str]]) -> str:
    return "{" + ",".join(f"{k}:{v}" for k, v in members) + "}"


json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(_array),
        st.lists(st.tuples(string_literals, inner), max_size=4).map(_object),
    ),
    max_leaves=12,
)


@st.composite
def deep_values(draw) -> str:
    """Arrays or objects nested around the depth limit (protocol.MAX_JSON_DEPTH)."""
    limit = protocol.MAX_JSON_DEPTH
    depth = draw(st.sampled_from((limit - 2, limit - 1, limit, limit + 1, 200, 5000)))
    inner = draw(scalars)
    if draw(st.booleans()):
        return "[" * depth + inner + "]" * depth
    return '{"a":' * depth + inner + "}" * depth


type_values = st.one_of(
    st.sampled_from(KNOWN_TYPES).map(json.dumps),
    st.sampled_from(NEAR_TYPES).map(json.dumps),
    st.sampled_from(('"pin\\u0067"', '"p\\u0069ng"', '"\\u0070ing"')),
    string_literals,
    json_values,
)
field_values = st.one_of(
    st.sampled_from(EMOJI).map(json.dumps),
    st.integers(min_value=-2, max_value=20).map(str),
    json_values,
    deep_values(),
)


@st.composite
def message_objects(draw) -> str:
    """A JSON object with a `type` (maybe twice, maybe not a string) and
    other fields, with odd whitespace between its tokens."""
    members = [('"type"', draw(type_values))]
    for _ in range(draw(st.integers(0, 3))):
        key = draw(st.sampled_from(FIELDS).map(json.dumps) | string_literals)
        members.append((key, draw(field_values)))
    if draw(st.integers(0, 9)) == 0:
        members.append(('"type"', draw(type_values)))  # a duplicate key: the last counts
    if draw(st.integers(0, 9)) == 0:
        members.append(('"t\\u0079pe"', draw(type_values)))  # an escaped duplicate
    order = draw(st.permutations(range(len(members))))
    space = draw(st.sampled_from(WHITESPACE[:5]))
    body = ("," + space).join(f"{members[i][0]}{space}:{space}{members[i][1]}" for i in order)
    text = "{" + space + body + space + "}"
    return draw(st.sampled_from(WHITESPACE)) + text + draw(st.sampled_from(WHITESPACE))


@st.composite
def mangled(draw) -> str:
    """A message text with a slice cut out or some text put in."""
    text = draw(message_objects())
    start = draw(st.integers(0, len(text)))
    end = draw(st.integers(start, len(text)))
    return (
        text[:start] + draw(st.sampled_from(("", ",", "}", '"', "\\", "NaN", "\x00"))) + text[end:]
    )


text_frames = st.one_of(
    message_objects(),
    message_objects(),
    json_values,
    mangled(),
    deep_values(),
    st.builds(lambda v: '{"type":"ping","ts":' + v + "}", deep_values()),
    st.builds(lambda n: '{"type":"ping","ts":"' + "x" * n + '"}', st.integers(4000, 4100)),
).map(lambda text: {"kind": "text", "text": text})
binary_frames = st.binary(max_size=16).map(lambda b: {"kind": "binary", "hex": b.hex()})
bad_utf8 = st.sampled_from((b"\xff", b'{"type":"ping","ts":"\xc3"}', b"\xed\xa0\x80")).map(
    lambda b: {"kind": "bad_utf8", "hex": b.hex()}
)
messages = st.one_of(text_frames, text_frames, text_frames, binary_frames, bad_utf8)

# --- handshakes ----------------------------------------------------------------------

CODE_FORMS = ("upper", "lower", "mixed", "fullwidth", "percent", "percent_lower", "nfd_ring")
PREFIXES = (
    "/ws/game/",
    "/ws/game/",
    "/ws/game/",
    "/ws/Game/",
    "/ws/game//",
    "//ws/game/",
    "/ws/nothing/",
    "/ws/game/x/",
    "/ws/%67ame/",
    "/./ws/game/",
    "/ws/game/../game/",
    "ws/game/",
    "/ws/game/./",
    "/ws/./game/",
    "/ws/x/../game/",
    "/ws/game/.../",
    "/ws/game/%2E/",
    "/ws/game%2F",
    "/ws/game/%zz/",
)
SUFFIXES = ("/", "/", "/", "", "//", "/x/", "/%2F", "%2F", "/;x", "/#frag", "/ ", "/\u00e9/")
TOKENS = ("player", "host", "other_player", "other_host")
TOKEN_FORMS = ("as_is", "as_is", "percent", "upper", "cut", "plus_space", "doubled", "nfkc_wide")
ORIGINS = (
    "http://localhost",
    "http://localhost",
    "http://localhost",
    "http://127.0.0.1:1234",
    "HTTP://LOCALHOST",
    "http://localhost:80",
    "https://localhost",
    "http://localhost.",
    "http://evil.example",
    "http://localhost.evil.example",
    "null",
    "",
    "localhost",
    "http://[::1]",
    "http://xn--lcalhost-wza",
    None,
)

code_specs = st.fixed_dictionaries(
    {
        "which": st.sampled_from(("own", "own", "own", "other", "unknown", "text")),
        "form": st.sampled_from(CODE_FORMS),
        "text": st.text(max_size=6) | st.text(alphabet="./%2eEfFAB", max_size=8),
    }
)
token_values = st.one_of(
    st.fixed_dictionaries({"token": st.sampled_from(TOKENS), "form": st.sampled_from(TOKEN_FORMS)}),
    st.fixed_dictionaries({"text": st.text(max_size=40)}),
)
role_values = st.one_of(
    st.sampled_from(
        ("host", "player", "HOST", " host", "host ", "", "admin", "h%6Fst", "host\u0000")
    ),
    st.text(max_size=8),
).map(lambda v: {"text": v})
query_pairs = st.lists(
    st.one_of(
        st.tuples(
            st.sampled_from(("session_token", "SESSION_TOKEN", "session_token ")), token_values
        ),
        st.tuples(st.just("role"), role_values),
        st.tuples(st.text(max_size=6), st.text(max_size=6).map(lambda v: {"text": v})),
    ),
    max_size=4,
)
handshakes = st.fixed_dictionaries(
    {
        "prefix": st.sampled_from(PREFIXES),
        "code": code_specs,
        "suffix": st.sampled_from(SUFFIXES),
        "query": query_pairs,
        "raw_query": st.booleans(),
        "origin": st.sampled_from(ORIGINS),
    }
)

# Mostly a player or the host with their own token: most cases get past the
# handshake and test messages.
good_handshakes = st.fixed_dictionaries(
    {
        "prefix": st.just("/ws/game/"),
        "code": st.just({"which": "own", "form": "upper", "text": ""}),
        "suffix": st.just("/"),
        "query": st.sampled_from(
            (
                [("session_token", {"token": "player", "form": "as_is"})],
                [("role", {"text": "host"}), ("session_token", {"token": "host", "form": "as_is"})],
            )
        ),
        "raw_query": st.just(False),
        "origin": st.just("http://localhost"),
    }
)

cases = st.fixed_dictionaries(
    {
        "game": st.sampled_from(("weirsoe", "hunch", "spyster")),
        "handshake": st.one_of(good_handshakes, good_handshakes, handshakes),
        "messages": st.lists(messages, max_size=5),
    }
)
