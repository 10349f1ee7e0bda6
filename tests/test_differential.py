"""The two WebSocket servers checked against each other (docs/testing.md).

`manage.py runsidecar` (with `runworker partyhub.inbound`) and Daphne serving
GameConsumer get the same generated handshakes and client messages
(tests.differential.strategies, Hypothesis); what a client observes must be
equal, or be an intended difference (tests.differential.runner.INTENDED, the
table in docs/protocol.md). Every disagreement Hypothesis ever found (shrunk)
is saved in tests/fuzz/corpus/differential/ and replayed here.

In `make test`: the corpus, then SMOKE_EXAMPLES generated cases with a fixed
seed. `make fuzz-diff DURATION=1800`: generated cases for that many seconds
(DIFF_FUZZ_SECONDS), saving each new disagreement.
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

from django.test import SimpleTestCase, TransactionTestCase
from hypothesis import HealthCheck, Phase, given, settings

from . import servers
from .differential import runner, strategies
from .helpers import Api

SMOKE_EXAMPLES = 40
PROTOCOL_DOC = Path(__file__).resolve().parent.parent / "docs" / "protocol.md"


class DifferentialFuzz(TransactionTestCase):
    serialized_rollback = True  # the questions and locations the migrations load

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.daphne = servers.Daphne()
        cls.sidecar = servers.RunSidecar()
        cls.worker = servers.Worker()

    @classmethod
    def tearDownClass(cls):
        try:
            for server in (cls.daphne, cls.sidecar, cls.worker):
                server.close()
        finally:
            super().tearDownClass()

    def setUp(self):
        self.api = Api()
        self.cases = 0

    def tearDown(self):
        for server in (self.daphne, self.sidecar, self.worker):
            log = server.process.logtext()
            self.assertNotIn("Traceback", log, f"{server.process.log}:\n{log[-4000:]}")

    # -- running one case ---------------------------------------------------------

    def session(self, game: str) -> tuple[str, dict[str, str]]:
        status, body = self.api.call("POST", "/api/sessions/", {"game": game})
        self.assertEqual(status, 201, body)
        _, player = self.api.join(body["code"], "Ana")
        self.api.join(body["code"], "Bo")
        return body["code"], {"player": player, "host": body["host_token"]}

    def targets(self, game: str) -> tuple[runner.Target, runner.Target]:
        (code_s, own_s), (code_d, own_d) = self.session(game), self.session(game)

        def target(name, port, code, own, other_code, other):
            tokens = dict(own, other_player=other["player"], other_host=other["host"])
            return runner.Target(name, port, code, tokens, other_code)

        return (
            target("sidecar", self.sidecar.port, code_s, own_s, code_d, own_d),
            target("daphne", self.daphne.port, code_d, own_d, code_s, own_s),
        )

    def check(self, case: dict) -> tuple[str | None, dict, dict]:
        self.cases += 1
        on_sidecar, on_daphne = self.targets(case["game"])
        sidecar = runner.run(case, on_sidecar)
        daphne = runner.run(case, on_daphne)
        return runner.disagreement(case, sidecar, daphne), sidecar, daphne

    def explore(self, max_examples: int, derandomize: bool) -> list[tuple[dict, str]]:
        """One Hypothesis run; the (shrunk) disagreement it found, saved."""
        last: list = []

        @settings(
            max_examples=max_examples,
            derandomize=derandomize,
            deadline=None,
            database=None,
            phases=(Phase.generate, Phase.shrink),
            suppress_health_check=list(HealthCheck),
            print_blob=False,
        )
        @given(strategies.cases)
        def differential(case):
            why, sidecar, daphne = self.check(case)
            if why is not None:
                last[:] = [case, f"{why}\nsidecar: {sidecar}\ndaphne:  {daphne}"]
                raise AssertionError(last[1])

        try:
            differential()
        except Exception:  # noqa: BLE001 - whatever failed, the case is kept
            if not last:
                raise
            runner.save(*last)
            return [tuple(last)]
        return []

    # -- the tests ------------------------------------------------------------------

    def test_corpus_replays(self):
        """Every disagreement ever found stays fixed."""
        saved = runner.corpus()
        for name, case in saved:
            with self.subTest(case=name):
                why, sidecar, daphne = self.check(case)
                self.assertIsNone(why, f"{name}: {why}\nsidecar: {sidecar}\ndaphne:  {daphne}")

    def test_generated(self):
        """Generated cases: SMOKE_EXAMPLES with a fixed seed, or for
        DIFF_FUZZ_SECONDS seconds (`make fuzz-diff`)."""
        seconds = float(os.environ.get("DIFF_FUZZ_SECONDS") or 0)
        if not seconds:
            found = self.explore(SMOKE_EXAMPLES, derandomize=True)
            self.assertEqual(found, [], found and found[0][1])
            return
        start = time.monotonic()
        found: list = []
        while time.monotonic() - start < seconds:
            found += self.explore(100, derandomize=False)
            elapsed = time.monotonic() - start
            print(
                f"fuzz-diff: {elapsed:6.0f} s, {self.cases} cases "
                f"({self.cases / max(elapsed, 1):.1f}/s), {len(found)} disagreements",
                file=sys.stderr,
                flush=True,
            )
        print(
            f"fuzz-diff: done: {self.cases} cases in {time.monotonic() - start:.0f} s",
            file=sys.stderr,
        )
        self.assertEqual(found, [], "\n\n".join(why for _, why in found))


class IntendedDifferencesDocumented(SimpleTestCase):
    def test_table_in_protocol_md(self):
        """docs/protocol.md lists exactly runner.INTENDED."""
        text = PROTOCOL_DOC.read_text()
        section = text.split("### Intended differences", 1)[1].split("\n## ", 1)[0]
        rows = re.findall(r"^\| `([a-z_0-9]+)` \|", section, re.M)
        self.assertEqual(rows, list(runner.INTENDED))
