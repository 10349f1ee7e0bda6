"""The step-by-step reveal and the awards, against hand-computed expectations."""

from __future__ import annotations

from django.test import SimpleTestCase, TestCase, override_settings

from lobby import timers
from lobby.models import GameSession, Player
from realtime import protocol
from tests.helpers import Api, answer_id, truth_of
from weirsoe import awards as quiz_awards
from weirsoe import events as quiz_events
from weirsoe.awards import pick_awards


@override_settings(PARTYHUB_REVEAL_STEP=2)
class RevealTests(TestCase):
    def setUp(self):
        self.api = Api()
        self.code, self.host = self.api.create(rounds=2)
        self.ids, self.tokens = {}, {}
        for name in ("Ana", "Bo", "Cy", "Dee"):
            self.ids[name], self.tokens[name] = self.api.join(self.code, name)

    def play(self, number: int, lies: dict, guesses: dict) -> dict:
        """Play one round up to the scores; return the state."""
        for action in ("start-round", "show-question"):
            self.api.host(self.code, action, self.host)
        for name, text in lies.items():
            self.api.lie(self.code, self.tokens[name], text)
        self.api.host(self.code, "mix-answers", self.host)
        answers = self.api.state(self.code)[1]["answers"]
        truth = truth_of(self.code, number)
        for name, text in guesses.items():
            target = answer_id(answers, truth if text == "TRUTH" else text)
            self.api.guess(self.code, self.tokens[name], target)
        status, body = self.api.host(self.code, "calculate-scores", self.host)
        self.assertEqual(status, 200, body)
        return self.api.state(self.code)[1]

    def summary(self, steps: list[dict]) -> list[tuple]:
        """(answer text or TRUTH, fooled names, {name: (points, running score)}) per step."""
        return [
            (
                "TRUTH" if s["answer"]["is_truth"] else s["answer"]["text"],
                [p["name"] for p in s["fooled"]],
                {p["name"]: (p["points"], p["score"]) for p in s["points"]},
            )
            for s in steps
        ]

    def test_round_one_reveal_lies_by_fooled_count_then_truth(self):
        before = timers.now_ms()
        state = self.play(
            1,
            {"Ana": "Walrus", "Bo": "Otter", "Cy": "Heron", "Dee": "walrus"},
            {"Bo": "Walrus", "Cy": "Walrus", "Ana": "Heron", "Dee": "TRUTH"},
        )
        reveal = state["reveal"]
        steps = reveal["steps"]
        self.assertEqual(
            self.summary(steps),
            [
                ("Otter", [], {}),
                ("Heron", ["Ana"], {"Cy": (500, 500)}),
                ("Walrus", ["Bo", "Cy"], {"Ana": (1000, 1000), "Dee": (1000, 1000)}),
                ("TRUTH", [], {"Dee": (1000, 2000)}),
            ],
        )
        self.assertEqual([s["index"] for s in steps], [0, 1, 2, 3])
        self.assertEqual([a["name"] for a in steps[2]["authors"]], ["Ana", "Dee"])
        self.assertEqual([a["name"] for a in steps[3]["guessed_by"]], ["Dee"])
        times = [s["reveal_at"] for s in steps] + [reveal["reveal_at"]]
        self.assertEqual([b - a for a, b in zip(times, times[1:], strict=False)], [2000] * 4)
        self.assertGreaterEqual(times[0], before + 2000)
        self.assertLessEqual(times[0], timers.now_ms() + 2000)
        for step in steps:
            protocol.check_event(quiz_events.REVEAL_STEP, step)
        # The steps add up to the round's scores.
        deltas = {d["name"]: (d["delta"], d["score"]) for d in state["results"]["deltas"]}
        self.assertEqual(
            deltas, {"Ana": (1000, 1000), "Bo": (0, 0), "Cy": (500, 500), "Dee": (2000, 2000)}
        )

    def test_running_scores_start_from_earlier_rounds_and_awards_at_game_over(self):
        self.play(
            1,
            {"Ana": "Walrus", "Bo": "Otter", "Cy": "Heron", "Dee": "walrus"},
            {"Bo": "Walrus", "Cy": "Walrus", "Ana": "Heron", "Dee": "TRUTH"},
        )
        self.api.host(self.code, "reveal-scoreboard", self.host)
        state = self.play(
            2,  # x2
            {"Ana": "Teapot", "Bo": "Lantern", "Cy": "Marble", "Dee": "Quill"},
            {"Ana": "Lantern", "Bo": "TRUTH", "Cy": "TRUTH", "Dee": "Teapot"},
        )
        steps = state["reveal"]["steps"]
        fooled = [len(s["fooled"]) for s in steps[:-1]]  # lies; the truth is last
        self.assertEqual(fooled, sorted(fooled))
        by_answer = {row[0]: row for row in self.summary(steps)}
        self.assertEqual(by_answer["Lantern"][2], {"Bo": (1000, 1000)})
        self.assertEqual(by_answer["Teapot"][2], {"Ana": (1000, 2000)})
        self.assertEqual(by_answer["TRUTH"][2], {"Bo": (2000, 3000), "Cy": (2000, 2500)})
        self.assertEqual(steps[-1]["answer"]["is_truth"], True)
        self.api.host(self.code, "reveal-scoreboard", self.host)
        Player.objects.filter(name__in=["Bo", "Cy"]).update(reactions_received=2)
        Player.objects.filter(name="Dee").update(reactions_received=1)
        status, body = self.api.host(self.code, "finish", self.host)
        self.assertEqual(status, 200, body)
        awards = {a["award"]: a for a in self.api.state(self.code)[1]["awards"]}
        winners = {key: [w["name"] for w in a["winners"]] for key, a in awards.items()}
        counts = {key: a["count"] for key, a in awards.items()}
        # Ana fooled Bo and Cy (round 1) and Dee (round 2); truths: Dee, Bo, Cy once each;
        # Ana picked a lie twice; Bo and Cy got two reactions each.
        self.assertEqual(
            winners,
            {
                "best_liar": ["Ana"],
                "truth_seeker": ["Bo", "Cy", "Dee"],
                "crowd_favourite": ["Bo", "Cy"],
                "most_gullible": ["Ana"],
            },
        )
        self.assertEqual(
            counts, {"best_liar": 3, "truth_seeker": 1, "crowd_favourite": 2, "most_gullible": 2}
        )
        self.assertEqual(awards["best_liar"]["title"], "Best liar")
        self.assertEqual(GameSession.objects.get(code=self.code).phase, "finished")


class PickAwardsTests(SimpleTestCase):
    def test_ties_go_to_every_top_player_in_join_order_and_zero_wins_nothing(self):
        names = {3: "Cy", 1: "Ana", 2: "Bo"}
        counts = {
            "best_liar": {3: 2, 1: 2, 2: 1},
            "truth_seeker": {1: 0, 2: 0, 3: 0},
            "crowd_favourite": {1: 0, 2: 5, 3: 0},
            "most_gullible": {},
        }
        awards = pick_awards(counts, names)
        self.assertEqual([a["award"] for a in awards], list(quiz_awards.AWARD_IDS))
        self.assertEqual(
            [([w["player_id"] for w in a["winners"]], a["count"]) for a in awards],
            [([1, 3], 2), ([], 0), ([2], 5), ([], 0)],
        )
