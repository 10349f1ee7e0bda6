"""Benchmark: one broadcast call to a group, three ways, side by side.

    make bench-broadcast        (or: .venv/bin/python bench/broadcast.py)

For groups of 12 and 1000 members spread over 1 and 4 process keys, against
a private redis-server, it measures calls/s and mean/median/p99 latency of

  C:       the JSON text (protocol.encode_event_parts), then
           realtime.broadcast.sync_deliver(code, None, seq, head, tail) as
           lobby.publish calls it: the seq the database gave (a counter
           here), checked against the delivered seq and spliced in, and the
           group send, in one EVALSHA through realtime._redislayer's hiredis
  script:  the fair pure-Python peer: the same JSON text, then redis-py on a
           pooled connection runs one registered Lua script -- the C layer's
           own (read from the extension with rs_source), with the same
           arguments -- so Redis does the same work in one round trip
  py:      async_to_sync(channel_layer.group_send)(group, message)
           (channels_redis 4.3, as a sync Django view would call it; it
           takes no seq: less work than the other two)

The three run in interleaved rounds in one process (a busy machine slows
all three alike); ratios are of medians, steadier than means there. Each
call's time is split into the Redis side -- the execution time of the
commands it sent, from SLOWLOG with a threshold of 0 during the timed calls
themselves (a script's entry includes the commands it runs;
cross-checked with INFO commandstats usec_per_call of EVALSHA) -- and the
client side: the rest of that same call, which holds the encoding, the
client library and the loopback round trip (medians of both are shown).
A raw `PING` over a plain socket gives the round trip's floor.
Then the cost of the transactional outbox (lobby.outbox) on a SQLite
database in a temporary directory: an action's transaction (lock the
session row, save it) with and without the event's row INSERTed in it, and
the DELETE that marks the row delivered after the broadcast.
Stored messages are deleted between batches (untimed) so keys never reach
capacity. Prints Markdown tables (BENCHMARKS.md "Broadcast call").
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import random
import socket
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lobby import events as lobby_events  # noqa: E402
from partyhub.redisproc import RedisServer  # noqa: E402

BATCH = 50  # calls between (untimed) clean-ups
ROUNDS = 5  # interleaved rounds per path and cell
ATTRIBUTION_CALLS = 200  # calls counted with INFO commandstats
PATHS = (
    ("c", "C `sync_deliver` (given seq)"),
    ("script", "redis-py + registered script"),
    ("py", "channels_redis `group_send`"),
)


def setup_django(port: int) -> None:
    os.environ["CHANNEL_REDIS_HOST"] = "127.0.0.1"
    os.environ["CHANNEL_REDIS_PORT"] = str(port)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "partyhub.settings")
    os.environ.setdefault("PARTYHUB_LOG_LEVEL", "WARNING")
    db_dir = tempfile.mkdtemp(prefix="partyhub-bench-db-")
    os.environ["DATABASE_URL"] = f"sqlite:///{db_dir}/bench.sqlite3"
    import django

    django.setup()
    from django.conf import settings

    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [("127.0.0.1", port)], "capacity": 10**6},
        }
    }


def lua_source(name: str) -> str:
    """The C layer's Lua script, from the built extension (one source)."""
    from realtime import _redislayer

    return _redislayer.LUA_SCRIPTS[name]


