"""`make soak` (issue 7): thousands of clients in games, churning, for minutes.

    python bench/soak.py [--seconds 600] [--clients 5000] [--churn 100] ...

Starts a private redis-server, creates the games through `lobby.services`
(bench/setup_games.py), serves the real sidecar (`manage.py runsidecar`),
publishes phase events as the views do (bench/soak_events.py), and drives
the clients with build/bench/soak (bench/soak.c): `--clients` connected,
`--churn` leaving and as many connecting every second. Every `--sample`
seconds it records the sidecar's RSS, open fds and CPU, Redis used_memory
and its keys (group members, channel keys), and the clients' counters.
Then everybody leaves and the run waits for the fds and Redis to settle.

Verdicts against issue 7, printed at the end and stored with every sample
in bench/results/soak-<ts>.json:
  rss_flat      sidecar RSS within +-5 % of its value after warm-up
  fds_baseline  sidecar fds back to the pre-connect count after all leave
  events        no event lost or reordered for connected clients (and each
                connected client ends on its game's last seq)
  redis_flat    Redis used_memory within +-5 % after warm-up, and no group
                member or channel key left once everybody left
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
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
    proc_cpu_s,
    proc_rss,
)
from partyhub.redisproc import RedisServer, free_port  # noqa: E402

FLAT = 0.05


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=int, default=600, help="churn phase length")
    p.add_argument("--clients", type=int, default=5000, help="clients kept connected")
    p.add_argument("--churn", type=float, default=100, help="leaves (and connects) a second")
    p.add_argument("--games", type=int, default=500)
    p.add_argument("--players", type=int, default=12, help="player tokens per game (slots)")
    p.add_argument("--rate", type=float, default=50, help="phase events a second (all games)")
    p.add_argument("--sample", type=float, default=5, help="seconds between samples")
    p.add_argument("--warmup", type=float, default=None, help="default: 20%% of --seconds")
    p.add_argument("--settle", type=float, default=30, help="max wait for fds/Redis after")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--note", default="", help="free text stored with the results")
    return p.parse_args()


class Redis:
    """INFO and key census of the run's redis-server."""

    def __init__(self, port: int) -> None:
        import redis

        self.r = redis.Redis(port=port, socket_timeout=10)

    def sample(self) -> dict[str, Any]:
        groups = members = channels = channel_msgs = other = 0
        for key in self.r.scan_iter(match="asgi*", count=1000):
            if key.startswith(b"asgi:group:"):
                groups += 1
                members += self.r.zcard(key)
            else:
                channels += 1
                if self.r.type(key) == b"zset":
                    channel_msgs += self.r.zcard(key)
        for _ in self.r.scan_iter(match="partyhub:*", count=1000):
            other += 1
        info = self.r.info()
        return {
            "used_memory": info["used_memory"],
            "keys": self.r.dbsize(),
            "group_keys": groups,
            "group_members": members,
            "channel_keys": channels,
            "channel_msgs": channel_msgs,
            "partyhub_keys": other,
            "cpu_s": round(info["used_cpu_sys"] + info["used_cpu_user"], 3),
        }


