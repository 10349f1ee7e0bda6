"""partyhub benchmarks (issue 5): the sidecar against Daphne, uvicorn and a
raw C baseline, same machine, same run, same clients.

    .venv/bin/python bench/run.py --profile quick|full|smoke [options]
    (make bench / make bench-quick / make bench-smoke)

Scenarios (each against every peer that applies, one fresh server process
per measurement, the same C load generator, bench/loadgen.c):

  fanout   one game, N sockets (all on the game's host token: the game rule
           allows 12 players, so sockets share a token); the broadcaster
           (`sync_broadcast_phase_event` in a Django process,
           bench/broadcaster.py) sends ~200-byte events at the fastest
           sustainable rate (closed loop, window W) and at a fixed rate
  rooms    G games x 10 players (player tokens), events to random games
  idle     N idle sockets with heartbeats for D seconds: server RSS delta / N
           and CPU %
  scale    the sidecar alone: ramp in steps until the target or failure;
           where and why it stopped, RSS, connect rate (welcome + state =
           token checked)
  broadcast  bench/broadcast.py (C layer vs async_to_sync(group_send)),
           run as is when present
  drain    (issue 9; `make bench-drain`) N clients (G games x 10 players)
           on sidecar A (`manage.py runsidecar`), events to random games at
           a fixed rate with the state stored after each; SIGUSR1 drains A
           over W s while sidecar B on another port takes the clients (the
           load generator follows server.draining + 1012 there): B's connect
           rate (max per 100 ms, per s) against a ceiling, reconnects per
           client, events lost after each client's resync (session.state)

Peers: sidecar (realtime._sidecar Server, Python binding), daphne and uvicorn
(partyhub.asgi + GameConsumer + channels_redis), raw (bench/rawserver.c: the
same frames written with write() to the same open sockets, no Redis).
Everything runs on loopback with a private redis-server and SQLite file; all
children are stopped at the end, on failure and on Ctrl-C. Results:
bench/results/<timestamp>.json, then bench/report.py renders the PNG plots
and the table in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    BENCH,
    BIN,
    PY,
    ROOT,
    BenchError,
    Child,
    Children,
    django_env,
    log,
    machine,
    placement,
    proc_cpu_s,
    proc_limit_nofile,
    proc_rss,
)
from partyhub.redisproc import RedisServer, free_port  # noqa: E402

PEERS = (
    "sidecar",
    "daphne",
    "uvicorn",
    "raw",
    "raw-cork",
    "uws",
    "uws-local",
    "ws",
    "ws-local",
)
# Peers that publish their own events (stdin `run`, rawserver's command):
# no Redis, no broadcaster.
LOCAL_PEERS = frozenset({"raw", "raw-cork", "uws-local", "ws-local"})
# raw-cork: rawserver writing each socket WINDOW frames in one write() (its
# `run` CORK argument), the batched ceiling; fan-out at max rate only (at a
# fixed rate there is one frame per socket to write, and rooms mix games).
# RAW_CORK (frames per write) is WINDOW, below.
# bench/peers/: uWebSockets through socketify and Node's ws (issue 20); the
# "-local" twin is the same server publishing in process.
PEER_SCRIPTS = {"uws": BENCH / "peers" / "uws_peer.py", "ws": BENCH / "peers" / "ws_peer.js"}
SCENARIOS = ("fanout", "rooms", "idle", "scale", "broadcast", "drain")

# Sizes per profile. "full" is the recorded run (quiet machine, < 15 min),
# "quick" < 2 min, "smoke" proves the scripts on a busy machine.
PROFILES: dict[str, dict[str, Any]] = {
    "full": {
        "fanout_sizes": [100, 1000, 10000],
        "fanout_max_events": {100: 400, 1000: 200, 10000: 40},
        "fanout_rate": {100: 100.0, 1000: 20.0, 10000: 2.0},
        "fixed_seconds": 5.0,
        # Closed-loop window for a peer that cannot keep up (Daphne/uvicorn
        # at 1,000+ sockets hit it; the sidecar needs < 5 s).
        "run_timeout": 20.0,
        # Bounded connect phase: a peer that cannot open N sockets in this
        # time is measured at the size it reached and reported as "did not
        # reach size" (Daphne/uvicorn manage ~130-200/s; the sidecar opens
        # 10,000 in ~2 s). With 50 s at N=10,000 and a 30 s run_timeout the
        # full run took ~19 min.
        "connect_timeout": 20.0,
        "rooms_games": 1000,
        "rooms_rate": 200.0,
        "rooms_seconds": 10.0,
        "rooms_max_events": 3000,
        "idle_sizes": [1000, 10000],
        "idle_seconds": 60.0,
        "heartbeat": 20,
        "scale_target": 100000,
        "scale_step": 5000,
        "broadcast_timeout": 300.0,
        "broadcast_seconds": 2.0,
        "drain_clients": 10000,
        "drain_seconds": 10.0,
        "drain_rate": 50.0,
    },
    "quick": {
        "fanout_sizes": [1000],
        "fanout_max_events": {1000: 30},
        "fanout_rate": {1000: 2.0},  # Daphne/uvicorn keep up (~2,000 deliveries/s)
        "fixed_seconds": 3.0,
        "run_timeout": 8.0,
        "connect_timeout": 30.0,
        "rooms_games": 50,
        "rooms_rate": 100.0,
        "rooms_seconds": 2.0,
        "rooms_max_events": 300,
        "idle_sizes": [500],
        "idle_seconds": 8.0,
        "heartbeat": 3,
        "scale_target": 6000,
        "scale_step": 2000,
        "broadcast_timeout": 60.0,
        "broadcast_seconds": 0.3,
        "drain_clients": 2000,
        "drain_seconds": 4.0,
        "drain_rate": 20.0,
    },
    "smoke": {
        "fanout_sizes": [100, 1000],
        "fanout_max_events": {100: 100, 1000: 40},
        "fanout_rate": {100: 50.0, 1000: 10.0},
        "fixed_seconds": 2.0,
        "run_timeout": 10.0,
        "connect_timeout": 30.0,
        "rooms_games": 50,
        "rooms_rate": 50.0,
        "rooms_seconds": 2.0,
        "rooms_max_events": 200,
        "idle_sizes": [200, 1000],
        "idle_seconds": 8.0,
        "heartbeat": 3,
        "scale_target": 6000,
        "scale_step": 2000,
        "broadcast_timeout": 60.0,
        "broadcast_seconds": 0.3,
        "drain_clients": 500,
        "drain_seconds": 2.0,
        "drain_rate": 10.0,
    },
}

WINDOW = 4  # events in flight in the closed loop (channels_redis capacity is 100)
RAW_CORK = WINDOW
PAYLOAD = 200  # bytes of event text
CONNECT_CONCURRENCY = 256
SOURCES = 16  # 127.0.0.1 .. 127.0.0.16
DRAIN_STILL_S = 10.0  # after the last send: give up when nothing arrives for this long
DRAIN_MAX_S = 120.0
# Drain scenario ceilings on B's connect rate, as multiples of the even
# spread N / W: per second, and per 100 ms window (timer steps and
# scheduling bunch connects a little; a storm is N at once).
DRAIN_CEILING_PER_S = 1.5
DRAIN_CEILING_PER_100MS = 3.0


class Run:
    """One benchmark run: Redis, DB, games, and the peers' lifecycles."""

    def __init__(
        self, args: argparse.Namespace, prof: dict[str, Any], server_cpus: set[int] | None
    ) -> None:
        self.args = args
        self.prof = prof
        self.tmp = Path(tempfile.mkdtemp(prefix="partyhub-bench-"))
        self.redis = RedisServer(extra_args=("--maxclients", "10000")).start()
        Children.add_closer(self.redis)
        self.db = self.tmp / "bench.sqlite3"
        self.env = django_env(self.db, self.redis.port)
        self.games: list[dict[str, Any]] = []
        self.broadcaster: Child | None = None
        self.sidecar_binding = ""
        self.server_cpus = server_cpus  # bench.common.placement; None: any CPU

    def close(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- setup ------------------------------------------------------------

    def setup_games(self, n_games: int) -> None:
        out = self.tmp / "games.json"
        log(f"setup: {n_games} games x 10 players through lobby.services (SQLite + Redis keys)")
        child = Child(
            "setup",
            [
                PY,
                str(BENCH / "setup_games.py"),
                "--out",
                str(out),
                "--games",
                str(n_games),
                "--players",
                "10",
            ],
            env=self.env,
            log_path=self.tmp / "setup.log",
        )
        try:
            child.proc.wait(timeout=600)
        finally:
            child.stop()
        if child.proc.returncode != 0:
            raise BenchError("setup failed: " + (self.tmp / "setup.log").read_text()[-2000:])
        self.games = json.loads(out.read_text())

    def start_broadcaster(self, extra_env: dict[str, str] | None = None) -> None:
        self.broadcaster = Child(
            "broadcaster",
            [PY, str(BENCH / "broadcaster.py")],
            env={**self.env, **(extra_env or {})},
            json_io=True,
            log_path=self.tmp / "broadcaster.log",
        )
        hello = self.broadcaster.expect("hello", 60)
        self.broadcast_path = hello["path"]
        log(f"broadcaster ready: sync_broadcast_phase_event via {hello['path']}")

    def spec_file(self, name: str, lines: list[str]) -> Path:
        path = self.tmp / f"{name}.spec"
        path.write_text("\n".join(lines) + "\n")
        return path

    # -- peers ------------------------------------------------------------

    def start_peer(self, peer: str, shm: Path) -> tuple[Child, int]:
        port = free_port()
        hb = str(self.prof["heartbeat"])
        logp = self.tmp / f"{peer}.log"
        if peer == "sidecar":
            child = Child(
                "sidecar",
                [
                    PY,
                    str(BENCH / "serve_sidecar.py"),
                    "--port",
                    str(port),
                    "--redis-port",
                    str(self.redis.port),
                    "--ping",
                    hb,
                ],
                env=self.env,
                log_path=logp,
                cpus=self.server_cpus,
            )
        elif peer == "daphne":
            child = Child(
                "daphne",
                [
                    str(Path(PY).parent / "daphne"),
                    "-b",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    "--ping-interval",
                    hb,
                    "--ping-timeout",
                    str(int(hb) * 3),
                    "partyhub.asgi:application",
                ],
                env=self.env,
                log_path=logp,
                cpus=self.server_cpus,
            )
        elif peer == "uvicorn":
            child = Child(
                "uvicorn",
                [
                    str(Path(PY).parent / "uvicorn"),
                    "partyhub.asgi:application",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--ws",
                    "websockets",
                    "--ws-ping-interval",
                    hb,
                    "--ws-ping-timeout",
                    str(int(hb) * 3),
                    "--lifespan",
                    "off",
                    "--log-level",
                    "warning",
                    "--no-access-log",
                    "--backlog",
                    "4096",
                ],
                env=self.env,
                log_path=logp,
                cpus=self.server_cpus,
            )
        elif peer in ("raw", "raw-cork"):
            child = Child(
                peer,
                [str(BIN / "rawserver"), "--port", str(port), "--shm", str(shm)],
                env=self.env,
                json_io=True,
                log_path=logp,
                cpus=self.server_cpus,
            )
            hello = child.expect("hello", 10)
            return child, int(hello["port"])
        elif peer.split("-")[0] in PEER_SCRIPTS:
            base = peer.split("-")[0]
            script = PEER_SCRIPTS[base]
            cmd = [PY if base == "uws" else "node", str(script), "--port", str(port)]
            cmd += ["--shm", str(shm), "--ping", hb]
            if peer not in LOCAL_PEERS:
                cmd += ["--redis-port", str(self.redis.port)]
            child = Child(
                peer, cmd, env=self.env, json_io=True, log_path=logp, cpus=self.server_cpus
            )
            hello = child.expect("hello", 30)
            self.wait_listening(child, int(hello["port"]), False)
            return child, int(hello["port"])
        else:
            raise BenchError(f"unknown peer {peer}")
        self.wait_listening(child, port, peer == "sidecar")
        child.port = port  # type: ignore[attr-defined]  # /metrics (fan-out time)
        if peer == "sidecar" and not self.sidecar_binding:
            time.sleep(0.2)
            for line in self.tail("sidecar", 100000).splitlines():
                if line.startswith('{"ev": "hello"'):
                    self.sidecar_binding = json.loads(line).get("binding", "")
        return child, port

    def wait_listening(self, child: Child, port: int, healthz: bool) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if not child.alive():
                raise BenchError(f"{child.name} exited: " + self.tail(child.name))
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    pass
                if not healthz:
                    return
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    if json.loads(r.read()).get("redis") == "up":
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise BenchError(f"{child.name} did not listen on {port} within 60 s")

    def tail(self, name: str, n: int = 1500) -> str:
        path = self.tmp / f"{name}.log"
        return path.read_text(errors="replace")[-n:] if path.exists() else ""

    def start_loadgen(
        self, port: int, max_conns: int, shm: Path, extra: tuple[str, ...] = ()
    ) -> Child:
        lg = Child(
            "loadgen",
            [
                str(BIN / "loadgen"),
                "--port",
                str(port),
                "--max-conns",
                str(max_conns + 64),
                "--shm",
                str(shm),
                "--sources",
                str(SOURCES),
                *extra,
            ],
            json_io=True,
            log_path=self.tmp / "loadgen.log",
        )
        hello = lg.expect("hello", 10)
        if hello["fd_limit"] < max_conns + 64:
            log(f"  note: loadgen RLIMIT_NOFILE is {hello['fd_limit']} (< {max_conns + 64})")
        return lg

    def connect(self, lg: Child, spec: Path, n: int, label: str) -> dict[str, Any]:
        timeout = float(self.prof["connect_timeout"])

        def progress(msg: dict) -> None:
            if msg.get("ev") == "progress":
                log(
                    f"  {label}: {msg['ready']}/{msg['target']} ready, {msg['failed']} failed, "
                    f"{msg['elapsed_s']:.0f} s"
                )

        res = lg.call(
            f"connect {spec} {self.args.connect_concurrency} {timeout:.0f}",
            "connected",
            timeout + 30,
            progress,
        )
        log(
            f"  {label}: {res['ready']}/{res['target']} ready in {res['elapsed_s']:.2f} s "
            f"({res['rate']:.0f}/s)" + (f", errors {res['errors']}" if res["errors"] else "")
        )
        return res

    # -- one broadcast run ------------------------------------------------

    def broadcast(
        self,
        peer: str,
        server: Child,
        lg: Child,
        codes: list[str],
        sizes: list[int],
        count: int,
        rate: float,
        random_games: bool,
        shm: Path,
    ) -> dict[str, Any]:
        lg.call("reset", "reset", 10)
        fan0 = fanout_time(server) if peer == "sidecar" else None
        cpu0, t0 = proc_cpu_s(server.pid), time.monotonic()
        rcpu0 = proc_cpu_s(self.redis.process.pid)
        timeout = self.prof["run_timeout"]
        if peer in LOCAL_PEERS:
            which = "*" if random_games else codes[0]
            cork = RAW_CORK if peer == "raw-cork" else 1
            done = server.call(
                f"run {count} {rate} {WINDOW} {which} {PAYLOAD} 1 {cork}", "done", timeout + 30
            )
        else:
            assert self.broadcaster is not None
            cmd = {
                "cmd": "run",
                "codes": codes,
                "sizes": sizes,
                "count": count,
                "rate": rate,
                "window": WINDOW,
                "random": random_games,
                "payload": PAYLOAD,
                "seed": 1,
                "shm": str(shm),
                "timeout_s": timeout,
            }
            done = self.broadcaster.call(json.dumps(cmd), "done", timeout + 60)
        expected = int(done["expected_deliveries"])
        stats = self.drain(lg, expected)
        wall = time.monotonic() - t0
        cpu = proc_cpu_s(server.pid) - cpu0
        span = (stats["last_rx_ns"] - stats["first_t_ns"]) / 1e9 if stats["first_t_ns"] else 0
        lost = max(0, expected - stats["deliveries"])
        fan = None
        if fan0 is not None and (fan1 := fanout_time(server)) is not None:
            # The sidecar's own time from an event's dispatch to its last
            # recipient's write (partyhub_sidecar_fanout_latency_seconds):
            # its write loop, as raw's "write" histogram is raw's.
            n_ev = fan1[1] - fan0[1]
            fan = {"events": n_ev, "mean_ms": round(1e3 * (fan1[0] - fan0[0]) / n_ev, 3)}
            fan = fan if n_ev else None
        return {
            "fanout_time": fan,
            "events_sent": done["sent"],
            "expected_deliveries": expected,
            "deliveries": stats["deliveries"],
            "lost": lost,
            "gaps": stats["gaps"],
            "reordered": stats["reorder"],
            "closed_during_run": stats["closed_after_ready"],
            "deliveries_per_s": round(stats["deliveries"] / span, 1) if span > 0 else 0,
            "span_s": round(span, 4),
            "latency_us": stats["latency"],
            "server_cpu_s": round(cpu, 3),
            "server_cpu_pct": round(100 * cpu / wall, 1),
            "redis_cpu_s": round(proc_cpu_s(self.redis.process.pid) - rcpu0, 3),
            "loadgen_cpu_s": stats["cpu_s"],
            "sender": done,
            "stalls": done.get("stalls", 0),
            "drained": stats["drained"],
            "drain_s": stats["drain_s"],
            "client_errors": stats["errors"],
            "close_codes": stats["close_codes"],
        }

    def drain(self, lg: Child, expected: int) -> dict[str, Any]:
        """Wait until every expected delivery arrived, or nothing arrived for
        DRAIN_STILL_S, or DRAIN_MAX_S passed; stats["drained"] says which."""
        start = time.monotonic()
        last, still_since = -1, start
        while True:
            stats = lg.call("stats", "stats", 10)
            stats["drain_s"] = round(time.monotonic() - start, 2)
            if stats["deliveries"] >= expected:
                stats["drained"] = "all delivered"
                return stats
            if stats["deliveries"] != last:
                last, still_since = stats["deliveries"], time.monotonic()
            elif time.monotonic() - still_since > DRAIN_STILL_S:
                stats["drained"] = f"nothing arrived for {DRAIN_STILL_S:.0f} s"
                return stats
            if time.monotonic() - start > DRAIN_MAX_S:
                stats["drained"] = f"still arriving after {DRAIN_MAX_S:.0f} s"
                return stats
            time.sleep(0.1)


# ---- scenarios ------------------------------------------------------------


def fanout_time(server: Child) -> tuple[float, int] | None:
    """(sum s, count) of the sidecar's fan-out latency histogram, from /metrics."""
    port = getattr(server, "port", None)
    if port is None:
        return None
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return None
    vals = {}
    for line in text.splitlines():
        for key in ("_sum", "_count"):
            name = "partyhub_sidecar_fanout_latency_seconds" + key
            if line.startswith(name + " "):
                vals[key] = float(line.split()[1])
    if len(vals) != 2:
        return None
    return vals["_sum"], int(vals["_count"])


def describe(r: dict[str, Any]) -> str:
    lat = r["latency_us"]
    return (
        f"{r['deliveries']}/{r['expected_deliveries']} delivered, "
        f"{r['deliveries_per_s']:.0f}/s, p50 {lat['p50_us'] / 1e3:.2f} ms, "
        f"p99 {lat['p99_us'] / 1e3:.2f} ms, max {lat['max_us'] / 1e3:.1f} ms, "
        f"lost {r['lost']}, reordered {r['reordered']}, server cpu {r['server_cpu_pct']}%"
        + ("" if r["drained"] == "all delivered" else f" ({r['drained']})")
    )


def with_peer(run: Run, peer: str, n: int, spec: Path, label: str, body) -> dict[str, Any]:
    """Start peer + loadgen, connect n sockets, call body; always stop both."""
    shm = run.tmp / f"progress-{peer}"
    shm.write_bytes(b"\0" * 4096)
    entry: dict[str, Any] = {"peer": peer, "n": n}
    server = lg = None
    try:
        server, port = run.start_peer(peer, shm)
        entry["server_rss_start"] = proc_rss(server.pid)
        lg = run.start_loadgen(port, n, shm)
        conn = run.connect(lg, spec, n, label)
        entry["connect"] = {
            k: conn[k]
            for k in (
                "ready",
                "failed",
                "not_started",
                "elapsed_s",
                "rate",
                "errors",
                "close_codes",
                "fd_limit",
            )
        }
        entry["reached"] = conn["ready"] >= n
        if conn["ready"] < n:
            entry["failure"] = (
                f"{conn['ready']}/{n} connected; errors {conn['errors']}, "
                f"close codes {conn['close_codes']}"
            )
        if not server.alive():
            entry["failure"] = f"server exited: {run.tail(peer, 500)}"
            return entry
        if conn["ready"] == 0:
            return entry
        body(entry, server, lg, conn, shm)
    except BenchError as exc:
        entry["reached"] = False
        entry["failure"] = f"harness: {exc}"
        log(f"  {label}: FAILED: {exc}; {peer} log: {run.tail(peer, 600)!r}")
    finally:
        if lg is not None:
            lg.stop()
        if server is not None:
            if server.json_io and server.alive():
                with contextlib.suppress(Exception):
                    server.send("quit")
            rc = server.stop()
            if rc not in (0, None, -15) and "failure" not in entry:
                entry["server_exit"] = rc
    return entry


def scenario_fanout(run: Run, peers: list[str]) -> list[dict[str, Any]]:
    prof = run.prof
    game = run.games[0]
    out = []
    for n in prof["fanout_sizes"]:
        lines = [f"0 /ws/game/{game['code']}/?role=host&session_token={game['host_token']}"] * n
        spec = run.spec_file(f"fanout-{n}", lines)
        for peer in peers:
            label = f"fanout N={n} {peer}"
            log(f"{label}: start")

            def body(entry, server, lg, conn, shm, n=n, peer=peer, label=label):
                ready = conn["game_ready"][0]
                count = prof["fanout_max_events"][n]
                r = run.broadcast(peer, server, lg, [game["code"]], [ready], count, 0.0, False, shm)
                entry["max"] = r
                log(f"  {label} max rate: {describe(r)}")
                if peer == "raw-cork":
                    return  # at a fixed rate it is the raw loop again
                rate = prof["fanout_rate"][n]
                count = max(1, int(rate * prof["fixed_seconds"]))
                r = run.broadcast(
                    peer, server, lg, [game["code"]], [ready], count, rate, False, shm
                )
                r["rate"] = rate
                entry["fixed"] = r
                log(f"  {label} fixed {rate:g}/s: {describe(r)}")

            out.append(with_peer(run, peer, n, spec, label, body))
    return out


def scenario_rooms(run: Run, peers: list[str]) -> list[dict[str, Any]]:
    prof = run.prof
    games = run.games[: prof["rooms_games"]]
    lines = [
        f"{g} /ws/game/{game['code']}/?session_token={tok}"
        for g, game in enumerate(games)
        for tok in game["player_tokens"]
    ]
    n = len(lines)
    spec = run.spec_file("rooms", lines)
    codes = [game["code"] for game in games]
    out = []
    for peer in [p for p in peers if p != "raw-cork"]:
        label = f"rooms {len(games)}x10 {peer}"
        log(f"{label}: start")

        def body(entry, server, lg, conn, shm, peer=peer, label=label):
            sizes = conn["game_ready"][: len(codes)]
            sizes += [0] * (len(codes) - len(sizes))
            rate = prof["rooms_rate"]
            count = max(1, int(rate * prof["rooms_seconds"]))
            r = run.broadcast(peer, server, lg, codes, sizes, count, rate, True, shm)
            r["rate"] = rate
            if peer in LOCAL_PEERS:
                r["note"] = f"{peer} picks its random games with its own generator"
            entry["fixed"] = r
            log(f"  {label} fixed {rate:g}/s: {describe(r)}")
            r = run.broadcast(
                peer, server, lg, codes, sizes, prof["rooms_max_events"], 0.0, True, shm
            )
            entry["max"] = r
            log(f"  {label} max rate: {describe(r)}")

        entry = with_peer(run, peer, n, spec, label, body)
        entry["games"] = len(games)
        out.append(entry)
    return out


def scenario_idle(run: Run, peers: list[str]) -> list[dict[str, Any]]:
    """For each size, all peers side by side (separate processes, separate
    load generators) idle for the same window; RSS delta / N and CPU %."""
    prof = run.prof
    out = []
    for n in prof["idle_sizes"]:
        lines = [spread_line(run.games, i) for i in range(n)]
        spec = run.spec_file(f"idle-{n}", lines)
        live: list[tuple[str, Child, Child, dict[str, Any]]] = []
        try:
            for peer in peers:
                label = f"idle N={n} {peer}"
                log(f"{label}: connecting")
                shm = run.tmp / f"progress-idle-{peer}"
                shm.write_bytes(b"\0" * 4096)
                entry: dict[str, Any] = {"peer": peer, "n": n}
                try:
                    server, port = run.start_peer(peer, shm)
                except BenchError as exc:
                    entry.update(reached=False, failure=f"harness: {exc}")
                    out.append(entry)
                    continue
                time.sleep(1.0)
                entry["rss_before"] = proc_rss(server.pid)
                lg = run.start_loadgen(port, n, shm)
                conn = run.connect(lg, spec, n, label)
                entry["connect"] = {
                    k: conn[k]
                    for k in ("ready", "failed", "elapsed_s", "rate", "errors", "close_codes")
                }
                entry["reached"] = conn["ready"] >= n
                if conn["ready"] < n:
                    entry["failure"] = f"{conn['ready']}/{n} connected; errors {conn['errors']}"
                live.append((peer, server, lg, entry))
            seconds = prof["idle_seconds"]
            log(
                f"idle N={n}: {len(live)} peers idle for {seconds:.0f} s "
                f"(heartbeat every {prof['heartbeat']} s)"
            )
            start = {
                peer: (proc_cpu_s(s.pid), lg.call("stats", "stats", 10)) for peer, s, lg, _ in live
            }
            t0 = time.monotonic()
            end = t0 + seconds
            while (left := end - time.monotonic()) > 0:
                time.sleep(min(left, 10.0))
                log(f"  idle N={n}: {min(seconds, time.monotonic() - t0):.0f}/{seconds:.0f} s")
            wall = time.monotonic() - t0
            for peer, server, lg, entry in live:
                cpu0, st0 = start[peer]
                st1 = lg.call("stats", "stats", 10)
                cpu = proc_cpu_s(server.pid) - cpu0
                rss = proc_rss(server.pid)
                ready = max(1, conn_ready(entry))
                entry.update(
                    seconds=round(wall, 1),
                    rss_after=rss,
                    rss_per_conn=round((rss - entry["rss_before"]) / ready, 1),
                    cpu_pct=round(100 * cpu / wall, 3),
                    heartbeats_per_conn=round((st1["pings"] - st0["pings"]) / ready, 2),
                    closed_during_idle=st1["closed_after_ready"] - st0["closed_after_ready"],
                    client_errors=st1["errors"],
                    close_codes=st1["close_codes"],
                )
                log(
                    f"  idle N={n} {peer}: {entry['rss_per_conn']:.0f} B/conn, "
                    f"cpu {entry['cpu_pct']:.2f}%, pings/conn {entry['heartbeats_per_conn']}, "
                    f"closed {entry['closed_during_idle']}"
                )
                out.append(entry)
        finally:
            for _, server, lg, _ in live:
                lg.stop()
                server.stop()
    return out


def spread_line(games: list[dict[str, Any]], i: int) -> str:
    """Socket i of a load spread over every game's player tokens (round robin)."""
    g = i % len(games)
    tokens = games[g]["player_tokens"]
    token = tokens[(i // len(games)) % len(tokens)]
    return f"{g} /ws/game/{games[g]['code']}/?session_token={token}"


def conn_ready(entry: dict[str, Any]) -> int:
    return int(entry.get("connect", {}).get("ready", 0))


def scenario_scale(run: Run, peer: str = "sidecar") -> dict[str, Any]:
    prof = run.prof
    target, step = prof["scale_target"], prof["scale_step"]
    shm = run.tmp / f"progress-scale-{peer}"
    shm.write_bytes(b"\0" * 4096)
    result: dict[str, Any] = {"peer": peer, "target": target, "steps": []}
    server = lg = None
    try:
        server, port = run.start_peer(peer, shm)
        time.sleep(1.0)
        rss0 = proc_rss(server.pid)
        result["rss_before"] = rss0
        result["server_nofile"] = proc_limit_nofile(server.pid)
        lg = run.start_loadgen(port, target, shm)
        done = 0
        while done < target:
            n = min(step, target - done)
            lines = [spread_line(run.games, i) for i in range(done, done + n)]
            spec = run.spec_file("scale", lines)
            res = run.connect(lg, spec, n, f"scale {peer} {done}+{n}")
            done += res["ready"]
            rss = proc_rss(server.pid) if server.alive() else 0
            st = {
                "connections": done,
                "step_ready": res["ready"],
                "step_failed": res["failed"] + res["not_started"],
                "connect_rate": res["rate"],
                "rss": rss,
                "rss_per_conn": round((rss - rss0) / max(1, done), 1),
                "errors": res["errors"],
                "close_codes": res["close_codes"],
            }
            result["steps"].append(st)
            if not server.alive():
                result["stopped"] = f"{peer} exited: {run.tail(peer, 500)}"
                break
            if res["ready"] < n:
                why = ", ".join(f"{k} x{v}" for k, v in res["errors"].items()) or "?"
                result["stopped"] = (
                    f"step {len(result['steps'])} connected {res['ready']}/{n}: {why}; "
                    f"loadgen RLIMIT_NOFILE {res['fd_limit']}, {peer} {result['server_nofile']}"
                )
                break
        result["max_connections"] = done
        result["reached"] = done >= target
        if result["reached"]:
            result["stopped"] = "target reached"
        stats = lg.call("stats", "stats", 10)
        result["closed_after_ready"] = stats["closed_after_ready"]
        log(f"scale {peer}: {done} connections; {result['stopped']}")
    except BenchError as exc:
        result["stopped"] = f"harness: {exc}"
        log(f"scale {peer}: FAILED: {exc}")
    finally:
        if lg is not None:
            lg.stop()
        if server is not None:
            server.stop()
    return result


def start_runsidecar(run: Run, name: str, drain_seconds: float) -> tuple[Child, int]:
    """`manage.py runsidecar` on a free port (the command SIGUSR1 drains)."""
    port = free_port()
    child = Child(
        name,
        [
            PY,
            str(ROOT / "manage.py"),
            "runsidecar",
            "--bind",
            f"127.0.0.1:{port}",
            "--drain-seconds",
            str(drain_seconds),
            "--log-level",
            "warning",
        ],
        env=run.env,
        log_path=run.tmp / f"{name}.log",
    )
    run.wait_listening(child, port, True)
    return child, port


def healthz(port: int) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
            return json.loads(r.read())
    except OSError as exc:
        return {"error": str(exc)}


def listen_overflows() -> int:
    """TcpExtListenOverflows (whole machine): SYNs dropped on full accept queues."""
    lines = Path("/proc/net/netstat").read_text().splitlines()
    for names, values in zip(lines[::2], lines[1::2], strict=True):
        if names.startswith("TcpExt:"):
            row = dict(zip(names.split()[1:], values.split()[1:], strict=True))
            return int(row.get("ListenOverflows", 0))
    return 0


def scenario_drain(run: Run) -> dict[str, Any]:
    """Drain sidecar A over W s while B takes its N clients (issue 9)."""
    prof = run.prof
    n, window, rate = prof["drain_clients"], prof["drain_seconds"], prof["drain_rate"]
    games = run.games[: max(1, n // 10)]
    spec = run.spec_file("drain", [spread_line(games, i) for i in range(n)])
    codes = [g["code"] for g in games]
    even = n / window
    result: dict[str, Any] = {
        "n": n,
        "games": len(games),
        "window_s": window,
        "event_rate": rate,
        "ceiling_per_s": round(DRAIN_CEILING_PER_S * even),
        "ceiling_per_100ms": round(DRAIN_CEILING_PER_100MS * even / 10),
    }
    shm = run.tmp / "progress-drain"
    shm.write_bytes(b"\0" * 4096)
    a = b = lg = None
    label = f"drain N={n} over {window:g} s"
    try:
        a, a_port = start_runsidecar(run, "drain-a", window)
        b, b_port = start_runsidecar(run, "drain-b", window)
        lg = run.start_loadgen(a_port, n, shm, ("--follow", "1"))
        conn = run.connect(lg, spec, n, f"{label}: A")
        result["connect"] = {k: conn[k] for k in ("ready", "failed", "elapsed_s", "rate", "errors")}
        sizes = conn["game_ready"][: len(codes)]
        sizes += [0] * (len(codes) - len(sizes))
        lg.call("reset", "reset", 10)
        if run.broadcaster is None:
            # At INFO, realtime.layer logs every broadcast that found a
            # process's channel over capacity (the event is dropped there).
            run.start_broadcaster({"PARTYHUB_LOG_LEVEL": "INFO"})
            count_over = True
        else:  # shared with fanout/rooms at WARNING: not counted
            count_over = False
        assert run.broadcaster is not None
        count = max(1, int(rate * (window + 3)))
        cmd = {
            "cmd": "run",
            "codes": codes,
            "sizes": sizes,
            "count": count,
            "rate": rate,
            "window": WINDOW,
            "random": True,
            "payload": PAYLOAD,
            "seed": 1,
            "timeout_s": window + 60,
            "store_state": True,
        }
        run.broadcaster.send(json.dumps(cmd))
        time.sleep(1.0)  # events flowing on A before the drain
        lg.call(f"drain {b_port} {int(window + 60)}", "following", 10)
        log(f"{label}: SIGUSR1 to A (pid {a.pid}); B on {b_port}")
        overflows, b_cpu = listen_overflows(), proc_cpu_s(b.pid)
        t_drain = time.monotonic()
        os.kill(a.pid, signal.SIGUSR1)
        drained = lg.expect("drained", window + 90)
        result["b_cpu_pct"] = round(
            100 * (proc_cpu_s(b.pid) - b_cpu) / (time.monotonic() - t_drain), 1
        )
        result["listen_overflows"] = listen_overflows() - overflows
        result["loadavg"] = Path("/proc/loadavg").read_text().split()[:3]
        result["a_healthz_after"] = "refused" if "error" in healthz(a_port) else "answered"
        done = run.broadcaster.expect("done", window + 90)
        over = run.tail("broadcaster", 1 << 26).count("over capacity") if count_over else None
        stats = lg.call("stats", "stats", 10)
        t0 = time.monotonic()
        result["a_exit"] = a.stop(10)
        result["a_exit_s"] = round(time.monotonic() - t0, 3)
        result["b_connections"] = healthz(b_port).get("connections")
        result["drained"] = drained
        result["events"] = {
            "sent": done["sent"],
            "errors": done["errors"],
            "deliveries": stats["deliveries"],
            # Missing seqs after each client's resync; a client sees the gap
            # (and partyhub-client.js refetches the state over REST).
            "lost_after_resync": stats["gaps"],
            "lost_first_event_after_move": drained["gaps_first_after_move"],
            # Events at or below the seq a client already has (its resync
            # state included them): dropped as stale by a client.
            "stale_after_resync": stats["reorder"],
            "covered_by_resync": drained["resync_covered"],
            "state_behind": drained["state_behind"],
            "broadcasts_over_capacity": over,
        }
        result["within_ceiling"] = (
            drained["max_connects_per_s"] <= result["ceiling_per_s"]
            and drained["max_connects_per_100ms"] <= result["ceiling_per_100ms"]
        )
        log(
            f"  {label}: moved {drained['moved']}/{drained['targets']} "
            f"(failed {drained['move_failed']}), reconnects per client "
            f"0:{drained['reconnects_0']} 1:{drained['reconnects_1']} "
            f"2+:{drained['reconnects_2_or_more']}; B connects max "
            f"{drained['max_connects_per_100ms']}/100 ms (ceiling "
            f"{result['ceiling_per_100ms']}), {drained['max_connects_per_s']}/s (ceiling "
            f"{result['ceiling_per_s']}); B cpu {result['b_cpu_pct']}%, accept-queue "
            f"overflows {result['listen_overflows']}, load {result['loadavg']}; downtime p50 "
            f"{drained['downtime']['p50_us'] / 1e3:.1f} ms p99 "
            f"{drained['downtime']['p99_us'] / 1e3:.1f} ms (wait p50 "
            f"{drained['wait']['p50_us'] / 1e3:.1f} ms, reconnect p50 "
            f"{drained['reconnect']['p50_us'] / 1e3:.1f} ms); notices "
            f"{drained['notices']}/{drained['closes_1012']}; events lost after resync "
            f"{stats['gaps']} of {stats['deliveries']} delivered; A exited "
            f"{result['a_exit']} in {result['a_exit_s']} s after SIGTERM"
        )
    except BenchError as exc:
        result["failure"] = f"harness: {exc}"
        log(f"  {label}: FAILED: {exc}")
    finally:
        for child in (lg, a, b):
            if child is not None:
                child.stop()
    return result


def scenario_broadcast(run: Run, timeout: float, seconds: float) -> dict[str, Any]:
    script = BENCH / "broadcast.py"
    if not script.exists():
        log("broadcast call cost: bench/broadcast.py is not on this branch yet; skipped")
        return {"status": "missing", "note": "bench/broadcast.py not present (another engineer's)"}
    log(f"broadcast call cost: running bench/broadcast.py (timeout {timeout:.0f} s)")
    out = run.tmp / "broadcast.out"
    child = Child(
        "broadcast.py", [PY, str(script), "--seconds", str(seconds)], env=run.env, log_path=out
    )
    try:
        child.proc.wait(timeout=timeout)
        status = "ok" if child.proc.returncode == 0 else f"exit {child.proc.returncode}"
    except Exception:
        status = f"timed out after {timeout:.0f} s"
    finally:
        child.stop()
    text = out.read_text(errors="replace") if out.exists() else ""
    return {"status": status, "output": text[-20000:]}


# ---- main -------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description="partyhub benchmarks (issue 5)")
    p.add_argument("--profile", choices=sorted(PROFILES), default="quick")
    p.add_argument("--peers", default=",".join(PEERS), help="comma list of " + ",".join(PEERS))
    p.add_argument("--scenarios", default=None, help="comma list of " + ",".join(SCENARIOS))
    p.add_argument("--fanout-sizes", default=None, help="e.g. 100,1000")
    p.add_argument("--idle-sizes", default=None)
    p.add_argument("--idle-seconds", type=float, default=None)
    p.add_argument("--rooms-games", type=int, default=None)
    p.add_argument("--scale-target", type=int, default=None)
    p.add_argument(
        "--connect-concurrency",
        type=int,
        default=CONNECT_CONCURRENCY,
        help="handshakes the load generator keeps in flight",
    )
    p.add_argument("--label", default="", help="free text stored with the results (e.g. smoke)")
    p.add_argument("--out", type=Path, default=BENCH / "results")
    p.add_argument("--no-report", action="store_true", help="skip plots and BENCHMARKS.md")
    p.add_argument(
        "--pin",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="the server alone on one CPU, the rest on another (bench.common.placement;"
        " never for drain, whose two sidecars share the machine)",
    )
    return p.parse_args()


def main() -> int:
    args = parse_args()
    prof = json.loads(json.dumps(PROFILES[args.profile]))
    prof["fanout_max_events"] = {int(k): v for k, v in prof["fanout_max_events"].items()}
    prof["fanout_rate"] = {int(k): v for k, v in prof["fanout_rate"].items()}
    if args.fanout_sizes:
        sizes = [int(x) for x in args.fanout_sizes.split(",")]
        for n in sizes:
            prof["fanout_max_events"].setdefault(n, max(10, min(400, 200000 // n)))
            prof["fanout_rate"].setdefault(n, max(1.0, min(100.0, 20000.0 / n)))
        prof["fanout_sizes"] = sizes
    if args.idle_sizes:
        prof["idle_sizes"] = [int(x) for x in args.idle_sizes.split(",")]
    for key in ("idle_seconds", "rooms_games", "scale_target"):
        if getattr(args, key) is not None:
            prof[key] = getattr(args, key)
    peers = [p for p in args.peers.split(",") if p]
    for p in peers:
        if p not in PEERS:
            raise SystemExit(f"unknown peer {p}")
    if args.scenarios:
        scenarios = args.scenarios.split(",")
    else:
        # drain has its own target (make bench-drain) and its own BENCHMARKS.md section.
        scenarios = [
            s
            for s in SCENARIOS
            if s != "drain" and (s != "broadcast" or prof["broadcast_timeout"] > 0)
        ]
    for s in scenarios:
        if s not in SCENARIOS:
            raise SystemExit(f"unknown scenario {s}")
    for tool in ("loadgen", "rawserver"):
        if not (BIN / tool).exists():
            raise SystemExit(f"{BIN / tool} missing: run `make bench-build`")
    if "drain" in scenarios:
        args.pin = False  # two sidecars and the client share the machine there
    cpus = placement(args.pin)
    if cpus:
        # Everything started from here on (Redis, the broadcaster, the load
        # generators) inherits the "rest" CPU; servers are moved to theirs.
        os.sched_setaffinity(0, cpus["rest"])
        log(f"CPUs: server {sorted(cpus['server'])}, the rest {sorted(cpus['rest'])}")

    stamp = time.strftime("%Y%m%dT%H%M%S")
    command = "make bench" if args.profile == "full" else f"make bench-{args.profile}"
    if scenarios == ["drain"]:
        command = "make bench-drain"
    extra = " ".join(sys.argv[1:])
    results: dict[str, Any] = {
        "timestamp": stamp,
        "profile": args.profile,
        "label": args.label,
        "command": f"{command}" + (f"  (bench/run.py {extra})" if extra else ""),
        "machine": machine(),
        "git": git_head(),
        "params": {
            "window": WINDOW,
            "payload_bytes": PAYLOAD,
            "sources": SOURCES,
            "connect_concurrency": args.connect_concurrency,
            "cpus": {k: sorted(v) for k, v in cpus.items()} if cpus else "any",
            **{k: v for k, v in prof.items()},
        },
        "peers": peers,
        "scenarios": {},
    }
    run: Run | None = None

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    # Children inherit this: every peer and the load generator may use all
    # the descriptors the hard limit allows (Debian's default soft limit,
    # 1024, would otherwise cap every server at ~1000 sockets).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    results["machine"]["nofile_limit"] = proc_limit_nofile(os.getpid())
    signal.signal(signal.SIGTERM, on_signal)
    atexit.register(Children.stop_all)
    t_start = time.monotonic()
    status = 0
    try:
        run = Run(args, prof, cpus["server"] if cpus else None)
        log(
            f"profile {args.profile}: scenarios {','.join(scenarios)}; peers {','.join(peers)}; "
            f"redis on {run.redis.port}; tmp {run.tmp}"
        )
        need_games = max(
            1,
            prof["rooms_games"] if "rooms" in scenarios else 1,
            100 if {"idle", "scale"} & set(scenarios) else 1,
            prof["drain_clients"] // 10 if "drain" in scenarios else 1,
        )
        run.setup_games(need_games)
        if {"fanout", "rooms"} & set(scenarios) and set(peers) - LOCAL_PEERS:
            run.start_broadcaster()
            results["broadcast_path"] = run.broadcast_path
        sc = results["scenarios"]
        if "fanout" in scenarios:
            sc["fanout"] = scenario_fanout(run, peers)
        if "rooms" in scenarios:
            sc["rooms"] = scenario_rooms(run, peers)
        if "idle" in scenarios:
            # The "-local" peers are the same servers as uws and ws (raw-cork: raw).
            sc["idle"] = scenario_idle(run, [p for p in peers if p not in LOCAL_PEERS])
        if "scale" in scenarios and "sidecar" in peers:
            sc["scale"] = scenario_scale(run)
        if "scale" in scenarios:
            # issue 20: the same ramp for uWebSockets and Node ws.
            sc["scale_peers"] = [scenario_scale(run, p) for p in ("uws", "ws") if p in peers]
        if "drain" in scenarios and "sidecar" in peers:
            sc["drain"] = scenario_drain(run)
        if "broadcast" in scenarios:
            sc["broadcast"] = scenario_broadcast(
                run, prof["broadcast_timeout"] or 120.0, prof["broadcast_seconds"]
            )
    except KeyboardInterrupt as exc:
        log(f"interrupted ({exc}); stopping everything")
        results["interrupted"] = True
        status = 130
    except BenchError as exc:
        log(f"harness error: {exc}")
        results["error"] = str(exc)
        status = 1
    finally:
        if run is not None and run.broadcaster is not None:
            with contextlib.suppress(Exception):
                run.broadcaster.send(json.dumps({"cmd": "quit"}))
        Children.stop_all()
        if run is not None:
            results["sidecar_binding"] = run.sidecar_binding
            run.close()
    results["elapsed_s"] = round(time.monotonic() - t_start, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{stamp}.json"
    path.write_text(json.dumps(results, indent=1))
    log(f"results: {path} ({results['elapsed_s']:.0f} s)")
    if not args.no_report and status == 0:
        from bench import report

        report.render(path)
    return status


def git_head() -> str:
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout
        return rev + ("+dirty" if dirty.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "?"


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
