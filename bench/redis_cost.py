"""Redis cost of the real deployment (issue 9's capacity model): Redis
commands and Redis CPU per broadcast, per client connect and per disconnect.

    python bench/redis_cost.py [--workers 1,2] [--games 100] [--players 10]
                               [--broadcasts 3000]    (make redis-cost)

For each sidecar process count W (`manage.py runsidecar --workers W`, one
port shared): a private redis-server, games made through lobby.services,
every player token connected by build/bench/soak, then, each time after
`CONFIG RESETSTAT`:

  connect     all clients connect (token check, group joins)
  idle        nothing for --idle seconds (heartbeats, group refreshes,
              the sidecar's blocking receive timing out)
  broadcast   N x sync_broadcast_phase_event to random games, from this
              process, waiting for every delivery after each 50 (so the
              sidecars' receive side is counted, and no process key fills
              up: a full key drops messages and would save their commands)
  publish     N x lobby.publish.publish (what a view does: the broadcast
              plus the session.state snapshot write)
  disconnect  all clients leave (clean close), until no group member is left

and reads INFO commandstats (commands run inside scripts are counted too),
used_cpu_user + used_cpu_sys and the network byte counters. Per operation:
commands by name, their total, the commands' own time (usec from
commandstats), Redis process CPU (includes reading and writing sockets)
and bytes in and out. Idle is per second and is NOT
subtracted from the others (it is small next to them; see the JSON).
Results: bench/results/redis-cost-<ts>.json and a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import BIN, ROOT, Child, Children, django_env, log, machine  # noqa: E402
from bench.soak import Redis, make_games, slot_specs, start_sidecar  # noqa: E402
from partyhub.redisproc import RedisServer  # noqa: E402

# Commands this script itself sends while measuring (resetting, reading,
# waiting for the group members to go): not part of any operation.
# Broadcasts sent before waiting for their deliveries: far below the
# channel-layer capacity, so no message is dropped at a full process key
# (which would save the dropped ZADDs and bias the count).
WINDOW = 50

# Capacity raised as a safety net (bench/soak_settings.py); the windows
# above keep the keys far below even the default 100.
SETTINGS = {"DJANGO_SETTINGS_MODULE": "bench.soak_settings", "SOAK_CAPACITY": "10000"}

METER_OWN = {"config|resetstat", "info", "scan", "dbsize", "zcard", "type"}


class Meter:
    """INFO commandstats and CPU deltas of one redis-server."""

    def __init__(self, census: Redis) -> None:
        self.r = census.r

    def reset(self) -> None:
        self.r.config_resetstat()
        info = self.r.info("cpu")
        self.cpu0 = info["used_cpu_user"] + info["used_cpu_sys"]

    def read(self, n: float) -> dict[str, Any]:
        """Deltas since reset(), divided by n (operations or seconds)."""
        stats = self.r.info("commandstats")
        info = self.r.info("cpu")
        net = self.r.info("stats")
        cpu = info["used_cpu_user"] + info["used_cpu_sys"] - self.cpu0
        cmds = {
            k.removeprefix("cmdstat_"): v
            for k, v in stats.items()
            if k.removeprefix("cmdstat_") not in METER_OWN
        }
        per = {k: round(v["calls"] / n, 3) for k, v in sorted(cmds.items())}
        return {
            "n": n,
            "commands": per,
            "commands_total": round(sum(v["calls"] for v in cmds.values()) / n, 3),
            "command_usec": round(sum(v["usec"] for v in cmds.values()) / n, 2),
            "cpu_usec": round(cpu * 1e6 / n, 2),
            "net_in_bytes": round(net["total_net_input_bytes"] / n, 1),
            "net_out_bytes": round(net["total_net_output_bytes"] / n, 1),
        }


def wait_for(client: Child, key: str, value: int, timeout: float) -> dict:
    """Poll the soak client's stats until stats[key] == value."""
    deadline = time.monotonic() + timeout
    while True:
        s = client.call("stats", "stats", 30)
        if s[key] == value or time.monotonic() > deadline:
            return s
        time.sleep(0.1)


