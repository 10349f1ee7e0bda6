"""make bench-scale: 100,000 concurrent WebSockets on one machine.

    python bench/scale.py [--target 100000] [--workers 6] [--loadgens 6]
                          [--step 10000] [--games 10000] [--players 10]

One process is capped at 20,000 descriptors here, so the sockets are spread
on both sides: `manage.py runsidecar --workers N` (N processes sharing the
port with SO_REUSEPORT, as deploy/systemd runs it) and several load
generators (bench/loadgen.c), each below the limit. Every socket is a
player of a real game (`bench/setup_games.py`: sessions and tokens through
lobby.services, their digests in Redis), so every handshake is a token
check by the sidecar; a socket counts once `welcome` and `session.state`
arrived. The ramp goes in steps; each step records the connect rate and
the RSS of every worker. At the end one event is broadcast to every game
(through the C layer, as a view does) and every socket must get it: lost =
ready sockets − deliveries, with gaps and reordering per socket.

Sources are spread over 127.0.0.1..127.0.0.K (`--sources`): the ephemeral
port range (`net.ipv4.ip_local_port_range`, about 28,000 ports per source
and destination) would otherwise cap loopback at that many sockets. The
results go to bench/results/scale-<timestamp>.json; BENCHMARKS.md "Scale"
records a run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.broadcaster import Progress  # noqa: E402  (a load generator's progress page)
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
    proc_cpu_s,
    proc_rss,
)
from partyhub.redisproc import RedisServer, free_port  # noqa: E402

SYSCTLS = (
    "net.ipv4.ip_local_port_range",
    "net.core.somaxconn",
    "net.ipv4.tcp_max_syn_backlog",
    "fs.file-max",
    "fs.nr_open",
    "net.ipv4.tcp_mem",
)
BATCH = 250  # games per broadcast batch; the next waits for its deliveries
STALL_S = 15.0


def sysctl(name: str) -> str:
    try:
        return Path("/proc/sys", *name.split(".")).read_text().split("\n")[0].strip()
    except OSError:
        return "?"


def sockstat() -> dict[str, int]:
    """/proc/net/sockstat TCP line: inuse, orphan, tw, alloc, mem (pages)."""
    for line in Path("/proc/net/sockstat").read_text().splitlines():
        if line.startswith("TCP:"):
            parts = line.split()[1:]
            return {parts[i]: int(parts[i + 1]) for i in range(0, len(parts), 2)}
    return {}


def children_of(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return sorted(found)


def fd_count(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def hard_nofile() -> int:
    import resource

    return resource.getrlimit(resource.RLIMIT_NOFILE)[1]


def socket_line(games: list[dict[str, Any]], i: int) -> str:
    """Socket i: a player token of game i mod G (one socket per token while
    i < G * players)."""
    g = i % len(games)
    tokens = games[g]["player_tokens"]
    token = tokens[(i // len(games)) % len(tokens)]
    return f"{g} /ws/game/{games[g]['code']}/?session_token={token}"


class Scale:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="partyhub-scale-"))
        self.redis = RedisServer(extra_args=("--maxclients", "10000")).start()
        Children.add_closer(self.redis)
        self.env = django_env(self.tmp / "scale.sqlite3", self.redis.port)
        self.games: list[dict[str, Any]] = []
        self.loadgens: list[Child] = []
        self.progress: list[Progress] = []
        self.last_connected: list[dict[str, Any]] = []
        self.sidecar: Child | None = None
        self.workers: list[int] = []
        self.result: dict[str, Any] = {
            "command": "make bench-scale" + (f" SCALE_ARGS='{args.raw}'" if args.raw else ""),
            "machine": machine(),
            "sysctl": {name: sysctl(name) for name in SYSCTLS},
            "config": {
                k: getattr(args, k)
                for k in ("target", "workers", "loadgens", "step", "games", "players", "sources")
            },
            "steps": [],
        }

    # -- set-up -------------------------------------------------------------

    def check_limits(self) -> None:
        a, limit = self.args, hard_nofile()
        per_loadgen = math.ceil(a.target / a.loadgens) + 64
        # SO_REUSEPORT hashes connections to workers: allow 10 % above even.
        per_worker = int(a.target / a.workers * 1.1) + 100
        self.result["nofile_hard"] = limit
        for what, need, flag in (
            ("load generator", per_loadgen, "--loadgens"),
            ("sidecar worker", per_worker, "--workers"),
        ):
            if need > limit:
                raise BenchError(
                    f"a {what} needs ~{need} descriptors, over the hard limit {limit}: raise {flag}"
                )
        low, high = (int(x) for x in sysctl("net.ipv4.ip_local_port_range").split())
        per_source = math.ceil(a.target / a.sources)
        if per_source > (high - low) * 0.9:
            raise BenchError(
                f"{per_source} sockets per source address but {high - low} ephemeral ports: "
                "raise --sources"
            )
        log(
            f"limits: {limit} descriptors per process; {per_loadgen} per load generator, "
            f"~{per_worker} per sidecar worker; {per_source} sockets per source address "
            f"(ephemeral ports {low}-{high}); somaxconn {sysctl('net.core.somaxconn')}"
        )

    def setup_games(self) -> None:
        out = self.tmp / "games.json"
        a = self.args
        log(f"setup: {a.games} games x {a.players} players (lobby.services, tokens in Redis)")
        child = Child(
            "setup",
            [PY, str(BENCH / "setup_games.py"), "--out", str(out)]
            + ["--games", str(a.games), "--players", str(a.players)],
            env=self.env,
            log_path=self.tmp / "setup.log",
        )
        try:
            child.proc.wait(timeout=1800)
        finally:
            child.stop()
        if child.proc.returncode != 0:
            raise BenchError("setup failed: " + (self.tmp / "setup.log").read_text()[-2000:])
        self.games = json.loads(out.read_text())

    def start_sidecar(self) -> int:
        port = free_port()
        self.sidecar = Child(
            "runsidecar",
            [PY, "manage.py", "runsidecar", "--bind", f"127.0.0.1:{port}"]
            + ["--workers", str(self.args.workers), "--log-level", "warning"],
            env=self.env,
            log_path=self.tmp / "sidecar.log",
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if not self.sidecar.alive():
                raise BenchError("runsidecar exited: " + self.tail("sidecar"))
            self.workers = children_of(self.sidecar.pid)
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    up = json.loads(r.read()).get("redis") == "up"
            except OSError:
                up = False
            if up and len(self.workers) == self.args.workers:
                break
            time.sleep(0.2)
        else:
            raise BenchError("runsidecar did not come up: " + self.tail("sidecar"))
        time.sleep(2.0)  # every worker's Redis links up and its heap settled
        log(f"runsidecar on {port}: workers {self.workers}")
        return port

    def start_loadgens(self, port: int) -> None:
        per = math.ceil(self.args.target / self.args.loadgens)
        for i in range(self.args.loadgens):
            shm = self.tmp / f"progress-{i}"
            shm.write_bytes(b"\0" * 4096)
            lg = Child(
                f"loadgen{i}",
                [str(BIN / "loadgen"), "--port", str(port), "--max-conns", str(per + 64)]
                + ["--shm", str(shm), "--sources", str(self.args.sources)],
                json_io=True,
                log_path=self.tmp / f"loadgen{i}.log",
            )
            hello = lg.expect("hello", 10)
            if hello["fd_limit"] < per + 64:
                raise BenchError(f"loadgen{i}: RLIMIT_NOFILE {hello['fd_limit']} < {per + 64}")
            self.loadgens.append(lg)
            self.progress.append(Progress(str(shm)))

    def tail(self, name: str, n: int = 1500) -> str:
        path = self.tmp / f"{name}.log"
        return path.read_text(errors="replace")[-n:] if path.exists() else ""

    # -- measurements --------------------------------------------------------

    def memory(self) -> dict[str, Any]:
        rss = {pid: proc_rss(pid) for pid in self.workers}
        fds = {pid: fd_count(pid) for pid in self.workers}
        return {"rss": rss, "fds": fds}

    def redis_info(self) -> dict[str, int]:
        import redis

        info = redis.Redis(port=self.redis.port).info()
        return {k: int(info[k]) for k in ("used_memory", "connected_clients")}

    def ramp(self) -> int:
        a = self.args
        base = self.memory()
        self.result["baseline"] = {
            "worker_rss": list(base["rss"].values()),
            "worker_fds": list(base["fds"].values()),
            "redis": self.redis_info(),
            "sockstat": sockstat(),
        }
        done = 0
        while done < a.target:
            n = min(a.step, a.target - done)
            parts = [
                list(range(done + k, done + n, a.loadgens)) for k in range(a.loadgens)
            ]  # socket i goes to load generator i mod L
            t0 = time.monotonic()
            cpu0 = {pid: proc_cpu_s(pid) for pid in self.workers}
            for k, lg in enumerate(self.loadgens):
                spec = self.tmp / f"step-{len(self.result['steps'])}-{k}.spec"
                spec.write_text("\n".join(socket_line(self.games, i) for i in parts[k]) + "\n")
                lg.send(f"connect {spec} {a.concurrency} {a.connect_timeout}")
            results = [lg.expect("connected", a.connect_timeout + 60) for lg in self.loadgens]
            self.last_connected = results
            wall = time.monotonic() - t0
            ready = sum(r["ready"] for r in results)
            done += ready
            mem = self.memory()
            grown = sum(mem["rss"][p] - base["rss"][p] for p in self.workers)
            errors: dict[str, int] = {}
            for r in results:
                for reason, count in r.get("errors", {}).items():
                    errors[reason] = errors.get(reason, 0) + count
            step = {
                "connections": done,
                "step_target": n,
                "step_ready": ready,
                "step_s": round(wall, 2),
                "connect_rate": round(ready / wall, 1) if wall > 0 else 0,
                "workers_rss": [mem["rss"][p] for p in self.workers],
                "workers_sockets": [mem["fds"][p] - base["fds"][p] for p in self.workers],
                "rss_per_conn": round(grown / max(1, done), 1),
                "workers_cpu_s": round(sum(proc_cpu_s(p) - cpu0[p] for p in self.workers), 2),
                "errors": errors,
            }
            self.result["steps"].append(step)
            log(
                f"step {len(self.result['steps'])}: {done} connected (+{ready}/{n} in "
                f"{wall:.1f} s, {step['connect_rate']:.0f}/s); workers "
                f"{step['workers_sockets']} sockets; RSS {grown / 2**20:.1f} MiB over the "
                f"start = {step['rss_per_conn']:.0f} B/socket"
                + (f"; errors {errors}" if errors else "")
            )
            if not self.sidecar.alive():
                self.result["stopped"] = "runsidecar exited: " + self.tail("sidecar", 500)
                break
            if ready < n:
                self.result["stopped"] = f"step connected {ready}/{n}: {errors}"
                break
        else:
            self.result["stopped"] = "target reached"
        time.sleep(3)  # settle, then the figures the table shows
        mem = self.memory()
        grown = sum(mem["rss"][p] - base["rss"][p] for p in self.workers)
        self.result["final"] = {
            "connections": done,
            "workers_rss": list(mem["rss"].values()),
            "workers_sockets": [mem["fds"][p] - base["fds"][p] for p in self.workers],
            "rss_grown": grown,
            "rss_per_conn": round(grown / max(1, done), 1),
            "redis": self.redis_info(),
            "sockstat": sockstat(),
        }
        return done

    def broadcast(self) -> None:
        """One event to every game, BATCH games at a time (each batch waits
        for its deliveries, so no channel outgrows its capacity)."""
        os.environ.update(self.env)
        import django

        django.setup()
        from realtime import layer
        from realtime.broadcast import sync_broadcast_phase_event

        # The sockets ready at the end of the ramp, per game (a socket lost
        # since then counts its event as lost).
        ready_per_game = [0] * len(self.games)
        for lg, last in zip(self.loadgens, self.last_connected, strict=True):
            for g, count in enumerate(last.get("game_ready", [])):
                ready_per_game[g] += count
            lg.call("reset", "reset", 30)
        expected_total = sum(ready_per_game)
        log(
            f"broadcast: one event to each of {len(self.games)} games "
            f"({expected_total} sockets) via "
            f"{'the C layer' if layer.get_layer() is not None else 'channels_redis'}"
        )
        pad = "x" * 88
        sent = expected = stalls = 0
        t0 = time.monotonic()
        for start in range(0, len(self.games), BATCH):
            for g in range(start, min(start + BATCH, len(self.games))):
                payload = {
                    "t": time.monotonic_ns(),
                    "round": 1,
                    "ranking": [],
                    "awards": [],
                    "pad": pad,
                }
                sync_broadcast_phase_event(self.games[g]["code"], "phase.game_over", payload)
                sent += 1
                expected += ready_per_game[g]
            waited = time.monotonic()
            while sum(p.deliveries() for p in self.progress) < expected:
                if time.monotonic() - waited > STALL_S:
                    stalls += 1
                    break
                time.sleep(0.001)
        send_s = time.monotonic() - t0
        deadline = time.monotonic() + 30
        while sum(p.deliveries() for p in self.progress) < expected_total:
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        stats = [lg.call("stats", "stats", 30) for lg in self.loadgens]
        delivered = sum(s["deliveries"] for s in stats)
        first = min((s["first_t_ns"] for s in stats if s["first_t_ns"]), default=0)
        last = max((s["last_rx_ns"] for s in stats), default=0)
        self.result["broadcast"] = {
            "games": sent,
            "sockets": expected_total,
            "deliveries": delivered,
            "lost": max(0, expected_total - delivered),
            "extra": max(0, delivered - expected_total),
            "gaps": sum(s["gaps"] for s in stats),
            "reordered": sum(s["reorder"] for s in stats),
            "closed_after_ready": sum(s["closed_after_ready"] for s in stats),
            "send_s": round(send_s, 2),
            "span_s": round((last - first) / 1e9, 2) if first else 0,
            "stalls": stalls,
            "latency_p50_us": [s["latency"]["p50_us"] for s in stats],
            "latency_p99_us": [s["latency"]["p99_us"] for s in stats],
            "latency_max_us": max(s["latency"]["max_us"] for s in stats),
        }
        b = self.result["broadcast"]
        log(
            f"broadcast: {b['deliveries']}/{b['sockets']} delivered, {b['lost']} lost, "
            f"{b['gaps']} gaps, {b['reordered']} reordered, in {b['span_s']} s; "
            f"p99 per load generator {b['latency_p99_us']} µs"
        )

    def run(self) -> dict[str, Any]:
        try:
            self.check_limits()
            self.setup_games()
            port = self.start_sidecar()
            self.start_loadgens(port)
            connected = self.ramp()
            if connected:
                self.broadcast()
            self.result["sidecar_alive"] = self.sidecar.alive()
        except BenchError as exc:
            self.result["stopped"] = f"harness: {exc}"
            log(f"FAILED: {exc}")
        finally:
            for lg in self.loadgens:
                lg.stop()
            if self.sidecar is not None:
                self.sidecar.stop(timeout=15)
            Children.stop_all()
        if self.result.get("stopped") == "target reached":
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            log(f"logs kept in {self.tmp}")
        return self.result


def table(result: dict[str, Any]) -> str:
    """The Markdown rows of BENCHMARKS.md "Scale"."""
    lines = [
        "| connections | step | connect rate (/s) | sockets per worker | "
        "user-space RSS per connection (all workers) |",
        "|---:|---:|---:|---|---:|",
    ]
    for step in result["steps"]:
        lines.append(
            f"| {step['connections']:,} | +{step['step_ready']:,} in {step['step_s']} s | "
            f"{step['connect_rate']:,.0f} | {', '.join(f'{n:,}' for n in step['workers_sockets'])}"
            f" | {step['rss_per_conn']:,.0f} B |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=6, help="runsidecar --workers")
    parser.add_argument("--loadgens", type=int, default=6, help="load generator processes")
    parser.add_argument("--step", type=int, default=10_000)
    parser.add_argument("--games", type=int, default=10_000)
    parser.add_argument("--players", type=int, default=10)
    parser.add_argument("--sources", type=int, default=16, help="source addresses 127.0.0.1..K")
    parser.add_argument("--concurrency", type=int, default=256, help="handshakes in flight each")
    parser.add_argument("--connect-timeout", type=int, default=120, help="s per step")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    args.raw = " ".join(sys.argv[1:])
    if not (1 <= args.workers <= 64 and 1 <= args.loadgens <= 64 and args.target >= 1):
        parser.error("1..64 workers and load generators, a positive target")
    if not (BIN / "loadgen").exists():
        raise SystemExit(f"{BIN / 'loadgen'} missing: run `make bench-scale` (it builds it)")
    result = Scale(args).run()
    out = args.out or ROOT / "bench" / "results" / f"scale-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    log(f"results: {out}")
    print(table(result))
    final, b = result.get("final", {}), result.get("broadcast", {})
    print(
        f"\n{final.get('connections', 0):,} connections ({result['stopped']}); "
        f"{final.get('rss_per_conn', 0):,.0f} B user-space RSS per connection over "
        f"{len(final.get('workers_rss', []))} workers; broadcast to all: "
        f"{b.get('deliveries', 0):,}/{b.get('sockets', 0):,} delivered, {b.get('lost', '?')} lost"
    )
    ok = result["stopped"] == "target reached" and b.get("lost") == 0 and not b.get("gaps")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
