"""Hunch's rules and round, through its REST API (the platform's parts are
tested for every game in tests/test_platform.py)."""

from __future__ import annotations

from django.test import SimpleTestCase, TestCase

from hunch import rules
from lobby import flow, phases, registry, timers
from lobby.models import GameSession, Player
from tests.helpers import Api


class ScoreTests(SimpleTestCase):
    def test_the_closest_guesses_score_and_an_exact_one_doubles(self):
        self.assertEqual(rules.score({1: 10, 2: 12, 3: 15}, 12, 1), {2: 200})
        self.assertEqual(rules.score({1: 10, 2: 14}, 12, 3), {1: 300, 2: 300})
        self.assertEqual(rules.score({}, 12, 1), {})

    def test_every_player_gets_a_secret_in_range(self):
        dealt = rules.deal(list(range(50)))
        self.assertEqual(sorted(dealt), list(range(50)))
        self.assertTrue(all(rules.SECRET_MIN <= n <= rules.SECRET_MAX for n in dealt.values()))


class RoundTests(TestCase):
    def setUp(self):
        self.api = Api()
        self.code, self.host = self.api.create(game="hunch", rounds=2)
        self.ids, self.tokens = {}, {}
        for name in ("Ana", "Bo", "Cy"):
            self.ids[name], self.tokens[name] = self.api.join(self.code, name)
        status, body = self.api.host(self.code, "start-round", self.host)
        self.assertEqual((status, body["event"]), (200, "hunch.round_started"))

    def secret(self, name: str) -> int:
        return Player.objects.get(id=self.ids[name]).data["secret"]

    def guess(self, name: str, total):
        path = f"/api/sessions/{self.code}/guess/"
        return self.api.call("POST", path, {"total": total}, self.tokens[name])

    def test_each_player_sees_only_their_own_secret(self):
        anonymous = self.api.state(self.code)[1]
        self.assertNotIn("secret", str(anonymous))
        for name in self.ids:
            you = self.api.state(self.code, self.tokens[name])[1]["you"]
            self.assertEqual(you, {**you, "secret": self.secret(name), "guess": None})
        host_view = self.api.state(self.code, self.host)[1]
        self.assertNotIn("you", host_view)

    def test_the_last_guess_ends_the_round_with_the_closest_scoring(self):
        total = sum(self.secret(name) for name in self.ids)
        self.assertEqual(self.guess("Ana", total)[0], 201)
        self.assertEqual(self.guess("Bo", total + 5)[0], 201)
        self.assertEqual(self.api.state(self.code)[1]["guessed"], [self.ids["Ana"], self.ids["Bo"]])
        status, body = self.guess("Cy", total + 1)
        self.assertEqual(status, 201)
        self.assertEqual(len(body["broadcast"]["seq"]), 3)  # guessed, round over, scoreboard
        state = self.api.state(self.code)[1]
        self.assertEqual(state["phase"], "scoreboard")
        self.assertEqual(state["last_round"]["total"], total)
        scores = {p["name"]: p["score"] for p in state["players"]}
        self.assertEqual(scores, {"Ana": 200, "Bo": 0, "Cy": 0})

    def test_guesses_are_checked(self):
        self.assertEqual(self.guess("Ana", 3)[0], 201)
        for name, total, code in (
            ("Ana", 4, "ALREADY_GUESSED"),
            ("Bo", -1, "INVALID_FIELD"),
            ("Bo", "7", "INVALID_FIELD"),
            ("Bo", True, "INVALID_FIELD"),
        ):
            status, body = self.guess(name, total)
            self.assertEqual(body["error"]["code"], code, (name, total))
        path = f"/api/sessions/{self.code}/guess/"
        status, body = self.api.call("POST", path, {"total": 3}, self.host)
        self.assertEqual((status, body["error"]["code"]), (403, "WRONG_ROLE"))

    def test_the_deadline_ends_the_round_without_the_missing_guesses(self):
        # Close but never exact (the exact total earns the bullseye bonus too).
        near = sum(self.secret(name) for name in self.ids) + 1
        self.guess("Ana", near)
        session = GameSession.objects.get(code=self.code)
        session.deadline_ms = timers.now_ms() - 1
        session.auto_advance = True
        session.save()
        stage = phases.stage_of(registry.of(session), session)
        args = (self.code, session.round_number, stage, session.timer_token)
        self.assertTrue(flow.on_deadline(*args))
        state = self.api.state(self.code)[1]
        self.assertEqual(state["phase"], "scoreboard")
        guesses = {p["name"]: p["guess"] for p in state["last_round"]["players"]}
        self.assertEqual(guesses, {"Ana": near, "Bo": None, "Cy": None})
        self.assertEqual({p["name"]: p["score"] for p in state["players"]}["Ana"], 100)

    def test_a_whole_game_ends_with_the_awards(self):
        for number in (1, 2):
            if number == 2:
                self.api.host(self.code, "start-round", self.host)
            total = sum(self.secret(name) for name in self.ids)
            self.guess("Ana", total)
            self.guess("Bo", total + 3)
            self.guess("Cy", total + 9)
        status, body = self.api.host(self.code, "finish", self.host)
        self.assertEqual((status, body["event"]), (200, "phase.game_over"))
        awards = {a["award"]: a for a in self.api.state(self.code)[1]["awards"]}
        self.assertEqual(list(awards), ["closest", "bullseye", "crowd_favourite"])
        self.assertEqual([w["name"] for w in awards["bullseye"]["winners"]], ["Ana"])
        self.assertEqual(awards["bullseye"]["count"], 2)
        self.assertEqual(awards["crowd_favourite"]["winners"], [])
