"""The benchmark's broadcaster: a Django process calling
`realtime.broadcast.sync_broadcast_phase_event`, as a sync view does.

Driven by the orchestrator over stdin/stdout, one JSON object a line:

    {"cmd": "run", "codes": [...], "sizes": [...], "count": 200, "rate": 0,
     "window": 4, "random": false, "payload": 200, "seed": 1,
     "shm": "/path/progress", "timeout_s": 60}
    -> {"ev": "done", "sent": ..., "expected_deliveries": ..., "call": {...}, ...}
    {"cmd": "quit"}

Each event is `phase.game_over` with payload {"t": <time.monotonic_ns() just
before the call>, "round": 1, "ranking": [], "awards": [], "pad": "x..."}
padded so the frame text is about `payload` bytes; the load generator reads
`t` (CLOCK_MONOTONIC, the same clock as C's) and records receipt - t. `rate`
> 0 paces events at that many per second; `rate` 0 is the fastest
sustainable rate: event k is sent once the load generator's progress page
shows every delivery of event k - window (a closed loop, so nothing piles up
in Redis; a 5 s stall is counted and the loop moves on). `sizes` are the
connections per code, for the expected deliveries. After the run the
`session.state` snapshot of each touched game is stored with its last seq,
as the REST views do after a broadcast, so sockets opened later start from
the right seq; with "store_state": true every event carries it instead
(stored in the event's own Redis script, as lobby.publish does), for runs
where sockets reconnect mid-run (drain)."""

from __future__ import annotations

import json
import mmap
import os
import random
import struct
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

STALL_S = 5.0
MAGIC = 0x50484231


class Progress:
    """The load generator's progress page (see bench/wscommon.h)."""

    def __init__(self, path: str) -> None:
        with open(path, "r+b") as f:
            self.map = mmap.mmap(f.fileno(), 4096, access=mmap.ACCESS_READ)

    def deliveries(self) -> int:
        magic, deliveries = struct.unpack_from("<QQ", self.map, 0)
        return deliveries if magic == MAGIC else 0


def percentiles(values: list[int]) -> dict:
    if not values:
        return {"count": 0}
    s = sorted(values)

    def q(p: float) -> float:
        return s[min(len(s) - 1, int(p * len(s)))] / 1e3

    return {
        "count": len(s),
        "mean_us": sum(s) / len(s) / 1e3,
        "p50_us": q(0.5),
        "p99_us": q(0.99),
        "max_us": s[-1] / 1e3,
    }


def run(cmd: dict) -> dict:
    from lobby import services
    from lobby.models import GameSession
    from realtime import snapshot
    from realtime.broadcast import BroadcastError, sync_broadcast_phase_event

    codes: list[str] = cmd["codes"]
    sizes: list[int] = cmd["sizes"]
    count = int(cmd["count"])
    rate = float(cmd.get("rate", 0))
    window = max(1, int(cmd.get("window", 4)))
    rng = random.Random(int(cmd.get("seed", 1)))
    pad = "x" * max(1, int(cmd.get("payload", 200)) - 112)
    deadline = time.monotonic() + float(cmd.get("timeout_s", 60))
    progress = Progress(cmd["shm"]) if cmd.get("shm") and rate <= 0 else None
    cum = [0] * (count + 1)
    last_seq: dict[str, int] = {}
    calls: list[int] = []
    errors = stalls = sent = 0
    t0 = time.monotonic_ns()
    for k in range(count):
        if time.monotonic() > deadline:
            break
        g = rng.randrange(len(codes)) if cmd.get("random") else 0
        cum[k + 1] = cum[k] + sizes[g]
        if rate > 0:
            due = t0 + int(k * 1e9 / rate)
            while (left := due - time.monotonic_ns()) > 0:
                time.sleep(min(left / 1e9, 0.05))
        elif progress is not None and k >= window:
            need = cum[k - window + 1]
            start = time.monotonic()
            while progress.deliveries() < need:
                if time.monotonic() - start > STALL_S:
                    stalls += 1
                    break
                time.sleep(0.0001)
        state = None
        if cmd.get("store_state"):
            state = services.session_state(GameSession.objects.get(code=codes[g]))
        t = time.monotonic_ns()
        try:
            seq = sync_broadcast_phase_event(
                codes[g],
                "phase.game_over",
                {"t": t, "round": 1, "ranking": [], "awards": [], "pad": pad},
                state,
            )
        except BroadcastError as exc:
            errors += 1
            print(f"broadcast failed: {exc}", file=sys.stderr, flush=True)
            continue
        calls.append(time.monotonic_ns() - t)
        last_seq[codes[g]] = seq
        sent += 1
    elapsed = (time.monotonic_ns() - t0) / 1e9
    for code, seq in last_seq.items():
        session = GameSession.objects.get(code=code)
        snapshot.store_state(code, seq, services.session_state(session))
    return {
        "ev": "done",
        "sent": sent,
        "errors": errors,
        "stalls": stalls,
        "elapsed_s": round(elapsed, 4),
        "expected_deliveries": cum[sent]
        if not errors
        else sum(sizes[codes.index(c)] for c in last_seq),
        "call": percentiles(calls),
        "send_rate": round(sent / elapsed, 1) if elapsed > 0 else 0,
    }


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "partyhub.settings")
    import django

    django.setup()
    from realtime import layer

    path = "C layer (realtime._redislayer)" if layer.get_layer() is not None else "channels_redis"
    print(json.dumps({"ev": "hello", "path": path}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        cmd = json.loads(line)
        if cmd.get("cmd") == "quit":
            break
        if cmd.get("cmd") == "run":
            print(json.dumps(run(cmd)), flush=True)
        else:
            print(json.dumps({"ev": "error", "msg": "unknown command"}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