class Soak:
    """One soak run: its processes, samples and verdicts."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="partyhub-soak-"))
        self.redis = RedisServer().start()
        Children.add_closer(self.redis)
        self.env = django_env(self.tmp / "soak.sqlite3", self.redis.port)
        self.rstat = Redis(self.redis.port)
        self.samples: list[dict[str, Any]] = []
        self.t0 = time.monotonic()
        self.wall0 = time.time()
        self.phase = "setup"
        self.last_errors: dict = {}

    def close(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- processes ---------------------------------------------------------

    def setup_games(self) -> list[dict]:
        a = self.args
        out = self.tmp / "games.json"
        log(f"setup: {a.games} games x {a.players} players through lobby.services")
        child = Child(
            "setup",
            [PY, str(BENCH / "setup_games.py"), "--out", str(out), "--games", str(a.games)]
            + ["--players", str(a.players)],
            env=self.env,
            log_path=self.tmp / "setup.log",
        )
        try:
            child.proc.wait(timeout=900)
        finally:
            child.stop()
        if child.proc.returncode != 0:
            raise BenchError("setup failed: " + (self.tmp / "setup.log").read_text()[-2000:])
        return json.loads(out.read_text())

    def start_sidecar(self) -> None:
        self.port = free_port()
        self.sidecar = Child(
            "sidecar",
            [PY, str(ROOT / "manage.py"), "runsidecar", "--bind", f"127.0.0.1:{self.port}"]
            + ["--log-level", "warning"],
            env=self.env,
            log_path=self.tmp / "sidecar.log",
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            health = self.http("/healthz")
            if health and json.loads(health).get("redis") == "up":
                log(f"sidecar pid {self.sidecar.pid} on port {self.port}")
                return
            time.sleep(0.2)
        raise BenchError("the sidecar did not come up: see " + str(self.tmp / "sidecar.log"))

    def http(self, path: str) -> str | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
                return r.read().decode()
        except OSError:
            return None

    def metrics(self) -> dict[str, float]:
        text = self.http("/metrics") or ""
        out = {}
        for line in text.splitlines():
            if line.startswith("partyhub_sidecar_") and "{" not in line:
                name, _, value = line.partition(" ")
                out[name.removeprefix("partyhub_sidecar_")] = float(value)
        return out

    # -- sampling ----------------------------------------------------------

    def sample(self, client: Child) -> dict[str, Any]:
        pid = self.sidecar.pid
        stats = client.call("stats", "stats", 30)
        m = self.metrics()
        s = {
            "t": round(time.monotonic() - self.t0, 1),
            "phase": self.phase,
            "rss": proc_rss(pid),
            "fds": len(os.listdir(f"/proc/{pid}/fd")),
            "cpu_s": round(proc_cpu_s(pid), 2),
            "connections": int(m.get("connections", -1)),
            "slow_closes": int(m.get("slow_consumer_closes_total", 0)),
            "redis": self.rstat.sample(),
            "clients": {k: v for k, v in stats.items() if k != "ev"},
        }
        self.samples.append(s)
        return s

    def progress(self, s: dict[str, Any]) -> None:
        c, r = s["clients"], s["redis"]
        log(
            f"{s['phase']:>7} t={s['t']:6.0f}s sidecar rss={s['rss'] / 2**20:6.1f} MiB "
            f"fds={s['fds']:5d} conns={s['connections']:5d} | clients ready={c['ready_now']:5d} "
            f"connects={c['connects']:6d} failed={c['failed']} deliveries={c['deliveries']:8d} "
            f"lost={c['lost_events']} reorder={c['reorder']} join_gaps={c['join_gaps']} | "
            f"redis mem={r['used_memory'] / 2**20:5.1f} MiB members={r['group_members']} "
            f"chan_keys={r['channel_keys']}"
        )
        if c["errors"] and c["errors"] != self.last_errors:
            log(f"client errors so far: {c['errors']} close codes: {c['close_codes']}")
            self.last_errors = c["errors"]

    # -- the run -----------------------------------------------------------

    def run(self) -> dict[str, Any]:
        a = self.args
        games = self.setup_games()
        specs = self.tmp / "slots.spec"
        lines = []
        for gi, g in enumerate(games):
            for token in g["player_tokens"]:
                lines.append(f"{gi} /ws/game/{g['code']}/?session_token={token}")
        specs.write_text("\n".join(lines) + "\n")
        if a.clients > len(lines):
            raise BenchError(f"{a.clients} clients need more than {len(lines)} slots")
        self.start_sidecar()
        events = Child(
            "events",
            [PY, str(BENCH / "soak_events.py")],
            env=self.env,
            json_io=True,
            log_path=self.tmp / "events.log",
        )
        log(f"events via {events.expect('hello', 60)['path']}")
        client = Child(
            "soak",
            [str(BIN / "soak"), "--port", str(self.port), "--specs", str(specs)],
            json_io=True,
            log_path=self.tmp / "soak-client.log",
        )
        hello = client.expect("hello", 10)
        log(f"soak client: {hello['slots']} slots, fd limit {hello['fd_limit']}")
        self.phase = "base"
        base = self.sample(client)
        self.progress(base)

        self.phase = "fill"
        client.send(f"target {a.clients}")
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            time.sleep(a.sample)
            s = self.sample(client)
            self.progress(s)
            if s["clients"]["ready_now"] >= a.clients:
                break
        else:
            raise BenchError(f"only {s['clients']['ready_now']} of {a.clients} connected")

        self.phase = "churn"
        codes = [g["code"] for g in games]
        events.call(json.dumps({"cmd": "start", "codes": codes, "rate": a.rate}), "started", 30)
        client.send(f"churn {a.churn}")
        t_churn = time.monotonic()
        warmup = a.warmup if a.warmup is not None else a.seconds * 0.2
        while time.monotonic() - t_churn < a.seconds:
            time.sleep(min(a.sample, max(0.0, a.seconds - (time.monotonic() - t_churn))))
            if time.monotonic() - t_churn >= warmup:
                self.phase = "churn"
            else:
                self.phase = "warmup"
            s = self.sample(client)
            self.progress(s)
        client.send("churn 0")
        stopped = events.call(json.dumps({"cmd": "stop"}), "stopped", 60)
        log(f"events: {stopped['sent']} published, {stopped['errors']} errors")

        self.phase = "drain"
        verify = self.wait_verify(client, games, stopped["final"])
        final_clients = self.sample(client)
        self.progress(final_clients)

        self.phase = "leave"
        client.send("target 0")
        after = self.settle(client, base)
        client.send("quit")
        events.send(json.dumps({"cmd": "quit"}))
        return self.verdicts(base, after, final_clients, verify, stopped, games, warmup)

    def wait_verify(self, client: Child, games: list[dict], final: dict) -> dict:
        """Every connected client must reach its game's last seq (10 s)."""
        path = self.tmp / "final.txt"
        index = {g["code"]: i for i, g in enumerate(games)}
        path.write_text("".join(f"{index[c]} {seq}\n" for c, seq in final.items()))
        deadline = time.monotonic() + 10
        while True:
            v = client.call(f"verify {path}", "verify", 30)
            if v["behind"] == 0 or time.monotonic() > deadline:
                log(f"verify: {v}")
                return v
            time.sleep(0.5)

    def settle(self, client: Child, base: dict) -> dict:
        """After everybody left: wait for fds and Redis keys to come back."""
        deadline = time.monotonic() + self.args.settle + 30
        while True:
            time.sleep(1)
            s = self.sample(client)
            self.progress(s)
            r = s["redis"]
            done = (
                s["clients"]["active"] == 0
                and s["fds"] <= base["fds"]
                and r["group_members"] == 0
                and r["channel_keys"] <= base["redis"]["channel_keys"]
            )
            if done or time.monotonic() > deadline:
                return s

    # -- verdicts ----------------------------------------------------------

    def verdicts(self, base, after, final_clients, verify, stopped, games, warmup) -> dict:
        churn = [s for s in self.samples if s["phase"] == "churn"]
        if not churn:
            raise BenchError("no sample after warm-up: lengthen --seconds or shorten --warmup")
        rss = [s["rss"] for s in churn]
        mem = [s["redis"]["used_memory"] for s in churn]
        c = final_clients["clients"]

        def flat(values: list[int]) -> dict:
            ref = values[0]
            return {
                "after_warmup": ref,
                "min": min(values),
                "max": max(values),
                "last": values[-1],
                "max_dev_pct": round(100 * max(abs(v - ref) for v in values) / ref, 2),
                "drift_pct": round(100 * (values[-1] - ref) / ref, 2),
            }

        rss_f, mem_f = flat(rss), flat(mem)
        checks = {
            "rss_flat": {
                "pass": rss_f["max_dev_pct"] <= FLAT * 100,
                **rss_f,
            },
            "fds_baseline": {
                "pass": after["fds"] <= base["fds"],
                "baseline": base["fds"],
                "peak": max(s["fds"] for s in self.samples),
                "after_leave": after["fds"],
            },
            "events": {
                "pass": c["lost_events"] == 0
                and c["reorder"] == 0
                and verify["behind"] == 0
                and verify["ahead"] == 0,
                "deliveries": c["deliveries"],
                "lost": c["lost"],
                "lost_events": c["lost_events"],
                "reorder": c["reorder"],
                "final_seq": verify,
                "join_gaps": c["join_gaps"],
                "join_gap_events": c["join_gap_events"],
                "stale": c["stale"],
                "published": stopped["sent"],
                "publish_errors": stopped["errors"],
            },
            "redis_flat": {
                "pass": mem_f["max_dev_pct"] <= FLAT * 100
                and after["redis"]["group_members"] == 0
                and after["redis"]["channel_keys"] <= base["redis"]["channel_keys"],
                "used_memory": mem_f,
                "before": base["redis"],
                "after_leave": after["redis"],
            },
        }
        a = self.args
        return {
            "kind": "soak",
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.wall0)),
            "command": " ".join(sys.argv),
            "params": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(a).items()}
            | {"warmup_used": warmup, "slots": a.games * a.players},
            "machine": machine(),
            "note": a.note,
            "checks": checks,
            "pass": all(v["pass"] for v in checks.values()),
            "clients_final": c,
            "samples": self.samples,
        }


