"""Write the hand-made seed inputs of each fuzz target into corpus/<target>/.

    python tests/fuzz/seeds.py

The committed corpus started from these and grew by `make fuzz-merge`; run
this again only to restore the seeds (existing files are kept).
"""

from __future__ import annotations

import hashlib
import json
import os

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))
PREFIX = "specific.0123456789abcdef0123456789abcdef!"  # fuzz_redis_reply's
CONN3 = f"{3:016x}{0x0123456789ABCDEF:016x}"


def resp(value) -> bytes:
    """RESP2 encoding: bytes/str bulk, int integer, list array, None nil,
    Exception error."""
    if value is None:
        return b"$-1\r\n"
    if isinstance(value, Exception):
        return b"-" + str(value).encode() + b"\r\n"
    if isinstance(value, int):
        return b":%d\r\n" % value
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bytes):
        return b"$%d\r\n%s\r\n" % (len(value), value)
    return b"*%d\r\n" % len(value) + b"".join(resp(v) for v in value)


def sel(callback: int, serial: int) -> int:
    """A selector byte of fuzz_redis_reply for (callback, connection serial)."""
    for b in range(256):
        if b % 5 == callback and 1 + (b >> 3) % 5 == serial:
            return b
    raise ValueError((callback, serial))


def channel_member(message: dict) -> bytes:
    return b"\x07" * 12 + msgpack.packb(message)


def write(target: str, name: str, data: bytes) -> None:
    path = os.path.join(HERE, "corpus", target)
    os.makedirs(path, exist_ok=True)
    full = os.path.join(path, "seed-" + name)
    if not os.path.exists(full):
        with open(full, "wb") as f:
            f.write(data)


def main() -> None:
    event = {
        "type": "game.event",
        "seq": 5,
        "text": json.dumps({"type": "phase.lie_started", "seq": 5, "payload": {}}),
        "__asgi_channel__": [PREFIX + "g.game_ABCD", PREFIX + "c." + CONN3],
    }
    close = {"type": "websocket.close", "code": 4000, "__asgi_channel__": PREFIX + "g.game_ABCD"}
    for name, msg in (("event", event), ("close", close)):
        write("channel_msg", name, msgpack.packb(msg))
        write("mpack_read", name, msgpack.packb(msg))
    write("mpack_read", "nested", msgpack.packb([[[{"a": [1.5, None, True, b"\x00"]}]]]))

    for name, text in (
        ("ping", '{"type":"ping","ts":[1e14,5e-324,"\\u00e9",{"a":null}]}'),
        ("unknown", '{"type":"chat","text":"κόσμε"}'),
        ("notobj", "[1,2]"),
        ("bad", '{"type":'),
    ):
        write("client_msg", name, b"\x02" + text.encode())

    write("url", "ok", b"/ws/game/ABCD/\0http://a, http://b,*\0ping,chat")
    write("url", "token", b"abc-DEF_012\0\0")

    host = hashlib.sha256(b"tok-host-2").hexdigest()
    write("redis_reply", "auth-player", bytes([sel(0, 1)] * 4) + resp([host, "5"]))
    write(
        "redis_reply",
        "auth-host-then-state",
        bytes([sel(0, 2), sel(1, 2), sel(0, 2), sel(1, 2)])
        + resp([host, None])
        + resp('{"type":"session.state"}'),
    )
    write(
        "redis_reply",
        "rx-event",
        bytes([sel(2, 1)] * 4) + resp(["asgi" + PREFIX, channel_member(event), "1.5"]),
    )
    write(
        "redis_reply",
        "rx-close",
        bytes([sel(2, 1)] * 4) + resp(["asgi" + PREFIX, channel_member(close), "1.5"]),
    )
    write(
        "redis_reply",
        "inbound",
        bytes([sel(3, 3), sel(3, 4), sel(3, 3), sel(3, 1)])
        + resp(1)
        + resp(0)
        + resp(Exception("ERR busy"))
        + resp(None),
    )
    write(
        "redis_reply",
        "resync",
        bytes([sel(4, 1), sel(4, 2), sel(4, 3), sel(4, 4)]) + resp('{"type":"session.state"}') * 4,
    )


if __name__ == "__main__":
    main()
