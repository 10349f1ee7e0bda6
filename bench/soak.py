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
    p.add_argument(
        "--capacity",
        type=int,
        default=None,
        help="channel layer capacity (messages per channel key; default: the settings', 100)",
    )
    p.add_argument(
        "--rss-informational",
        action="store_true",
        help="report RSS without judging it (ASan keeps freed memory in quarantine)",
    )
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--note", default="", help="free text stored with the results")
    return p.parse_args()


def make_games(env: dict, tmp: Path, games: int, players: int) -> list[dict]:
    """Games and player tokens through lobby.services (bench/setup_games.py)."""
    out = tmp / "games.json"
    log(f"setup: {games} games x {players} players through lobby.services")
    child = Child(
        "setup",
        [PY, str(BENCH / "setup_games.py"), "--out", str(out), "--games", str(games)]
        + ["--players", str(players)],
        env=env,
        log_path=tmp / "setup.log",
    )
    try:
        child.proc.wait(timeout=900)
    finally:
        child.stop()
    if child.proc.returncode != 0:
        raise BenchError("setup failed: " + (tmp / "setup.log").read_text()[-2000:])
    return json.loads(out.read_text())


def slot_specs(games: list[dict], path: Path) -> int:
    """Write the soak client's slots (one per player token); return their count."""
    lines = [
        f"{gi} /ws/game/{g['code']}/?session_token={token}"
        for gi, g in enumerate(games)
        for token in g["player_tokens"]
    ]
    path.write_text("\n".join(lines) + "\n")
    return len(lines)


def http_get(port: int, path: str) -> str | None:
    """GET http://127.0.0.1:<port><path> (the sidecar's /healthz, /metrics)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.read().decode()
    except OSError:
        return None


def start_sidecar(env: dict, tmp: Path, workers: int = 1) -> tuple[Child, int]:
    """`manage.py runsidecar` on a free port, once it reports Redis up."""
    port = free_port()
    child = Child(
        "sidecar",
        [PY, str(ROOT / "manage.py"), "runsidecar", "--bind", f"127.0.0.1:{port}"]
        + ["--log-level", "warning", "--workers", str(workers)],
        env=env,
        log_path=tmp / "sidecar.log",
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        health = http_get(port, "/healthz")
        if health and json.loads(health).get("redis") == "up":
            log(f"sidecar pid {child.pid} ({workers} worker(s)) on port {port}")
            return child, port
        time.sleep(0.2)
    raise BenchError(f"the sidecar did not come up: see {tmp / 'sidecar.log'}")


class Redis:
    """INFO and key census of the run's redis-server."""

    def __init__(self, port: int) -> None:
        import redis

        self.r = redis.Redis(port=port, socket_timeout=10)

    def sample(self) -> dict[str, Any]:
        groups, chans = [], []
        for key in self.r.scan_iter(match="asgi*", count=1000):
            (groups if key.startswith(b"asgi:group:") else chans).append(key)
        pipe = self.r.pipeline(transaction=False)
        for key in groups + chans:
            pipe.zcard(key)  # channel_redis keeps groups and channels in zsets
        counts = pipe.execute(raise_on_error=False)
        counts = [c if isinstance(c, int) else 0 for c in counts]
        other = sum(1 for _ in self.r.scan_iter(match="partyhub:*", count=1000))
        members, channel_msgs = sum(counts[: len(groups)]), sum(counts[len(groups) :])
        info = self.r.info()
        return {
            "used_memory": info["used_memory"],
            "keys": self.r.dbsize(),
            "group_keys": len(groups),
            "group_members": members,
            "channel_keys": len(chans),
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
        extra = {"DJANGO_SETTINGS_MODULE": "bench.soak_settings"}
        if args.capacity:
            extra["SOAK_CAPACITY"] = str(args.capacity)
        self.env = django_env(self.tmp / "soak.sqlite3", self.redis.port, extra)
        self.rstat = Redis(self.redis.port)
        self.samples: list[dict[str, Any]] = []
        self.t0 = time.monotonic()
        self.wall0 = time.time()
        self.phase = "setup"
        self.last_errors: dict = {}

    def close(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- processes ---------------------------------------------------------

    def http(self, path: str) -> str | None:
        return http_get(self.port, path)

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
        games = make_games(self.env, self.tmp, a.games, a.players)
        specs = self.tmp / "slots.spec"
        nslots = slot_specs(games, specs)
        if a.clients > nslots:
            raise BenchError(f"{a.clients} clients need more than {nslots} slots")
        self.sidecar, self.port = start_sidecar(self.env, self.tmp)
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
        return self.verdicts(base, after, final_clients, verify, stopped, warmup)

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
                break
        # One more look once quiet: a census taken while sockets were still
        # leaving can list keys that were gone by the time it counted them.
        time.sleep(1)
        final = self.sample(client)
        self.progress(final)
        return final

    # -- verdicts ----------------------------------------------------------

    def verdicts(
        self,
        base: dict,
        after: dict,
        final_clients: dict,
        verify: dict,
        stopped: dict,
        warmup: float,
    ) -> dict:
        """Each issue 7 criterion, with its figures, and the run's summary."""
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
                "pass": rss_f["max_dev_pct"] <= FLAT * 100 or self.args.rss_informational,
                "informational": self.args.rss_informational,
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
        first, last = churn[0], churn[-1]
        span = last["t"] - first["t"]
        c0, c1 = first["clients"], last["clients"]
        rates = (
            {
                "window_s": span,
                "connects_per_s": round((c1["connects"] - c0["connects"]) / span, 1),
                "leaves_per_s": round(
                    (
                        c1["leaves_clean"]
                        + c1["leaves_abrupt"]
                        - c0["leaves_clean"]
                        - c0["leaves_abrupt"]
                    )
                    / span,
                    1,
                ),
                "deliveries_per_s": round((c1["deliveries"] - c0["deliveries"]) / span, 1),
                "sidecar_cpu_pct": round(100 * (last["cpu_s"] - first["cpu_s"]) / span, 1),
                "redis_cpu_pct": round(
                    100 * (last["redis"]["cpu_s"] - first["redis"]["cpu_s"]) / span, 1
                ),
                "latency_us": c["latency"],
                "connect_us": c["connect"],
            }
            if span > 0
            else {}
        )
        return {
            "kind": "soak",
            "rates": rates,
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
        f"  {'INFO' if r['informational'] else mark(r['pass'])} "
        "sidecar RSS flat within 5 % after warm-up: "
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
        f"  overall: {mark(result['pass'])}\n"
        f"  rates after warm-up: {json.dumps(result['rates'])}",
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