def report(result: dict[str, Any]) -> None:
    """The verdicts, one line each."""
    ch = result["checks"]
    r, f, e, m = ch["rss_flat"], ch["fds_baseline"], ch["events"], ch["redis_flat"]

    def mark(ok: bool) -> str:
        return "PASS" if ok else "FAIL"

    print(
        f"\nsoak verdicts ({result['params']['seconds']} s, {result['params']['clients']} "
        f"clients, churn {result['params']['churn']}/s):\n"
        f"  {mark(r['pass'])} sidecar RSS flat within 5 % after warm-up: "
        f"{r['after_warmup'] / 2**20:.1f} MiB -> max dev {r['max_dev_pct']} %, "
        f"drift {r['drift_pct']} % (min {r['min'] / 2**20:.1f}, max {r['max'] / 2**20:.1f} MiB)\n"
        f"  {mark(f['pass'])} open fds back to baseline: {f['baseline']} before, "
        f"peak {f['peak']}, {f['after_leave']} after everybody left\n"
        f"  {mark(e['pass'])} no event lost or reordered: {e['deliveries']} deliveries, "
        f"{e['lost_events']} lost, {e['reorder']} reordered, final seq {e['final_seq']} "
        f"(join gaps {e['join_gaps']}, stale {e['stale']}; {e['published']} events published)\n"
        f"  {mark(m['pass'])} Redis flat: used_memory max dev "
        f"{m['used_memory']['max_dev_pct']} %, after leave: "
        f"{m['after_leave']['group_members']} group members, "
        f"{m['after_leave']['channel_keys']} channel keys "
        f"(before: {m['before']['channel_keys']})\n"
        f"  overall: {mark(result['pass'])}",
        flush=True,
    )


def main() -> int:
    args = parse_args()
    if not (BIN / "soak").exists():
        log("build/bench/soak missing: run `make soak` (it builds it)")
        return 2
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: (Children.stop_all(), os._exit(130)))
    soak = None
    ok = False
    try:
        soak = Soak(args)
        result = soak.run()
        ok = True
    finally:
        Children.stop_all()
        if soak is not None and ok:
            soak.close()
        elif soak is not None:
            log(f"logs kept in {soak.tmp}")
    out = args.out or ROOT / "bench" / "results" / f"soak-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    report(result)
    log(f"results: {out}")
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
