"""bench/report.py's issue 20 figures (server CPU per delivery, the
sidecar-against-uWebSockets/Node ws targets) and bench/compare.py's medians,
from hand-made results (no server runs; the benchmarks themselves are
`make bench`), and the harness' CPU placement."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from django.test import SimpleTestCase

from bench import compare, report
from bench.common import Child, Children, placement


def run(dps: float, p99_ms: float, cpu_s: float, deliveries: int) -> dict:
    return {
        "deliveries_per_s": dps,
        "deliveries": deliveries,
        "server_cpu_s": cpu_s,
        "latency_us": {"p50_us": p99_ms * 500, "p99_us": p99_ms * 1000, "max_us": p99_ms * 1e3},
        "lost": 0,
        "reordered": 0,
        "gaps": 0,
        "server_cpu_pct": 50.0,
        "rate": 2.0,
    }


def entry(peer: str, n: int, cpu_max: float, p99_fixed: float, dps: float) -> dict:
    return {
        "peer": peer,
        "n": n,
        "max": run(dps, 100.0, cpu_max, 400000),
        "fixed": run(20000.0, p99_fixed, 1.0, 100000),
    }


class PeerTargetTests(SimpleTestCase):
    def results(self) -> dict:
        return {
            "scenarios": {
                "fanout": [
                    entry("sidecar", 10000, 1.2, 250.0, 100000.0),
                    entry("uws", 10000, 3.6, 200.0, 40000.0),
                    entry("ws", 10000, 4.4, 600.0, 30000.0),
                ]
            }
        }

    def test_cpu_per_delivery(self) -> None:
        self.assertAlmostEqual(report.cpu_per_delivery(run(1, 1, 1.2, 400000)), 3.0)
        self.assertIsNone(report.cpu_per_delivery(run(1, 1, 1.2, 0)))
        self.assertIsNone(report.cpu_per_delivery(None))

    def test_rows_compare_sidecar_with_each_peer(self) -> None:
        rows = {name: (where, met) for name, where, met in report.peer_targets(self.results())}
        cpu = rows["server CPU per delivery ≤ uWebSockets at 10,000 (max rate)"]
        self.assertEqual(cpu, ("3.00 vs 9.00 µs = 0.33×", "yes"))
        p99 = rows["p99 ≤ uWebSockets at 10,000 (fixed rate)"]
        self.assertEqual(p99, ("250.00 vs 200.00 ms = 1.25×", "no"))
        self.assertEqual(rows["p99 ≤ Node ws at 10,000 (fixed rate)"][1], "yes")
        self.assertEqual(rows["deliveries/s ≥ Node ws at 10,000 (max rate)"][1], "yes")
        self.assertEqual(len(rows), 6)

    def test_missing_peer_gives_no_row(self) -> None:
        res = self.results()
        res["scenarios"]["fanout"] = [e for e in res["scenarios"]["fanout"] if e["peer"] != "ws"]
        names = [name for name, _, _ in report.peer_targets(res)]
        self.assertFalse(any("Node ws" in name for name in names))


class CompareTests(SimpleTestCase):
    """bench/compare.py: medians per peer and the median of per-run ratios."""

    def write(self, tmp: Path, name: str, side_p99: float, uws_p99: float) -> Path:
        res = {
            "scenarios": {
                "fanout": [
                    entry("sidecar", 1000, 1.0, side_p99, 300000.0),
                    entry("uws", 1000, 2.0, uws_p99, 200000.0),
                ]
            }
        }
        path = tmp / name
        path.write_text(json.dumps(res))
        return path

    def test_ratios_are_paired_within_runs_and_their_median_reported(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            paths = [
                self.write(tmp, "a.json", 8.0, 10.0),  # 0.80
                self.write(tmp, "b.json", 12.0, 10.0),  # 1.20
                self.write(tmp, "c.json", 9.0, 10.0),  # 0.90
            ]
            data = compare.collect(paths)
        cells = data[(1000, "fixed")]
        self.assertEqual([c["p99"] for c in cells["sidecar"]], [8.0, 12.0, 9.0])
        ratio = compare.ratio_text(cells["sidecar"], cells["uws"], "p99")
        self.assertEqual(ratio, "0.90× [0.80–1.20]")
        text = compare.table(data, 3)
        uws_fixed = next(r for r in text.splitlines() if "fixed" in r and "uWebSockets" in r)
        self.assertIn("| 10.00 | 0.90× [0.80–1.20] |", uws_fixed)
        # max rate: CPU per delivery 1.0 s / 400,000 vs 2.0 s / 400,000.
        uws_max = next(r for r in text.splitlines() if "max rate" in r and "uWebSockets" in r)
        self.assertIn("| 5.00 | 0.50× [0.50–0.50] |", uws_max)


class PlacementTests(SimpleTestCase):
    """bench.common.placement: the server alone on one CPU, the rest on another."""

    def test_two_cpus_or_more_split_server_and_rest(self) -> None:
        cpus = sorted(os.sched_getaffinity(0))
        got = placement(True)
        if len(cpus) < 2:
            self.assertIsNone(got)
            return
        assert got is not None
        self.assertEqual(got["server"], {cpus[0]})
        self.assertEqual(got["rest"], {cpus[1]})
        self.assertFalse(got["server"] & got["rest"])

    def test_no_pin_leaves_placement_to_the_scheduler(self) -> None:
        self.assertIsNone(placement(False))

    def test_a_child_starts_on_its_cpus(self) -> None:
        cpus = sorted(os.sched_getaffinity(0))
        want = {cpus[-1]}
        child = Child(
            "affinity",
            [sys.executable, "-c", "import os; print(sorted(os.sched_getaffinity(0)))"],
            json_io=True,
            cpus=want,
        )
        try:
            assert child.proc.stdout is not None
            line = child.proc.stdout.readline().decode().strip()
        finally:
            child.proc.wait(10)
            Children.discard(child)
        self.assertEqual(line, str(sorted(want)))
