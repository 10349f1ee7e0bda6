"""The sidecar's settings, one row each: the only place they are written.

`PARTYHUB_SIDECAR[name]` overrides a default. From this table come the C
fields, defaults and range checks (realtime/c_tables.py, run by setup.py
and mk/gen.mk, generates `ph_settings.def` into build/ for
csrc/sidecar/server.h), the keywords of
`realtime._sidecar.Server`, realtime.config's reading and checking of
PARTYHUB_SIDECAR, `runsidecar`'s flags, and the table in
docs/operations.md (tests/test_settings_table.py keeps it equal).

Pure data and standard library only: setup.py reads it before anything is
installed.
"""

from __future__ import annotations

from typing import NamedTuple


class Setting(NamedTuple):
    name: str
    type: str  # "int", "bytes", "count" (both size_t in C), "float", "str"
    default: int | float | str
    low: int | float  # numbers: the smallest value; str: 0
    high: int | float  # numbers: the largest value; str: the longest
    help: str
    to_c: bool = True  # a keyword of realtime._sidecar.Server


KiB = 1024
MiB = 1024 * KiB

SETTINGS: tuple[Setting, ...] = (
    Setting("bind", "str", "127.0.0.1:8001", 0, 300, "listen address, host:port", to_c=False),
    Setting("ping_interval", "int", 20, 1, 65535, "seconds of silence before a protocol PING"),
    Setting(
        "ping_timeout", "int", 30, 1, 65535, "seconds without a PONG before the socket is dropped"
    ),
    Setting(
        "max_message",
        "bytes",
        4096,
        1,
        16 * MiB,
        "bytes of one client message (whole or fragmented); larger closes 1009",
    ),
    Setting(
        "rx_buffer",
        "bytes",
        128,
        128,
        64 * KiB,
        "bytes of lws' receive buffer per connection (larger messages arrive in "
        "pieces); memory per idle socket",
    ),
    Setting(
        "hard_bytes",
        "bytes",
        1 * MiB,
        0,
        1024 * MiB,
        "bytes in a socket's output queue: over it, close 1008 at once (0 = no limit)",
    ),
    Setting(
        "hard_msgs",
        "count",
        1024,
        0,
        1 << 20,
        "frames in a socket's output queue: over it, close 1008 at once (0 = no limit)",
    ),
    Setting(
        "soft_bytes",
        "bytes",
        256 * KiB,
        0,
        1024 * MiB,
        "bytes in a socket's output queue that, held for soft_seconds, close 1008 "
        "(a client that stopped reading; 0 = none)",
    ),
    Setting(
        "soft_msgs",
        "count",
        256,
        0,
        1 << 20,
        "frames in a socket's output queue that, held for soft_seconds, close 1008 (0 = none)",
    ),
    Setting("soft_seconds", "float", 10.0, 0, 86400, "how long a queue may stay over a soft limit"),
    Setting(
        "writes_per_turn",
        "int",
        16,
        1,
        1_000_000,
        "frames written per socket per loop turn (fairness)",
    ),
    Setting("stop_grace", "float", 2.0, 0, 60, "seconds to let close frames out on stop"),
    Setting(
        "inbound_channel",
        "str",
        "partyhub.inbound",
        1,
        99,
        "where client messages go (the runworker channel)",
    ),
    Setting(
        "msg_rate",
        "float",
        10.0,
        0,
        1e6,
        "client messages per second per socket (token bucket; 0 = no limit); over "
        "it RATE_LIMITED, on Daphne too",
    ),
    Setting("msg_burst", "int", 20, 1, 1_000_000, "client messages a socket may send at once"),
    Setting(
        "msg_flood",
        "int",
        50,
        1,
        1_000_000,
        "refused messages without a pause before the socket is closed 4008",
    ),
    Setting(
        "max_conns_per_ip",
        "int",
        256,
        0,
        1_000_000,
        "open sockets per client address (0 = no limit); over it HTTP 429",
    ),
    Setting(
        "max_connections",
        "int",
        0,
        0,
        10_000_000,
        "open sockets in all (0 = no limit); over it HTTP 503",
    ),
    Setting(
        "trusted_proxies",
        "str",
        "127.0.0.1,::1",
        0,
        4096,
        "peers whose X-Forwarded-For names the client (your nginx)",
    ),
)

BY_NAME = {s.name: s for s in SETTINGS}

# Where docs/operations.md holds docs_table() (python3 -m realtime.settings_table).
DOCS = "docs/operations.md"
DOCS_BEGIN = "<!-- settings table: generated from realtime/settings_table.py -->"
DOCS_END = "<!-- end of settings table -->"

_C_TYPES = {"int": "int", "bytes": "size", "count": "size", "float": "float", "str": "str"}


def _c_literal(value) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(float(value)) if isinstance(value, float) else str(value)


def c_def() -> str:
    """ph_settings.def: PH_SETTING(name, type, default, low, high) per C setting."""
    lines = ["/* ph_settings.def: generated from realtime/settings_table.py; do not edit. */"]
    for s in SETTINGS:
        if s.to_c:
            args = (s.name, _C_TYPES[s.type], _c_literal(s.default), s.low, s.high)
            lines.append("PH_SETTING({}, {}, {}, {}, {})".format(*args))
    return "\n".join(lines) + "\n"


def _shown(s: Setting, value) -> str:
    if s.type == "bytes" and value >= KiB and value % KiB == 0:
        return f"{value // MiB} MiB" if value % MiB == 0 else f"{value // KiB} KiB"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"`{value}`" if s.type == "str" else str(value)


def docs_table() -> str:
    """The Markdown table of docs/operations.md "Settings for every limit"."""
    rows = ["| setting | default | range | what it limits |", "|---|---|---|---|"]
    for s in SETTINGS:
        if s.type == "str":
            span = f"up to {s.high} characters"
        else:
            span = f"{_shown(s, s.low)} .. {_shown(s, s.high)}"
        rows.append(f"| `{s.name}` | {_shown(s, s.default)} | {span} | {s.help} |")
    return "\n".join(rows) + "\n"


def write_docs(path: str) -> None:
    """Put docs_table() between the markers of the docs file at `path`."""
    with open(path) as f:
        text = f.read()
    head, rest = text.split(DOCS_BEGIN + "\n", 1)
    _, tail = rest.split(DOCS_END, 1)
    with open(path, "w") as f:
        f.write(head + DOCS_BEGIN + "\n" + docs_table() + DOCS_END + tail)


if __name__ == "__main__":
    write_docs(DOCS)
