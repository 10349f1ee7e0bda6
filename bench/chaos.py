"""make chaos: games played for minutes while Redis is killed and restarted empty.

Issue 15's soak (not part of `make test`). A private redis-server (nothing
saved), a SQLite database in a temporary directory, Daphne, `runsidecar`
and `runrelay` as real processes; the REST calls run in this process (the
views' code, C layer included). Games of the quiz (2 players, 2 rounds)
are played one step at a time, several at once, from creation to
`finish`; each game has a host socket and one socket per player, spread
over the sidecar and Daphne, that follow it by `seq` and reconnect as the
browser client does (1013 and lost connections: retry with backoff; 4000,
4001, 4003, 4004 are final, and a failure here). Every `--kill-min` to
`--kill-max` seconds Redis is SIGKILLed and, after 1-3 s, started again
empty on the same port.

Verdicts, printed and written to bench/results/chaos-<ts>.json:
- every game finished (phase `finished` in the database);
- every socket ends holding the database's final seq;
- every socket saw its events' seqs strictly increasing;
- no final close code, no outbox row left.
Exit status 0 when all hold.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FINAL_CODES = {4000, 4001, 4003, 4004}


class Socket:
    """One browser-like client following one session on one server."""

    def __init__(self, port: int, code: str, query: str, name: str) -> None:
        self.port, self.code, self.query, self.name = port, code, query, name
        self.seq = -1
        self.events: list[int] = []  # seqs of events, in arrival order
        self.out_of_order: list[tuple[int, int]] = []
        self.reconnects = 0
        self.final: int | None = None
        self.task: asyncio.Task | None = None
        self.stopping = False

    def start(self) -> None:
        self.task = asyncio.create_task(self.run())

    async def run(self) -> None:
        import websockets

        from tests import servers

        delay = 0.2
        while not self.stopping:
            try:
                ws = await servers.connect(self.port, self.code, self.query)
            except (TimeoutError, OSError, websockets.InvalidHandshake):
                await asyncio.sleep(delay)
                delay = min(5.0, delay * 2)
                continue
            try:
                async for text in ws:
                    delay = 0.2
                    message = json.loads(text)
                    if message["type"] == "session.state":
                        self.seq = max(self.seq, message["seq"])
                    elif "seq" in message and message["type"] != "player.state":
                        seq = message["seq"]
                        if self.events and seq <= self.events[-1]:
                            self.out_of_order.append((self.events[-1], seq))
                        self.events.append(seq)
                        self.seq = max(self.seq, seq)
            except websockets.ConnectionClosed:
                pass
            code = ws.close_code
            if code in FINAL_CODES:
                if not (code == 4000 and self.stopping):
                    self.final = code
                return
            if self.stopping:
                return
            self.reconnects += 1
            await asyncio.sleep(delay)
            delay = min(5.0, delay * 2)

    async def stop(self) -> None:
        self.stopping = True
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task


class Game:
    """One quiz game, driven step by step through the REST API."""

    def __init__(self, api, ports: list[int]) -> None:
        self.api, self.ports = api, ports
        self.steps = self.plan()
        self.sockets: list[Socket] = []
        self.code = self.host = None
        self.tokens: list[str] = []

    def plan(self):
        yield self.create
        for name in ("Ana", "Bo"):
            yield lambda name=name: self.join(name)
        yield self.open_sockets
        for number in (1, 2):
            yield lambda: self.host_action("start-round")
            yield lambda: self.host_action("show-question")
            for i in range(2):
                yield lambda i=i, n=number: self.lie(i, n)
            yield lambda: self.host_action("mix-answers")
            for i in range(2):
                yield lambda i=i, n=number: self.guess(i, n)
            yield lambda: self.host_action("calculate-scores")
            yield lambda: self.host_action("reveal-scoreboard")
        yield lambda: self.host_action("finish")

    def create(self):
        status, body = self.api.call("POST", "/api/sessions/", {"rounds": 2})
        assert status == 201, body
        self.code, self.host = body["code"], body["host_token"]

    def join(self, name):
        _, token = self.api.join(self.code, name)
        self.tokens.append(token)

    def open_sockets(self):
        queries = [f"role=host&session_token={self.host}"]
        queries += [f"session_token={t}" for t in self.tokens]
        for i, query in enumerate(queries):
            port = self.ports[i % len(self.ports)]
            self.sockets.append(Socket(port, self.code, query, f"{self.code}#{i}"))

    def host_action(self, action):
        status, body = self.api.host(self.code, action, self.host)
        assert status == 200, (action, status, body)

    def lie(self, i, number):
        status, body = self.api.lie(self.code, self.tokens[i], f"lie {number} {i}")
        assert status == 201, body

    def guess(self, i, number):
        from tests.helpers import answer_id, truth_of

        answers = self.api.state(self.code)[1]["answers"]
        truth = answer_id(answers, truth_of(self.code, number))
        status, body = self.api.guess(self.code, self.tokens[i], truth)
        assert status == 201, body

    def step(self) -> bool:
        """Run the next step; False when the game is over."""
        step = next(self.steps, None)
        if step is None:
            return False
        step()
        return True


class RedisKiller:
    """SIGKILL Redis every kill_min..kill_max s; start it again after 1-3 s."""

    def __init__(self, redis, kill_min: float, kill_max: float, rng: random.Random) -> None:
        self.redis, self.kill_min, self.kill_max, self.rng = redis, kill_min, kill_max, rng
        self.kills: list[dict] = []

    async def run(self, until: float) -> None:
        while True:
            wait = self.rng.uniform(self.kill_min, self.kill_max)
            if time.monotonic() + wait > until:
                return
            await asyncio.sleep(wait)
            down = self.rng.uniform(1.0, 3.0)
            self.redis.kill()
            started = time.monotonic()
            await asyncio.sleep(down)
            await asyncio.to_thread(self.redis.start)
            self.kills.append({"at_s": round(started - T0, 1), "down_s": round(down, 2)})
            print(f"[{started - T0:6.1f} s] Redis killed, restarted empty after {down:.1f} s")


T0 = time.monotonic()


async def soak(args, api, ports, redis) -> dict:
    from lobby.models import GameSession, OutboxEvent

    global T0
    T0 = time.monotonic()
    rng = random.Random(args.seed)
    until = T0 + args.seconds
    killer = RedisKiller(redis, args.kill_min, args.kill_max, rng)
    kill_task = asyncio.create_task(killer.run(until))
    running: list[Game] = []
    done: list[Game] = []
    slow_calls = 0
    while time.monotonic() < until or running:
        if time.monotonic() < until:
            while len(running) < args.games:
                running.append(Game(api, ports))
        if not running:
            break
        game = rng.choice(running)
        started = time.monotonic()
        more = await asyncio.to_thread(game.step)
        slow_calls += time.monotonic() - started > 1.0
        for socket in game.sockets:
            if socket.task is None:
                socket.start()
        if not more:
            running.remove(game)
            done.append(game)
        await asyncio.sleep(args.pause)
    await kill_task
    print(f"[{time.monotonic() - T0:6.1f} s] {len(done)} games played; waiting for the sockets")
    # Every socket should reach its game's final seq once Redis is up.
    finals = {}
    for game in done:
        finals[game.code] = await asyncio.to_thread(
            lambda c=game.code: GameSession.objects.get(code=c).seq
        )
    sockets = [s for g in done for s in g.sockets]
    deadline = time.monotonic() + args.settle
    while time.monotonic() < deadline:
        if all(s.seq == finals[s.code] for s in sockets):
            break
        await asyncio.sleep(0.2)
    phases = await asyncio.to_thread(
        lambda: dict(GameSession.objects.filter(code__in=finals).values_list("code", "phase"))
    )
    outbox_left = await asyncio.to_thread(OutboxEvent.objects.count)
    for socket in sockets:
        await socket.stop()
    behind = [(s.name, s.seq, finals[s.code]) for s in sockets if s.seq != finals[s.code]]
    disorder = [(s.name, s.out_of_order) for s in sockets if s.out_of_order]
    finals_closed = [(s.name, s.final) for s in sockets if s.final is not None]
    unfinished = [code for code, phase in phases.items() if phase != "finished"]
    return {
        "seconds": args.seconds,
        "games_finished": len(done) - len(unfinished),
        "games": len(done),
        "sockets": len(sockets),
        "events_seen": sum(len(s.events) for s in sockets),
        "reconnects": sum(s.reconnects for s in sockets),
        "redis_kills": killer.kills,
        "rest_calls_over_1s": slow_calls,
        "sockets_behind_db": behind,
        "sockets_out_of_order": disorder,
        "final_closes": finals_closed,
        "unfinished_games": unfinished,
        "outbox_rows_left": outbox_left,
        "ok": not (behind or disorder or finals_closed or unfinished or outbox_left),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--games", type=int, default=3, help="games played at once")
    parser.add_argument("--kill-min", type=float, default=30)
    parser.add_argument("--kill-max", type=float, default=60)
    parser.add_argument("--pause", type=float, default=0.05, help="seconds between steps")
    parser.add_argument("--settle", type=float, default=30, help="seconds for sockets to catch up")
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="partyhub-chaos-")
    from partyhub.redisproc import RedisServer

    redis = RedisServer().start()
    os.environ.update(
        DJANGO_SETTINGS_MODULE="partyhub.settings",
        DJANGO_DEBUG="1",
        DATABASE_URL=f"sqlite:///{tmp}/chaos.sqlite3",
        CHANNEL_REDIS_HOST="127.0.0.1",
        CHANNEL_REDIS_PORT=str(redis.port),
        DJANGO_ALLOWED_HOSTS="testserver,localhost,127.0.0.1",
        PARTYHUB_RATE_LIMIT_CREATE="0",
        PARTYHUB_RATE_LIMIT_JOIN="0",
        PARTYHUB_RATE_LIMIT_ACTION="0",
    )
    import django

    django.setup()
    from django.core.management import call_command

    from tests import servers
    from tests.helpers import Api

    call_command("migrate", verbosity=0)
    for name in ("lobby", "realtime", "django.channels"):  # errors and warnings only
        logging.getLogger(name).setLevel(logging.WARNING)
    processes = []
    try:
        daphne = servers.Daphne()
        processes.append(daphne)
        sidecar = servers.RunSidecar()
        processes.append(sidecar)
        relay = servers.Process(servers.manage("runrelay"), "relay")
        processes.append(relay)
        print(
            f"chaos: {args.seconds:.0f} s, {args.games} games at once, Redis killed every "
            f"{args.kill_min:.0f}-{args.kill_max:.0f} s (sidecar :{sidecar.port}, "
            f"Daphne :{daphne.port}, Redis :{redis.port})"
        )
        report = asyncio.run(soak(args, Api(), [sidecar.port, daphne.port], redis))
    finally:
        for process in reversed(processes):
            with contextlib.suppress(Exception):
                process.close()
        redis.close()
    out = ROOT / "bench" / "results" / f"chaos-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(json.dumps({k: v for k, v in report.items() if k != "redis_kills"}, indent=2))
    print(f"{len(report['redis_kills'])} Redis kills; report: {out}")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.exit(main())
