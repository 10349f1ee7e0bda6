"""Benchmark: one broadcast to a group, C layer vs channels_redis.

    make bench-broadcast        (or: .venv/bin/python bench/broadcast.py)

For groups of 10 and 1000 members spread over 1 and 4 process keys, against
a private redis-server, it measures calls/s and median/p99 latency of

  C:   realtime.broadcast.sync_broadcast_phase_event(code, type, payload)
       (INCR + group send in one EVALSHA through realtime._sidecar)
  py:  async_to_sync(channel_layer.group_send)(group, message)
       (channels_redis 4.3, as a sync Django view would call it; no INCR)

and shows Redis's INFO commandstats deltas per broadcast. Stored messages are
deleted between batches (untimed) so keys never reach capacity.
Prints a Markdown table (paste it into BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lobby import events as lobby_events  # noqa: E402
from partyhub.redisproc import RedisServer  # noqa: E402

BATCH = 50  # broadcasts between (untimed) clean-ups


def setup_django(port: int) -> None:
    os.environ["CHANNEL_REDIS_HOST"] = "127.0.0.1"
    os.environ["CHANNEL_REDIS_PORT"] = str(port)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "partyhub.settings")
    os.environ.setdefault("PARTYHUB_LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.conf import settings

    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [("127.0.0.1", port)], "capacity": 10**6},
        }
    }


def members(n: int, keys: int) -> list[str]:
    prefixes = [uuid.uuid4().hex for _ in range(keys)]
    return [f"specific.{prefixes[i % keys]}!{uuid.uuid4().hex}" for i in range(n)]


def clean(raw, prefix_keys: list[str]) -> None:
    if prefix_keys:
        raw.delete(*prefix_keys)


def timed(call, raw, keys, seconds: float, max_calls: int) -> list[float]:
    """Run `call` in batches until `seconds` of timed work or `max_calls`."""
    lat: list[float] = []
    spent = 0.0
    while spent < seconds and len(lat) < max_calls:
        for _ in range(BATCH):
            t0 = time.perf_counter()
            call()
            lat.append(time.perf_counter() - t0)
        spent = sum(lat)
        clean(raw, keys)
    return lat


def commandstats(raw, call, keys, n: int = 100) -> dict[str, float]:
    clean(raw, keys)
    raw.config_resetstat()
    for _ in range(n):
        call()
    stats = raw.info("commandstats")
    out = {
        k.removeprefix("cmdstat_"): v["calls"] / n
        for k, v in stats.items()
        if k != "cmdstat_config|resetstat"
    }
    clean(raw, keys)
    return out


def fmt_stats(stats: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:g}" for k, v in sorted(stats.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.5, help="timed work per cell")
    args = parser.parse_args()

    with RedisServer() as server:
        setup_django(server.port)
        import redis
        from asgiref.sync import async_to_sync
        from channels.layers import get_channel_layer

        from realtime import layer as layer_mod
        from realtime import protocol
        from realtime.broadcast import sync_broadcast_phase_event

        if layer_mod.get_layer() is None:
            sys.exit("the C layer is not active: run `make build` first")
        raw = redis.Redis(port=server.port)
        channel_layer = get_channel_layer()
        payload = {
            "ranking": [
                {"player_id": i, "name": f"P{i}", "score": 10 * i, "rank": i} for i in range(1, 9)
            ]
        }
        rows = []
        for n_members, n_keys in ((10, 1), (10, 4), (1000, 1), (1000, 4)):
            code = f"B{n_members}X{n_keys}"
            group = protocol.group_name(code)
            names = members(n_members, n_keys)
            fast = layer_mod.get_layer()
            for name in names:
                fast.group_add(group, name)
            keys = sorted({"asgi" + name[: name.index("!") + 1] for name in names})
            head, tail = protocol.encode_event_parts(lobby_events.GAME_OVER, payload)
            message = {"type": "game.event", "seq": 1, "text": f"{head}1{tail}"}

            def c_call(code=code):
                sync_broadcast_phase_event(code, lobby_events.GAME_OVER, payload)

            def py_call(group=group, message=message):
                async_to_sync(channel_layer.group_send)(group, message)

            result = {"members": n_members, "keys": n_keys}
            for label, call, max_calls in (("c", c_call, 200000), ("py", py_call, 20000)):
                call()  # warm up: connections, scripts
                lat = timed(call, raw, keys, args.seconds, max_calls)
                lat.sort()
                result[label] = {
                    "rate": len(lat) / sum(lat),
                    "p50": statistics.median(lat) * 1e6,
                    "p99": lat[int(len(lat) * 0.99) - 1] * 1e6,
                    "n": len(lat),
                    "stats": commandstats(raw, call, keys),
                }
            rows.append(result)
            print(
                f"{n_members:>5} members / {n_keys} keys: "
                f"C {result['c']['rate']:,.0f}/s, channels_redis {result['py']['rate']:,.0f}/s, "
                f"x{result['c']['rate'] / result['py']['rate']:.1f}",
                file=sys.stderr,
            )

        print(
            f"Machine: nproc={os.cpu_count()}, kernel {platform.release()}, "
            f"Python {platform.python_version()}, "
            f"{raw.info('server')['redis_version']} redis-server on 127.0.0.1\n"
        )
        print("| members | process keys | path | calls/s | median µs | p99 µs | speed-up |")
        print("|---:|---:|---|---:|---:|---:|---:|")
        for r in rows:
            ratio = r["c"]["rate"] / r["py"]["rate"]
            for label, name in (
                ("c", "C `sync_broadcast_phase_event`"),
                ("py", "channels_redis `group_send`"),
            ):
                m = r[label]
                print(
                    f"| {r['members']} | {r['keys']} | {name} | {m['rate']:,.0f} | "
                    f"{m['p50']:,.0f} | {m['p99']:,.0f} | "
                    f"{f'{ratio:.1f}×' if label == 'c' else ''} |"
                )
        print(
            "\nRedis commands per broadcast (INFO commandstats deltas / 100 broadcasts;"
            " commands run inside a script are counted too):\n"
        )
        for r in rows:
            print(f"- {r['members']} members / {r['keys']} keys — C: {fmt_stats(r['c']['stats'])}")
            print(f"  — channels_redis: {fmt_stats(r['py']['stats'])}")
        raw.close()


if __name__ == "__main__":
    main()