class ScriptPeer:
    """The fair pure-Python peer of the C layer's numbered group send."""

    def __init__(self, port: int, config: dict) -> None:
        import msgpack
        import redis

        self.packb = msgpack.packb
        self.client = redis.Redis(connection_pool=redis.ConnectionPool(port=port))
        self.script = self.client.register_script(lua_source("group_send"))
        self.prefix = config.get("prefix", "asgi")
        self.fixed = [
            str(config.get("group_expiry", 86400)),
            str(config.get("expiry", 60)),
            self.prefix,
        ]
        self.capacity = str(config.get("capacity", 100))

    def send(self, code: str, event_type: str, payload: dict, seq: int) -> int:
        """The same steps as realtime.broadcast's C path, in Python."""
        from realtime import keys, protocol
        from realtime.broadcast import SEQ_TTL

        head, tail = protocol.encode_event_parts(event_type, payload)
        packb = self.packb
        # {"type", "seq", "text", "__asgi_channel__"}: the script fills in the
        # seq (an int), the text (head + seq + tail) and the member list.
        before_seq = b"\x84" + packb("type") + packb(protocol.GROUP_EVENT_TYPE) + packb("seq")
        segments = ["b", before_seq, "i", "b", packb("text"), "t", head, tail, "b", b""]
        rnd = random.getrandbits(96).to_bytes(12, "big")
        names = [f"{self.prefix}:group:{keys.group_name(code)}", keys.seq_key(code)]
        # ARGV 6-8: counter TTL, the given seq, no capacity rules.
        args = [*self.fixed, rnd, self.capacity, SEQ_TTL, seq, 0, len(segments) - 5, *segments]
        return int(self.script(keys=names, args=args)[0])


def members(n: int, keys: int) -> list[str]:
    prefixes = [uuid.uuid4().hex for _ in range(keys)]
    return [f"specific.{prefixes[i % keys]}!{uuid.uuid4().hex}" for i in range(n)]


def clean(raw, prefix_keys: list[str]) -> None:
    if prefix_keys:
        raw.delete(*prefix_keys)


SKIP = (b"CONFIG", b"SLOWLOG", b"INFO", b"DEL")  # the harness's own commands


def redis_usec(raw, calls: int) -> list[float]:
    """The Redis execution µs of each of the last `calls` calls, oldest first,
    from SLOWLOG (threshold 0: every command), then reset it. Redis 7 also
    logs the commands a script runs, from its fake client "?:0", and the
    script's own entry includes them: only the commands a client sent count."""
    entries = raw.slowlog_get(100_000)
    raw.slowlog_reset()
    ours = [
        e["duration"]
        for e in reversed(entries)
        if not e.get("client_address", b"").startswith(b"?")
        and e["command"].split()[0].upper() not in SKIP
    ]
    per_call = len(ours) // calls
    if per_call and per_call * calls == len(ours):  # the same commands each call
        return [sum(ours[i : i + per_call]) for i in range(0, len(ours), per_call)]
    return [sum(ours) / calls] * calls  # e.g. a connection's HELLO now and then


def timed(call, raw, keys, seconds: float, max_calls: int) -> list[tuple[float, float]]:
    """Run `call` in batches until `seconds` of timed work or `max_calls`:
    (wall µs, Redis µs) per call, the two from the same call."""
    out: list[tuple[float, float]] = []
    spent = 0.0
    raw.slowlog_reset()
    while spent < seconds and len(out) < max_calls:
        lat = []
        for _ in range(BATCH):
            t0 = time.perf_counter()
            call()
            lat.append(time.perf_counter() - t0)
        spent += sum(lat)
        out += zip((x * 1e6 for x in lat), redis_usec(raw, BATCH), strict=True)
        clean(raw, keys)
    return out


def commandstats(raw, call, keys) -> tuple[float | None, dict[str, float]]:
    """EVALSHA usec_per_call (INFO commandstats) and the commands per call."""
    clean(raw, keys)
    raw.config_resetstat()
    for _ in range(ATTRIBUTION_CALLS):
        call()
    stats = raw.info("commandstats")
    clean(raw, keys)
    evalsha = stats.get("cmdstat_evalsha", {}).get("usec_per_call")
    commands = {
        k.removeprefix("cmdstat_"): v["calls"] / ATTRIBUTION_CALLS
        for k, v in stats.items()
        if not k.startswith(("cmdstat_config", "cmdstat_slowlog", "cmdstat_del"))
    }
    return evalsha, commands


