"""The soak's game events: a Django process publishing phase events the way
the REST views do (`lobby.publish.publish`: `sync_broadcast_phase_event`,
then the `session.state` snapshot with the new seq).

Driven by bench/soak.py over stdin/stdout, one JSON object a line:

    {"cmd": "start", "codes": [...], "rate": 50, "seed": 1}
        publish `rate` events a second, each to a random game, until
    {"cmd": "stop"}
        -> {"ev": "stopped", "sent": ..., "errors": ..., "final": {code: seq}}
    {"cmd": "stats"} -> {"ev": "stats", "sent": ..., "errors": ..., "lag_s": ...}
    {"cmd": "quit"}

Each event is `phase.question_shown` whose payload starts with "t":
time.monotonic_ns() before the call; the soak client reads it for latency.
"""

from __future__ import annotations

import json
import os
import random
import select
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


class Publisher:
    """Paced publishing of phase events to random games."""

    def __init__(self) -> None:
        from lobby.models import GameSession

        self.sessions: dict[str, GameSession] = {}
        self.codes: list[str] = []
        self.rate = 0.0
        self.rng = random.Random(1)
        self.sent = self.errors = 0
        self.final: dict[str, int] = {}
        self.t0 = 0.0
        self.lag = 0.0

    def start(self, cmd: dict) -> None:
        from lobby.models import GameSession

        self.codes = list(cmd["codes"])
        self.sessions = {s.code: s for s in GameSession.objects.filter(code__in=self.codes)}
        self.rate = float(cmd["rate"])
        self.rng = random.Random(int(cmd.get("seed", 1)))
        self.sent = self.errors = 0
        self.t0 = time.monotonic()

    def due_in(self) -> float:
        """Seconds until the next event (inf when stopped)."""
        if self.rate <= 0:
            return float("inf")
        return self.t0 + (self.sent + self.errors) / self.rate - time.monotonic()

    def publish_one(self) -> None:
        from lobby.publish import publish

        self.lag = max(0.0, -self.due_in())
        code = self.codes[self.rng.randrange(len(self.codes))]
        payload = {
            "t": time.monotonic_ns(),
            "round": 1 + self.sent % 3,
            "question": f"Soak question {self.sent}?",
            "category": "soak",
        }
        report = publish(self.sessions[code], [("phase.question_shown", payload)])
        if report is None or not report["ok"]:
            self.errors += 1
            return
        self.sent += 1
        self.final[code] = report["seq"][-1]

    def stats(self, ev: str) -> dict:
        return {"ev": ev, "sent": self.sent, "errors": self.errors, "lag_s": round(self.lag, 3)}


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "partyhub.settings")
    import django

    django.setup()
    from realtime import layer

    path = "C layer (realtime._redislayer)" if layer.get_layer() is not None else "channels_redis"
    print(json.dumps({"ev": "hello", "path": path}), flush=True)
    pub = Publisher()
    buf = b""
    while True:
        wait = max(0.0, min(pub.due_in(), 0.5))
        ready, _, _ = select.select([sys.stdin.buffer.raw], [], [], wait)
        if ready:
            chunk = os.read(sys.stdin.fileno(), 65536)
            if not chunk:
                return 0
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if not line.strip():
                    continue
                cmd = json.loads(line)
                if cmd["cmd"] == "quit":
                    return 0
                if cmd["cmd"] == "start":
                    pub.start(cmd)
                    print(json.dumps({"ev": "started"}), flush=True)
                elif cmd["cmd"] == "stop":
                    pub.rate = 0
                    print(json.dumps({**pub.stats("stopped"), "final": pub.final}), flush=True)
                elif cmd["cmd"] == "stats":
                    print(json.dumps(pub.stats("stats")), flush=True)
        if pub.due_in() <= 0:
            pub.publish_one()


if __name__ == "__main__":
    sys.exit(main())
