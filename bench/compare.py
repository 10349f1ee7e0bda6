"""The sidecar against each peer over several fan-out runs: medians.

One run's p99 moves by ±20-30 % from run to run on this 2-core machine, more
than most gaps it is asked to show, so a claim about p99 rests on several
runs of the same command. This reads bench/run.py results files and prints,
per fan-out size and mode, each peer's median p99, p50, deliveries/s and
server CPU per delivery over the runs, and the median of the per-run
ratios sidecar ÷ peer (each ratio taken within one run, same clients, same
minute), as a Markdown table.

    .venv/bin/python bench/compare.py bench/results/A.json bench/results/B.json ...
    make bench-compare RUNS=4   # runs the fan-out K times, then this
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.report import PEER_NAMES  # noqa: E402

MODES = (("fixed", "fixed rate"), ("max", "max rate"))


def cell(entry: dict[str, Any], mode: str) -> dict[str, float] | None:
    """The figures compared for one peer, size and mode of one run."""
    run = entry.get(mode)
    if not run or not run.get("deliveries"):
        return None
    lat = run["latency_us"]
    return {
        "p99": lat["p99_us"] / 1e3,
        "p50": lat["p50_us"] / 1e3,
        "rate": run["deliveries_per_s"],
        "cpu_us": 1e6 * run["server_cpu_s"] / run["deliveries"],
        "lost": run["lost"] + run["reordered"],
    }


def collect(paths: list[Path]) -> dict[tuple[int, str], dict[str, list[dict[str, float]]]]:
    """(N, mode) -> peer -> one cell per run (runs missing a peer are skipped)."""
    out: dict[tuple[int, str], dict[str, list[dict[str, float]]]] = {}
    for path in paths:
        res = json.loads(path.read_text())
        for entry in res["scenarios"].get("fanout", []):
            for mode, _ in MODES:
                c = cell(entry, mode)
                if c is not None:
                    out.setdefault((entry["n"], mode), {}).setdefault(entry["peer"], []).append(c)
    return out


def ratios(side: list[dict[str, float]], peer: list[dict[str, float]], key: str) -> list[float]:
    """Per-run sidecar ÷ peer (runs paired in order; both lists are per run)."""
    return [a[key] / b[key] for a, b in zip(side, peer, strict=False) if b[key]]


def ratio_text(side: list[dict[str, float]], peer: list[dict[str, float]], key: str) -> str:
    """'median× [lowest–highest]' of the per-run ratios, or — without a sidecar run."""
    r = ratios(side, peer, key)
    return f"{statistics.median(r):.2f}× [{min(r):.2f}–{max(r):.2f}]" if r else "—"


def table(data: dict[tuple[int, str], dict[str, list[dict[str, float]]]], runs: int) -> str:
    """The Markdown table: medians per peer and the median per-run ratio."""
    rows = [
        f'Medians over {runs} runs; "÷" = the median of the per-run ratios sidecar ÷ peer '
        "(below 1 = the sidecar lower, i.e. better for p99 and CPU; above 1 = better for "
        "deliveries/s); [range] = the ratios' lowest and highest.",
        "",
        "| N | mode | peer | p50 ms | p99 ms | p99 ÷ | deliveries/s | deliveries ÷ "
        "| CPU µs / delivery | CPU ÷ | lost + reordered |",
        "|---:|---|---|---:|---:|---|---:|---|---:|---|---:|",
    ]
    for (n, mode), peers in sorted(data.items(), key=lambda kv: (kv[0][0], kv[0][1] != "fixed")):
        label = dict(MODES)[mode]
        side = peers.get("sidecar", [])
        for peer in sorted(peers, key=lambda p: (p != "sidecar", p)):
            cells = peers[peer]
            med = {k: statistics.median(c[k] for c in cells) for k in cells[0]}
            rat = {k: "" if peer == "sidecar" else ratio_text(side, cells, k) for k in cells[0]}
            rows.append(
                f"| {n:,} | {label} | {PEER_NAMES.get(peer, peer)} | {med['p50']:.2f} "
                f"| {med['p99']:.2f} | {rat['p99']} | {med['rate']:,.0f} | {rat['rate']} "
                f"| {med['cpu_us']:.2f} | {rat['cpu_us']} | {sum(c['lost'] for c in cells):.0f} |"
            )
    return "\n".join(rows)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results", nargs="+", type=Path, help="bench/run.py results files")
    args = p.parse_args()
    data = collect(args.results)
    if not data:
        print("no fan-out runs in these files", file=sys.stderr)
        return 1
    print(table(data, len(args.results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