def ping_floor(port: int, n: int = 3000) -> float:
    """Median µs of a raw PING round trip on a plain socket (no client library)."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        lat = []
        for _ in range(n):
            t0 = time.perf_counter()
            sock.sendall(b"PING\r\n")
            got = b""
            while not got.endswith(b"\r\n"):
                got += sock.recv(64)
            lat.append(time.perf_counter() - t0)
    return statistics.median(lat) * 1e6


def batch_median(call, batches: int = 200, n: int = 100) -> float:
    """Median over `batches` of the mean µs of `n` calls: steady on a busy
    machine, where one preemption inflates a plain mean."""
    means = []
    for _ in range(batches):
        t0 = time.perf_counter()
        for _ in range(n):
            call()
        means.append((time.perf_counter() - t0) / n * 1e6)
    return statistics.median(means)


def encode_cost() -> tuple[float, float]:
    """µs of the C path's Python side before the extension is called: the
    JSON text alone (protocol.encode_event_parts, also the script path's),
    and everything sync_broadcast_phase_event does before the C call (the
    layer lookup and the arguments too)."""
    from realtime import broadcast, protocol
    from realtime import layer as layer_mod

    json_us = batch_median(lambda: protocol.encode_event_parts(lobby_events.GAME_OVER, PAYLOAD))
    python_us = batch_median(
        lambda: (
            layer_mod.get_layer(),
            broadcast._public("B12X1", lobby_events.GAME_OVER, PAYLOAD, None, None),
        )
    )
    return json_us, python_us


SEQ = itertools.count(1)  # the database's seq, shared by the C and script paths


def c_send(code: str, seq: int) -> bool:
    """The C path, as lobby.publish calls it (the text encoded here, as the
    outbox row is encoded in the action's transaction)."""
    from realtime import protocol
    from realtime.broadcast import sync_deliver

    head, tail = protocol.encode_event_parts(lobby_events.GAME_OVER, PAYLOAD)
    return sync_deliver(code, None, seq, head, tail)


def outbox_cost(seconds: float) -> dict:
    """Median µs of an action's transaction (lock + save of the session row)
    without and with its outbox row, and of the DELETE after delivery."""
    from django.core.management import call_command
    from django.db import transaction

    from lobby.models import GameSession, OutboxEvent
    from realtime import protocol

    call_command("migrate", verbosity=0)
    session = GameSession.objects.create(code="OUTB", host_token_digest="0" * 64)
    head, tail = protocol.encode_event_parts(lobby_events.GAME_OVER, PAYLOAD)
    state_head, state_tail = protocol.encode_event_parts(protocol.SESSION_STATE, PAYLOAD)

    def base() -> None:
        with transaction.atomic():
            s = GameSession.objects.select_for_update().get(pk=session.pk)
            s.save()

    made: list[int] = []

    def with_row() -> None:
        with transaction.atomic():
            s = GameSession.objects.select_for_update().get(pk=session.pk)
            s.seq += 1
            row = OutboxEvent(
                session=s,
                seq=s.seq,
                event_type=lobby_events.GAME_OVER,
                head=head,
                tail=tail,
                state_head=state_head,
                state_tail=state_tail,
            )
            OutboxEvent.objects.bulk_create([row])
            s.save()
        made.append(row.id)

    def delete() -> None:
        OutboxEvent.objects.filter(id__in=[made.pop()]).delete()

    times = {"base": [], "row": [], "delete": []}
    for _ in range(ROUNDS):
        for label, call in (("base", base), ("row", with_row)):
            until = time.perf_counter() + seconds / ROUNDS / 2
            while time.perf_counter() < until:
                t0 = time.perf_counter()
                call()
                times[label].append((time.perf_counter() - t0) * 1e6)
        while made:
            t0 = time.perf_counter()
            delete()
            times["delete"].append((time.perf_counter() - t0) * 1e6)
    return {label: (statistics.median(v), len(v)) for label, v in times.items()}


PAYLOAD = {
    "round": 3,
    "ranking": [{"player_id": i, "name": f"P{i}", "score": 10 * i, "rank": i} for i in range(1, 9)],
    "awards": [],
}


def check_same_message(raw, fast_layer, peer: ScriptPeer, code: str, name: str) -> None:
    """The peer stores what the C layer stores, but for the random prefix and seq."""
    import msgpack

    key = "asgi" + name[: name.index("!") + 1]
    raw.delete(key)
    seq_c, seq_s = next(SEQ), next(SEQ)
    c_send(code, seq_c)
    peer.send(code, lobby_events.GAME_OVER, PAYLOAD, seq_s)
    stored = raw.zrange(key, 0, -1)
    c, s = (msgpack.unpackb(m[12:], raw=False) for m in stored)
    if (c["seq"], s["seq"]) != (seq_c, seq_s) or seq_s != seq_c + 1:
        raise SystemExit(f"the script peer's seq is wrong: {c['seq']}, {s['seq']}")
    del c["seq"], s["seq"]
    if c["text"].replace(f'"seq":{seq_c}', "") != s["text"].replace(f'"seq":{seq_s}', ""):
        raise SystemExit("the script peer's text differs from the C layer's")
    del c["text"], s["text"]
    if c != s:
        raise SystemExit(f"the script peer's message differs: {c} != {s}")
    raw.delete(key)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="timed work per cell and path")
    args = parser.parse_args()

    with RedisServer() as server:
        setup_django(server.port)
        import redis
        from asgiref.sync import async_to_sync
        from channels.layers import get_channel_layer
        from django.conf import settings

        from realtime import keys as redis_keys
        from realtime import layer as layer_mod
        from realtime import protocol

        if layer_mod.get_layer() is None:
            sys.exit("the C layer is not active: run `make build` first")
        raw = redis.Redis(port=server.port)
        channel_layer = get_channel_layer()
        peer = ScriptPeer(server.port, settings.CHANNEL_LAYERS["default"]["CONFIG"])
        floor = ping_floor(server.port)
        encode, python_side = encode_cost()
        rows = []
        for n_members, n_keys in ((12, 1), (12, 4), (1000, 1), (1000, 4)):
            code = f"B{n_members}X{n_keys}"
            group = redis_keys.group_name(code)
            names = members(n_members, n_keys)
            fast = layer_mod.get_layer()
            for name in names:
                fast.group_add(group, name)
            pkeys = sorted({"asgi" + name[: name.index("!") + 1] for name in names})
            check_same_message(raw, fast, peer, code, names[0])
            head, tail = protocol.encode_event_parts(lobby_events.GAME_OVER, PAYLOAD)
            message = {"type": "game.event", "seq": 1, "text": f"{head}1{tail}"}

            calls = {
                "c": lambda code=code: c_send(code, next(SEQ)),
                "script": lambda code=code: peer.send(
                    code, lobby_events.GAME_OVER, PAYLOAD, next(SEQ)
                ),
                "py": lambda group=group, message=message: async_to_sync(channel_layer.group_send)(
                    group, message
                ),
            }
            limits = {"c": 200000, "script": 200000, "py": 20000}
            pairs = {label: [] for label in calls}
            for call in calls.values():
                call()  # warm up: connections, scripts
            raw.config_set("slowlog-max-len", 100_000)
            raw.config_set("slowlog-log-slower-than", 0)
            for _ in range(ROUNDS):
                for label, call in calls.items():
                    pairs[label] += timed(
                        call, raw, pkeys, args.seconds / ROUNDS, limits[label] // ROUNDS
                    )
            raw.config_set("slowlog-log-slower-than", 10_000)
            result = {"members": n_members, "keys": n_keys}
            for label, call in calls.items():
                wall = sorted(w for w, _ in pairs[label])
                evalsha_us, commands = commandstats(raw, call, pkeys)
                result[label] = {
                    "rate": len(wall) / sum(wall) * 1e6,
                    "mean": statistics.fmean(wall),
                    "p50": statistics.median(wall),
                    "p99": wall[int(len(wall) * 0.99) - 1],
                    "n": len(wall),
                    "redis": statistics.median(r for _, r in pairs[label]),
                    "client": statistics.median(w - r for w, r in pairs[label]),
                    "evalsha": evalsha_us,
                    "commands": commands,
                }
            rows.append(result)
            c_p50 = result["c"]["p50"]
            print(
                f"{n_members:>5} members / {n_keys} keys: median µs C {c_p50:.0f}, "
                f"script {result['script']['p50']:.0f} "
                f"(×{result['script']['p50'] / c_p50:.2f}), "
                f"channels_redis {result['py']['p50']:.0f} (×{result['py']['p50'] / c_p50:.2f})",
                file=sys.stderr,
            )

        print(
            f"Machine: nproc={os.cpu_count()}, kernel {platform.release()}, "
            f"Python {platform.python_version()}, "
            f"{raw.info('server')['redis_version']} redis-server on 127.0.0.1; "
            f"load average at the end {os.getloadavg()[0]:.2f}\n"
        )
        print(
            "| members | process keys | path | calls/s | mean µs | median µs | p99 µs | "
            "Redis side µs | client side µs | median ÷ C's |"
        )
        print("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            for label, name in PATHS:
                m = r[label]
                print(
                    f"| {r['members']} | {r['keys']} | {name} | {m['rate']:,.0f} | "
                    f"{m['mean']:,.0f} | {m['p50']:,.0f} | {m['p99']:,.0f} | "
                    f"{m['redis']:,.1f} | {m['client']:,.1f} | "
                    f"{m['p50'] / r['c']['p50']:.2f} |"
                )
        print(
            f"\nRound trip floor (raw `PING` on a plain socket, median): {floor:.1f} µs. "
            f"The JSON text (`protocol.encode_event_parts`, in both the C and the "
            f"script path): {encode:.1f} µs; all the C path does in Python before "
            f"the extension's call (JSON, layer lookup, arguments): {python_side:.1f} µs "
            f"(medians of 100-call batches). EVALSHA usec_per_call (INFO commandstats, "
            "cross-check of the Redis side): "
            + "; ".join(
                f"{r['members']}/{r['keys']}: C {r['c']['evalsha']}, "
                f"script {r['script']['evalsha']}"
                for r in rows
            )
        )
        print(
            "\nWhere the C path's client side goes (medians, µs): its Python side (the "
            "JSON text, the rest of the Python), the round trip floor, and the rest of "
            "the call (the extension: arguments, msgpack, hiredis; and the wait):\n"
        )
        for r in rows:
            c = r["c"]
            print(
                f"- {r['members']} members / {r['keys']} keys: client side {c['client']:.1f} = "
                f"JSON {encode:.1f} + other Python {python_side - encode:.1f} + "
                f"round trip floor {floor:.1f} + the rest {c['client'] - python_side - floor:.1f}"
            )
        print(
            "\nRedis commands per broadcast (INFO commandstats calls / "
            f"{ATTRIBUTION_CALLS} broadcasts; commands run inside a script are counted too):\n"
        )
        for r in rows:
            for label, name in PATHS:
                stats = ", ".join(f"{k} {v:g}" for k, v in sorted(r[label]["commands"].items()))
                print(f"- {r['members']} members / {r['keys']} keys, {name}: {stats}")
        raw.close()
        cost = outbox_cost(args.seconds)
        base, row, delete = (cost[k][0] for k in ("base", "row", "delete"))
        c12 = rows[0]["c"]["p50"]
        print(
            "\nThe outbox (SQLite in a temporary directory, medians over "
            f"{cost['base'][1]:,} / {cost['row'][1]:,} / {cost['delete'][1]:,} calls):\n\n"
            "| an action's transaction (lock + save the session row) | µs |\n|---|---:|\n"
            f"| without its outbox row | {base:,.0f} |\n"
            f"| with one outbox row INSERTed (and the seq taken) | {row:,.0f} |\n"
            f"| the row's cost in the transaction | {row - base:,.0f} |\n"
            f"| DELETE of the row after delivery | {delete:,.0f} |\n"
            f"\nOutbox write + delete per event: {row - base + delete:,.0f} µs, "
            f"{(row - base + delete) / c12:.2f}× the broadcast call at 12 members / 1 key "
            f"({c12:,.0f} µs)."
        )


if __name__ == "__main__":
    main()
