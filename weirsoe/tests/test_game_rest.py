"""A whole Weirsøe game through the REST API, scores checked against the rules."""

from django.test import TestCase

from tests.helpers import Api, answer_id, truth_of
from weirsoe.models import Question


class FullGameTests(TestCase):
    def setUp(self):
        self.api = Api()
        self.code, self.host = self.api.create()
        self.ids = {}
        self.tokens = {}
        for name in ("Ana", "Bo", "Cy"):
            self.ids[name], self.tokens[name] = self.api.join(self.code, name)

    def play_round(self, number, lies, guesses):
        """lies: name -> text; guesses: name -> text of the answer guessed ('TRUTH')."""
        api, code, host = self.api, self.code, self.host
        status, body = api.host(code, "start-round", host)
        self.assertEqual((status, body["phase"], body["round"]), (200, "lie", number))
        self.assertEqual(body["event"], "phase.lie_started")
        self.assertTrue(body["broadcast"]["ok"], body)
        self.assertEqual(api.host(code, "show-question", host)[0], 200)
        for name, text in lies.items():
            status, body = api.lie(code, self.tokens[name], text)
            self.assertEqual(status, 201, body)
        status, body = api.host(code, "mix-answers", host)
        self.assertEqual(status, 200, body)
        _, state = api.state(code)
        answers = state["answers"]
        truth = truth_of(code, number)
        for name, text in guesses.items():
            target = truth if text == "TRUTH" else text
            status, body = api.guess(code, self.tokens[name], answer_id(answers, target))
            self.assertEqual(status, 201, body)
        status, body = api.host(code, "calculate-scores", host)
        self.assertEqual(status, 200, body)
        _, state = api.state(code)
        results = state["results"]
        self.assertEqual(results["truth"]["text"], truth)
        status, body = api.host(code, "reveal-scoreboard", host)
        self.assertEqual((status, body["phase"]), (200, "scoreboard"))
        _, state = api.state(code)
        return results, {r["name"]: r["score"] for r in state["ranking"]}

    def test_three_rounds_three_players(self):
        api, code = self.api, self.code
        # Round 1 (x1): Ana and Bo write the same lie (Bo replaces a first one),
        # so Cy is fooled by a lie of two authors.
        self.assertEqual(api.lie(code, self.tokens["Bo"], "first idea")[0], 409)  # lobby
        api.host(code, "start-round", self.host)
        self.assertEqual(api.lie(code, self.tokens["Bo"], "first idea")[0], 201)
        api.host(code, "show-question", self.host)
        api.lie(code, self.tokens["Ana"], "Purple Rain")
        api.lie(code, self.tokens["Bo"], "purple  rain!")  # replaces "first idea"
        api.lie(code, self.tokens["Cy"], "Kettle")
        status, body = api.host(code, "mix-answers", self.host)
        self.assertEqual(status, 200)
        _, state = api.state(code)
        self.assertEqual(len(state["answers"]), 3)  # truth, shared lie, Cy's lie
        self.assertNotIn("first idea", [a["text"] for a in state["answers"]])
        truth = truth_of(code, 1)
        api.guess(code, self.tokens["Ana"], answer_id(state["answers"], truth))
        api.guess(code, self.tokens["Bo"], answer_id(state["answers"], "Kettle"))
        api.guess(code, self.tokens["Cy"], answer_id(state["answers"], "Purple Rain"))
        api.host(code, "calculate-scores", self.host)
        _, state = api.state(code)
        deltas = {d["name"]: d["delta"] for d in state["results"]["deltas"]}
        self.assertEqual(deltas, {"Ana": 1500, "Bo": 500, "Cy": 500})
        fooled = {(f["liar_name"], f["victim_name"]) for f in state["results"]["fooled"]}
        self.assertEqual(fooled, {("Ana", "Cy"), ("Bo", "Cy"), ("Cy", "Bo")})
        api.host(code, "reveal-scoreboard", self.host)

        # Round 2 (x2): everybody fooled or right once.
        _, scores = self.play_round(
            2,
            {"Ana": "Teapot", "Bo": "Lantern", "Cy": "Marble"},
            {"Ana": "Lantern", "Bo": "Marble", "Cy": "TRUTH"},
        )
        self.assertEqual(scores, {"Ana": 1500, "Bo": 1500, "Cy": 3500})

        # Round 3 (x3): Ana's lie fools both others.
        results, scores = self.play_round(
            3,
            {"Ana": "Walrus", "Bo": "Otter", "Cy": "Heron"},
            {"Bo": "Walrus", "Cy": "Walrus"},
        )
        self.assertEqual(scores, {"Ana": 4500, "Bo": 1500, "Cy": 3500})
        self.assertEqual({d["name"]: d["delta"] for d in results["deltas"]}["Ana"], 3000)

        # After the last round: no fourth round, finishing is the way on.
        status, body = api.host(code, "start-round", self.host)
        self.assertEqual((status, body["error"]["code"]), (409, "NO_MORE_ROUNDS"))
        status, body = api.host(code, "finish", self.host)
        self.assertEqual(
            (status, body["phase"], body["event"]), (200, "finished", "phase.game_over")
        )
        _, state = api.state(code)
        self.assertEqual(
            [(r["name"], r["score"], r["rank"]) for r in state["ranking"]],
            [("Ana", 4500, 1), ("Cy", 3500, 2), ("Bo", 1500, 3)],
        )

    def test_questions_never_repeat_in_a_session(self):
        code, host = self.api.create(rounds=5)
        for name in ("P1", "P2"):
            self.api.join(code, name)
        prompts = []
        for _ in range(5):
            self.api.host(code, "start-round", host)
            _, state = self.api.state(code)
            prompts.append(state["question"]["prompt"])
            for action in ("show-question", "mix-answers", "calculate-scores", "reveal-scoreboard"):
                self.assertEqual(self.api.host(code, action, host)[0], 200)
        self.assertEqual(len(set(prompts)), 5)

    def test_host_may_finish_after_any_round(self):
        self.api.host(self.code, "start-round", self.host)
        for action in ("show-question", "mix-answers", "calculate-scores", "reveal-scoreboard"):
            self.api.host(self.code, action, self.host)
        status, body = self.api.host(self.code, "finish", self.host)
        self.assertEqual(status, 200, body)

    def test_player_view_shows_own_lie_and_answer(self):
        self.api.host(self.code, "start-round", self.host)
        self.api.host(self.code, "show-question", self.host)
        self.api.lie(self.code, self.tokens["Ana"], "Zeppelin")
        self.api.host(self.code, "mix-answers", self.host)
        status, state = self.api.state(self.code, self.tokens["Ana"])
        self.assertEqual(status, 200)
        you = state["you"]
        self.assertEqual(you["lie"], "Zeppelin")
        self.assertEqual(you["own_answer_ids"], [answer_id(state["answers"], "Zeppelin")])
        _, public = self.api.state(self.code)
        self.assertNotIn("you", public)

    def test_state_never_shows_secrets(self):
        self.api.host(self.code, "start-round", self.host)
        self.api.host(self.code, "show-question", self.host)
        self.api.lie(self.code, self.tokens["Ana"], "Zeppelin")
        self.api.host(self.code, "mix-answers", self.host)
        status, state = self.api.state(self.code)
        text = str(state)
        self.assertNotIn(self.host, text)
        for token in self.tokens.values():
            self.assertNotIn(token, text)
        self.assertNotIn("is_truth", text)
        self.assertNotIn("authors", text)
        self.assertIsNone(state["results"])

    def test_question_bank_is_large_and_complete(self):
        self.assertGreaterEqual(Question.objects.count(), 100)
        self.assertFalse(Question.objects.filter(answer="").exists())
