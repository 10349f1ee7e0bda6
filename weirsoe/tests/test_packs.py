"""The quiz with question packs: a game with a private pack asks only its
questions; several packs, the built-in one among them; categories; more
rounds than questions refused at create."""

from __future__ import annotations

from django.test import TestCase

from tests.helpers import Api, play_round
from tests.members import Member
from weirsoe.models import Question, QuestionPack, Round


def asked(code: str) -> list[str]:
    return list(
        Round.objects.filter(session__code=code)
        .order_by("number")
        .values_list("question__prompt", flat=True)
    )


class PackGameTests(TestCase):
    def setUp(self):
        self.ana = Member("ana")
        rows = "".join(
            f"Ana's question {i}?,answer {i},{'odd' if i % 2 else 'even'}\n" for i in range(4)
        )
        self.pack = self.ana.pack("weirsoe", "ana.csv", "prompt,answer,category\n" + rows)
        self.prompts = set(
            Question.objects.filter(pack_id=self.pack).values_list("prompt", flat=True)
        )
        self.api = Api()

    def play(self, rounds: int, **settings) -> str:
        status, created = self.ana.call("POST", "/api/sessions/", {"rounds": rounds, **settings})
        self.assertEqual(status, 201, created)
        code, host = created["code"], created["host_token"]
        players = [self.api.join(code, name)[1] for name in ("Ana", "Bo")]
        for number in range(1, rounds + 1):
            play_round(self.api, code, host, players, number)
        return code

    def test_a_private_pack_is_all_a_game_asks(self):
        code = self.play(4, packs=[self.pack])
        self.assertEqual(set(asked(code)), self.prompts)  # each of its 4 once, none other
        # The state shows the pack's question to everyone, as any question.
        self.assertIn(Api().state(code)[1]["question"]["prompt"], self.prompts)

    def test_the_built_in_bank_stays_the_default(self):
        code = self.play(3)
        builtin = QuestionPack.objects.get(builtin=True)
        self.assertTrue(Question.objects.filter(pack=builtin, prompt__in=asked(code)).count() == 3)
        self.assertFalse(self.prompts & set(asked(code)))
        # A preset without packs is the built-in bank too.
        preset = self.ana.preset("weirsoe", "Plain", rounds=1)
        status, created = self.ana.call("POST", "/api/sessions/", {"preset": preset})
        self.assertEqual(created["settings"]["packs"], [])

    def test_packs_together_and_categories(self):
        builtin = QuestionPack.objects.get(builtin=True).id
        status, created = self.ana.call(
            "POST", "/api/sessions/", {"packs": [self.pack, builtin], "categories": ["odd"]}
        )
        self.assertEqual(status, 400)  # 2 odd questions for 3 rounds
        self.assertEqual(created["error"]["code"], "NOT_ENOUGH_QUESTIONS")
        code = self.play(2, packs=[self.pack, builtin], categories=["odd"])
        self.assertEqual(set(asked(code)), {"Ana's question 1?", "Ana's question 3?"})
        code = self.play(3, packs=[builtin, self.pack], categories=["odd", "animals"])
        categories = Question.objects.filter(prompt__in=asked(code)).values_list(
            "category", flat=True
        )
        self.assertLessEqual(set(categories), {"odd", "animals"})

    def test_bad_choices_are_refused(self):
        cases = [
            ({"rounds": 5, "packs": [self.pack]}, 400, "NOT_ENOUGH_QUESTIONS"),
            ({"packs": self.pack}, 400, "INVALID_FIELD"),
            ({"packs": ["x"]}, 404, "PACK_NOT_FOUND"),
            ({"packs": [self.pack + 999]}, 404, "PACK_NOT_FOUND"),
            ({"categories": ["no such category"]}, 400, "UNKNOWN_CHOICE"),
            ({"categories": "odd"}, 400, "INVALID_FIELD"),
            ({"categories": [1]}, 400, "INVALID_FIELD"),
            ({"categories": ["odd"] * 51}, 400, "INVALID_FIELD"),
        ]
        for body, status, code in cases:
            with self.subTest(body=body):
                got, answer = self.ana.call("POST", "/api/sessions/", body)
                self.assertEqual((got, answer["error"]["code"]), (status, code))
        # Another user may not even pick the private pack's category.
        bo = Member("bo")
        status, answer = bo.call("POST", "/api/sessions/", {"categories": ["odd"]})
        self.assertEqual((status, answer["error"]["code"]), (400, "UNKNOWN_CHOICE"))