def measure(args: argparse.Namespace, workers: int, redis: RedisServer, tmp: Path) -> dict:
    """Every operation's cost with `workers` sidecar processes."""
    env = django_env(tmp / "cost.sqlite3", redis.port, SETTINGS)
    children: list[Child] = []
    try:
        games = make_games(env, tmp, args.games, args.players)
        specs = tmp / "slots.spec"
        nslots = slot_specs(games, specs)
        sidecar, port = start_sidecar(env, tmp, workers)
        children.append(sidecar)
        client = Child(
            "soak",
            [str(BIN / "soak"), "--port", str(port), "--specs", str(specs)],
            json_io=True,
            log_path=tmp / "client.log",
        )
        children.append(client)
        client.expect("hello", 10)
        meter = Meter(Redis(redis.port))
        out: dict[str, Any] = {"workers": workers, "clients": nslots, "games": len(games)}

        meter.reset()
        client.send(f"target {nslots}")
        s = wait_for(client, "ready_now", nslots, 120)
        out["connect"] = meter.read(s["ready_now"] or 1)
        log(f"W={workers} connect: {out['connect']['commands_total']} commands/client")

        meter.reset()
        time.sleep(args.idle)
        out["idle_per_s"] = meter.read(args.idle)

        out["broadcast"] = broadcasts(args, client, meter, games, "broadcast")
        out["publish"] = broadcasts(args, client, meter, games, "publish")

        meter.reset()
        client.send("target 0")
        wait_for(client, "active", 0, 60)
        census = Redis(redis.port)
        deadline = time.monotonic() + 30
        while census.sample()["group_members"] and time.monotonic() < deadline:
            time.sleep(0.2)
        out["disconnect"] = meter.read(nslots)
        log(f"W={workers} disconnect: {out['disconnect']['commands_total']} commands/client")
        client.send("quit")
        return out
    finally:
        for child in reversed(children):
            child.stop()


def broadcasts(
    args: argparse.Namespace, client: Child, meter: Meter, games: list[dict], how: str
) -> dict:
    """N events to random games via `how`, until every delivery arrived."""
    import django

    django.setup()
    from lobby.models import GameSession
    from lobby.publish import publish
    from realtime.broadcast import sync_broadcast_phase_event

    sessions = {s.code: s for s in GameSession.objects.all()}
    rng = random.Random(1)
    before = client.call("stats", "stats", 30)["deliveries"]
    meter.reset()
    t0 = time.monotonic()
    expected = 0
    for k in range(args.broadcasts):
        g = games[rng.randrange(len(games))]
        payload = {"t": time.monotonic_ns(), "round": 1, "question": f"Q{k}?", "category": "c"}
        if how == "broadcast":
            sync_broadcast_phase_event(g["code"], "phase.question_shown", payload)
        else:
            publish(sessions[g["code"]], [("phase.question_shown", payload)])
        expected += len(g["player_tokens"])
        if (k + 1) % WINDOW == 0:  # let the sidecars keep up: nothing dropped
            wait_for(client, "deliveries", before + expected, 30)
    wait_for(client, "deliveries", before + expected, 60)
    res = meter.read(args.broadcasts)
    res["seconds"] = round(time.monotonic() - t0, 2)
    res["deliveries_per_event"] = expected / args.broadcasts
    log(f"{how}: {res['commands_total']} commands, {res['cpu_usec']} us Redis CPU per event")
    return res


def table(results: list[dict]) -> str:
    """Markdown: one row per (workers, operation)."""
    rows = [
        "| sidecar processes | operation | Redis commands / op | commands (by name) "
        "| command µs / op | Redis CPU µs / op | bytes in / out per op |",
        "|---:|---|---:|---|---:|---:|---:|",
    ]
    names = {
        "connect": "client connect",
        "disconnect": "client disconnect",
        "broadcast": "`sync_broadcast_phase_event`",
        "publish": "`lobby.publish.publish` (broadcast + state)",
        "idle_per_s": "idle, per second",
    }
    for r in results:
        for op, label in names.items():
            m = r[op]
            cmds = ", ".join(f"{k} {v:g}" for k, v in m["commands"].items() if v >= 0.01)
            rows.append(
                f"| {r['workers']} | {label} | {m['commands_total']:g} | {cmds} "
                f"| {m['command_usec']:g} | {m['cpu_usec']:g} "
                f"| {m['net_in_bytes']:g} / {m['net_out_bytes']:g} |"
            )
    return "\n".join(rows)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workers", default="1,2")
    p.add_argument("--games", type=int, default=100)
    p.add_argument("--players", type=int, default=10)
    p.add_argument("--broadcasts", type=int, default=3000)
    p.add_argument("--idle", type=float, default=10)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()
    if not (BIN / "soak").exists():
        log("build/bench/soak missing: run `make redis-cost` (it builds it)")
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="partyhub-rcost-"))
    redis = RedisServer().start()
    Children.add_closer(redis)
    # This process broadcasts: Django (and its C layer) point at this Redis
    # for the whole run, so every W shares it (new games each time).
    os.environ.update(django_env(tmp / "cost.sqlite3", redis.port, SETTINGS))
    try:
        results = [measure(args, int(w), redis, tmp) for w in args.workers.split(",")]
    finally:
        Children.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = args.out or ROOT / "bench" / "results" / f"redis-cost-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    doc = {"command": " ".join(sys.argv), "machine": machine(), "results": results}
    out.write_text(json.dumps(doc, indent=1))
    print(table(results))
    log(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
