"""Names and free texts (lobby.text): normalised, checked, told apart."""

from __future__ import annotations

from django.test import SimpleTestCase, TransactionTestCase

from lobby import rules, text
from lobby.errors import GameError

from .helpers import Api, truth_of

ZWSP = "\u200b"


class TextRules(SimpleTestCase):
    def refused(self, value, rule=rules.NAME) -> str:
        with self.assertRaises(GameError) as caught:
            text.clean(value, rule)
        return caught.exception.code

    def test_normalised(self):
        cases = {
            "  Ana \t  Bo\n": "Ana Bo",
            "ＡＮＡ": "ANA",  # full-width: NFKC
            "ﬁre": "fire",  # ligature
            "e\u0301te": "\u00e9te",  # composed
            "Zo\u00eb\u00a0K": "Zo\u00eb K",  # NBSP is a space
            "👨‍👩‍👧 fam": "👨‍👩‍👧 fam",  # an emoji sequence keeps its joiners
            "❤️": "❤️",  # and its variation selector
            "👨🏽‍👩🏽‍👧🏽": "👨🏽‍👩🏽‍👧🏽",  # skin tones before a joiner
            "1️⃣ Bo": "1️⃣ Bo",  # a keycap
        }
        for raw, shown in cases.items():
            with self.subTest(raw=raw):
                self.assertEqual(text.clean(raw, rules.NAME), shown)

    def test_refused(self):
        for value in (
            ZWSP,
            f"Ana{ZWSP}",
            "A\u200dna",  # a joiner between letters
            "\u202eanA",  # bidi override
            "Ana\u2066x\u2069",  # bidi isolate
            "\x1b[31mAna",  # a terminal escape
            "Ana\x07",
            "Bob\ud800",  # a lone surrogate
            "\u3164",  # Hangul filler: invisible
            "Ana\u00ad",  # soft hyphen
            "\ue000x",  # private use
            "Z\u0301\u0302\u0303\u0304\u0305",  # four marks left on one letter
            "!!!",
            "   ",
            "",
            "x" * 21,
        ):
            with self.subTest(value=value):
                self.assertEqual(self.refused(value), "INVALID_NAME")
        self.assertEqual(self.refused(7), "INVALID_FIELD")
        self.assertEqual(
            self.refused(None, text.TextRule("text", "INVALID_LIE", "A lie", 80)), "INVALID_FIELD"
        )

    def test_length_in_user_perceived_characters(self):
        self.assertEqual(text.clean("e\u0301" * 20, rules.NAME), "\u00e9" * 20)
        self.assertEqual(len(text.graphemes("👨‍👩‍👧" * 20)), 20)
        self.assertEqual(text.clean("👨‍👩‍👧" * 20, rules.NAME), "👨‍👩‍👧" * 20)
        self.assertEqual(self.refused("👨‍👩‍👧" * 21), "INVALID_NAME")
        self.assertEqual(self.refused("x\u0301\u0302" * 21), "INVALID_NAME")

    def test_confusable_names_share_a_key(self):
        key = rules.check_name("Ana")[1]
        for other in ("ana", "ANA", "ＡＮＡ", "\u0410na", "\u0430na", " Ana "):
            with self.subTest(other=other):
                self.assertEqual(rules.check_name(other)[1], key)
        for a, b in (("Ana", "\u0391\u039d\u0391"), ("I1", "l1"), ("Ivan", "ivan"), ("rn", "m")):
            with self.subTest(a=a, b=b):
                self.assertTrue(text.confusable(a, b))
        self.assertFalse(text.confusable("Ana", "Anna"))
        for other in ("Anna", "Ann", "Bo"):
            with self.subTest(other=other):
                self.assertNotEqual(rules.check_name(other)[1], key)


class NamesInAGame(TransactionTestCase):
    serialized_rollback = True  # the questions the migrations load

    def setUp(self):
        self.api = Api()
        self.code, self.host = self.api.create()

    def join(self, name):
        return self.api.call("POST", f"/api/sessions/{self.code}/join/", {"name": name})

    def test_look_alikes_cannot_both_join(self):
        self.assertEqual(self.join("Ana")[0], 201)
        for name in (
            "ana",
            "\u0410na",
            "ＡＮＡ",
            "\u0391\u039d\u0391",
            f"Ana{ZWSP}",
            ZWSP,
            "\x1b[2JAna",
        ):
            with self.subTest(name=name):
                status, body = self.join(name)
                self.assertIn(status, (400, 409))
                self.assertIn(body["error"]["code"], ("INVALID_NAME", "NAME_TAKEN"))
        status, body = self.join("\uff22o")  # full-width B: shown as "Bo"
        self.assertEqual(status, 201)
        _, state = self.api.state(self.code)
        self.assertEqual([p["name"] for p in state["players"]], ["Ana", "Bo"])

    def test_lone_surrogate_is_a_json_error_not_a_500(self):
        raw = '{"name": "Bob\\ud800"}'
        status, body = self.api.call("POST", f"/api/sessions/{self.code}/join/", raw=raw)
        self.assertEqual((status, body["error"]["code"]), (400, "INVALID_NAME"))
        _, ana = self.api.join(self.code, "Ana")
        self.api.join(self.code, "Bo")
        self.api.host(self.code, "start-round", self.host)
        raw = '{"text": "a lie \\udfff"}'
        status, body = self.api.call("POST", f"/api/sessions/{self.code}/lies/", raw=raw, token=ana)
        self.assertEqual((status, body["error"]["code"]), (400, "INVALID_LIE"))
        for raw in ('{"text": NaN}', '{"text": Infinity}', '{"text": 1e999}'):
            status, body = self.api.call(
                "POST", f"/api/sessions/{self.code}/lies/", raw=raw, token=ana
            )
            self.assertEqual((status, body["error"]["code"]), (400, "INVALID_JSON"))
        status, body = self.api.lie(self.code, ana, f"  {truth_of(self.code, 1)}\u200b")
        self.assertEqual((status, body["error"]["code"]), (400, "INVALID_LIE"))
        status, body = self.api.lie(self.code, ana, "ｆｕｌｌ width")
        self.assertEqual((status, body["text"]), (201, "full width"))
