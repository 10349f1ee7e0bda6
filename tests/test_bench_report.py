"""bench/report.py's issue 20 figures: server CPU per delivery and the
sidecar-against-uWebSockets/Node ws targets, from a hand-made results dict
(no server runs; the benchmarks themselves are `make bench`)."""

from __future__ import annotations

from django.test import SimpleTestCase

from bench import report


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
