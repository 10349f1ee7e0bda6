"""Packs (issue 19): uploads as CSV or JSON, every problem reported with its
line and nothing saved; size limits; a pack is its owner's (404 for anyone
else everywhere) until an admin publishes it; deleting a pack, or its
owner's account, while a game uses it is safe."""

from __future__ import annotations

import json

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, TestCase, override_settings
from django.utils import timezone

from lobby import lifecycle, registry
from lobby.models import GameSession
from spyster.deck import DECK_PATH
from spyster.models import Deck, Location
from weirsoe.models import Question, QuestionPack, Round

from .helpers import Api, play_round
from .members import Member

QUIZ_CSV = "prompt,answer,category\nWho wrote it?,me,books\nWhat is it?,a test,science\n"


def lines(answer: dict) -> list[tuple[int, str]]:
    return [(p["line"], p["message"]) for p in answer["error"]["problems"]]


class UploadTests(TestCase):
    def setUp(self):
        self.ana = Member("ana")

    def test_good_files_of_every_shape(self):
        quiz_list = json.dumps(
            [{"prompt": "A?", "answer": "a", "category": "x"}, {"prompt": "B?", "answer": 42}]
        )
        quiz_wrapped = json.dumps(
            {"name": "Wrapped", "questions": [{"prompt": "C?", "answer": "c"}]}
        )
        cases = [
            ("weirsoe", "mine.csv", QUIZ_CSV, "", "mine", 2),
            ("weirsoe", "list.json", quiz_list, "Named here", "Named here", 2),
            ("weirsoe", "wrapped.json", quiz_wrapped, "", "Wrapped", 1),
            ("weirsoe", "no-extension", QUIZ_CSV, "", "no-extension", 2),  # sniffed
            ("spyster", "deck.csv", "name,roles\nAttic,Ghost; Bat\nCellar,Cat\n", "", "deck", 2),
            # The built-in deck's own file is a valid upload.
            ("spyster", "locations.json", DECK_PATH.read_bytes(), "Copy", "Copy", 28),
        ]
        for game, filename, content, name, shown, count in cases:
            with self.subTest(filename=filename):
                status, body = self.ana.upload(game, filename, content, name)
                self.assertEqual(status, 201, body)
                self.assertEqual((body["name"], body["count"], body["mine"]), (shown, count, True))
                self.assertFalse(body["published"])
                status, detail = self.ana.call("GET", f"/api/packs/{game}/{body['id']}/")
                self.assertEqual((status, len(detail["items"])), (200, count))
        status, detail = self.ana.call("GET", "/api/packs/spyster/{}/".format(body["id"] - 1))
        self.assertEqual(detail["items"][0], {"name": "Attic", "roles": ["Ghost", "Bat"]})
        question = Question.objects.get(prompt="B?")
        self.assertEqual((question.answer, question.category), ("42", ""))

    def test_problems_in_the_page_language(self):
        """A refused cell says why in a whole sentence, in the language the
        switcher chose (its cookie); English by default."""
        content = "name,roles\nAttic,Gho\u200bst\nCel\u200blar,Cat\nDen,Fox,extra\n"
        english = [
            (2, "An entry of 'roles' contains invisible or control characters."),
            (3, "'name' contains invisible or control characters."),
            (4, "this row has 3 cells but there are 2 columns"),
        ]
        danish = [
            (2, "En værdi i 'roles' indeholder usynlige tegn eller kontroltegn."),
            (3, "'name' indeholder usynlige tegn eller kontroltegn."),
            (4, "denne række har 3 celler, men der er 2 kolonner"),
        ]
        for language, expected in ((None, english), ("da", danish)):
            if language:
                self.ana.client.cookies["django_language"] = language
            status, body = self.ana.upload("spyster", "d.csv", content)
            self.assertEqual(status, 400, body)
            self.assertEqual(lines(body), expected)

    def test_every_problem_with_its_line_and_nothing_saved(self):
        cases = [
            (
                "weirsoe",
                "a.csv",
                "prompt,category\nA?,x\n",
                [(1, "the column 'answer' is missing")],
            ),
            (
                "weirsoe",
                "a.csv",
                "prompt,answer,colour\nA?,a,red\n",
                [(1, "unknown column 'colour'")],
            ),
            (
                "weirsoe",
                "a.csv",
                "prompt,answer\nA?,a\n\n,b\nC?,\n" + "D?," + "x" * 41 + "\n",
                [(4, "'prompt' is missing"), (5, "'answer' is missing"), (6, "longer than 40")],
            ),
            (
                "weirsoe",
                "a.csv",
                'prompt,answer\n"A long\nprompt?",a\n  a LONG   prompt? ,b\nB?,b,extra\n',
                [(4, "the same question as line 2"), (5, "has 3 cells but there are 2 columns")],
            ),
            ("weirsoe", "a.csv", b"prompt,answer\nA?,a\nB\xe9?,b\n", [(3, "not UTF-8")]),
            ("weirsoe", "a.csv", "", []),
            (
                "weirsoe",
                "a.json",
                '[\n {"prompt": "A?", "answer": "a"},\n\n {"prompt": }\n]',
                [(4, "not valid JSON")],
            ),
            (
                "weirsoe",
                "a.json",
                '[\n {"prompt": "A?", "answer": "a"},\n {"prompt": "B?",\n  "answer": true},\n'
                ' {"prompt": "C?", "answer": "c", "hint": "h"},\n "D?"\n]',
                [
                    (3, "'answer' must be text"),
                    (5, "unknown field 'hint'"),
                    (5, "is not an object"),
                ],
            ),
            ("weirsoe", "a.json", '{"name": "x"}', []),
            (
                "spyster",
                "d.csv",
                "name,roles\nAttic,\nCellar, ; \n",
                [(2, "'roles' needs at least one"), (3, "'roles' needs at least one")],
            ),
            ("spyster", "d.csv", "name,roles\nAttic,Ghost\n", [(0, "needs at least 2 location")]),
            (
                "spyster",
                "d.json",
                '{"name": "D", "locations": [\n {"name": "A", "roles": ["x"]},\n'
                ' {"name": "a", "roles": [1, "y"]},\n {"name": "B", "roles": "x; y"},\n'
                ' {"name": "C", "roles": [true]}\n]}',
                [(3, "the same location as line 2"), (5, "'roles' must be a list of texts")],
            ),
        ]
        for game, filename, content, expected in cases:
            with self.subTest(content=content):
                status, body = self.ana.upload(game, filename, content)
                self.assertEqual((status, body["error"]["code"]), (400, "INVALID_PACK"), body)
                found = lines(body)
                for line, text in expected:
                    self.assertTrue(
                        any(n == line and text in m for n, m in found), (line, text, found)
                    )
                self.assertEqual(body["error"]["problem_count"], len(body["error"]["problems"]))
        self.assertFalse(QuestionPack.objects.filter(builtin=False).exists())
        self.assertFalse(Deck.objects.filter(builtin=False).exists())

    def test_size_limits(self):
        with override_settings(PARTYHUB_PACK_MAX_BYTES=100):
            status, body = self.ana.upload("weirsoe", "big.csv", "prompt,answer\n" + "Q?,a\n" * 30)
            self.assertEqual((status, body["error"]["code"]), (413, "PACK_TOO_LARGE"))
        with override_settings(PARTYHUB_PACK_MAX_ITEMS=3):
            rows = "".join(f"Q{i}?,a\n" for i in range(4))
            status, body = self.ana.upload("weirsoe", "many.csv", "prompt,answer\n" + rows)
            self.assertEqual(status, 400)
            self.assertIn((0, "at most 3 questions per pack"), lines(body))
        rows = "".join(f"Q{i}?,\n" for i in range(60))
        status, body = self.ana.upload("weirsoe", "bad.csv", "prompt,answer\n" + rows)
        self.assertEqual((len(body["error"]["problems"]), body["error"]["problem_count"]), (25, 60))
        with override_settings(PARTYHUB_PACKS_PER_USER=1):
            self.ana.pack("weirsoe", "one.csv", QUIZ_CSV)
            status, body = self.ana.upload("weirsoe", "two.csv", QUIZ_CSV)
            self.assertEqual((status, body["error"]["code"]), (409, "TOO_MANY_PACKS"))

    def test_bad_requests(self):
        status, body = self.ana.upload("hunch", "a.csv", QUIZ_CSV)
        self.assertEqual((status, body["error"]["code"]), (400, "NO_PACKS"))
        status, body = self.ana.upload("chess", "a.csv", QUIZ_CSV)
        self.assertEqual((status, body["error"]["code"]), (400, "UNKNOWN_GAME"))
        response = self.ana.client.post(
            "/api/packs/", {"game": "weirsoe"}, HTTP_X_CSRFTOKEN=self.ana.csrf
        )
        self.assertEqual(response.json()["error"]["code"], "INVALID_FIELD")
        status, body = self.ana.upload("weirsoe", "a.csv", QUIZ_CSV, name="x" * 61)
        self.assertEqual((status, body["error"]["code"]), (400, "INVALID_NAME"))
        guest = Client()
        response = guest.post("/api/packs/", {"game": "weirsoe", "file": b"x"})
        self.assertEqual(response.status_code, 401)

    def test_the_page_uploads_and_shows_problems_by_line(self):
        page = self.ana.page("/packs/")
        self.assertContains(page, "prompt,answer,category")  # how a file looks, from the columns
        self.assertContains(page, "name,roles")
        bad = self.ana.client.post(
            "/packs/",
            {
                "game": "weirsoe",
                "file": _file("bad.csv", "prompt,answer\nA?,a\nB?,\n"),
                "csrfmiddlewaretoken": self.ana.csrf,
            },
        )
        self.assertEqual(bad.status_code, 400)
        self.assertContains(bad, "line 3: &#x27;answer&#x27; is missing", status_code=400)
        good = self.ana.client.post(
            "/packs/",
            {
                "game": "weirsoe",
                "name": "Quiz night",
                "file": _file("good.csv", QUIZ_CSV),
                "csrfmiddlewaretoken": self.ana.csrf,
            },
        )
        pack = QuestionPack.objects.get(name="Quiz night")
        self.assertEqual(good["Location"], f"/packs/weirsoe/{pack.id}/")
        shown = self.ana.page(good["Location"])
        self.assertContains(shown, "Who wrote it?")
        self.assertContains(self.ana.page("/packs/"), "Quiz night")


def _file(name: str, text: str):
    return SimpleUploadedFile(name, text.encode())


class OwnerTests(TestCase):
    """A pack is its owner's until an admin publishes it."""

    def setUp(self):
        self.ana = Member("ana")
        self.bo = Member("bo")
        self.pack = self.ana.pack("weirsoe", "ana.csv", QUIZ_CSV, name="Ana's questions")
        self.deck = self.ana.pack("spyster", "d.csv", "name,roles\nAttic,Ghost\nCellar,Cat\n")

    def test_anyone_else_gets_404_everywhere(self):
        guest = Api(Client())
        for who, client in (("bo", self.bo), ("guest", guest)):
            for game, pack, option in (
                ("weirsoe", self.pack, {"packs": [self.pack]}),
                ("spyster", self.deck, {"deck": self.deck}),
            ):
                with self.subTest(who=who, game=game):
                    path = f"/api/packs/{game}/{pack}/"
                    for method, body in (("GET", None), ("PATCH", {"name": "x"}), ("DELETE", None)):
                        status, answer = client.call(method, path, body)
                        self.assertEqual((status, answer["error"]["code"]), (404, "PACK_NOT_FOUND"))
                    status, answer = client.call("POST", "/api/sessions/", {"game": game, **option})
                    self.assertEqual((status, answer["error"]["code"]), (404, "PACK_NOT_FOUND"))
                    ids = [
                        p["id"] for p in client.call("GET", f"/api/packs/?game={game}")[1]["packs"]
                    ]
                    self.assertNotIn(pack, ids)
        status, answer = self.bo.call(
            "POST",
            "/api/presets/",
            {"game": "weirsoe", "name": "X", "settings": {"packs": [self.pack]}},
        )
        self.assertEqual((status, answer["error"]["code"]), (404, "PACK_NOT_FOUND"))
        for path, data in (
            (f"/packs/weirsoe/{self.pack}/", None),
            (f"/packs/weirsoe/{self.pack}/delete/", {}),
            (f"/packs/spyster/{self.deck}/", None),
            (f"/packs/hunch/{self.pack}/", None),
        ):
            self.assertEqual(self.bo.page(path, data).status_code, 404, path)
        self.assertNotContains(self.bo.page("/packs/"), "Ana&#x27;s questions")
        self.assertEqual(QuestionPack.objects.filter(id=self.pack, deleted_at=None).count(), 1)

    def test_a_published_pack_is_everyones_to_play_but_its_owners_to_change(self):
        QuestionPack.objects.filter(id=self.pack).update(published=True)
        status, body = self.bo.call("GET", f"/api/packs/weirsoe/{self.pack}/")
        self.assertEqual((status, body["mine"], body["count"]), (200, False, 2))
        self.assertNotIn("items", body)  # the questions stay the owner's to read
        status, body = Api(Client()).call(
            "POST", "/api/sessions/", {"packs": [self.pack], "rounds": 2}
        )
        self.assertEqual(status, 201, body)
        self.assertEqual(
            self.bo.call("PATCH", f"/api/packs/weirsoe/{self.pack}/", {"name": "x"})[0], 404
        )
        self.assertEqual(self.bo.call("DELETE", f"/api/packs/weirsoe/{self.pack}/")[0], 404)
        self.assertContains(self.bo.page("/packs/"), "Ana&#x27;s questions")
        self.assertEqual(self.bo.page(f"/packs/weirsoe/{self.pack}/").status_code, 404)

    def test_the_owner_renames_and_lists(self):
        status, body = self.ana.call(
            "PATCH", f"/api/packs/weirsoe/{self.pack}/", {"name": " Renamed "}
        )
        self.assertEqual((status, body["name"]), (200, "Renamed"))
        status, body = self.ana.call(
            "PATCH", f"/api/packs/weirsoe/{self.pack}/", {"published": True}
        )
        self.assertEqual((status, body["error"]["code"]), (400, "INVALID_FIELD"))
        mine = self.ana.call("GET", "/api/packs/?mine=1")[1]["packs"]
        self.assertEqual(
            sorted((p["game"], p["id"]) for p in mine),
            [("spyster", self.deck), ("weirsoe", self.pack)],
        )
        everything = self.ana.call("GET", "/api/packs/")[1]["packs"]
        self.assertEqual(sum(p["builtin"] for p in everything), 2)  # the built-in ones too


class DeletingTests(TestCase):
    """A pack deleted while a game uses it: gone for everyone at once, the
    game plays on with it, the purge deletes it when the game is gone."""

    def setUp(self):
        self.ana = Member("ana")
        rows = "".join(f"Pack question {i}?,answer {i}\n" for i in range(3))
        self.pack = self.ana.pack("weirsoe", "p.csv", "prompt,answer\n" + rows)
        self.preset = self.ana.preset("weirsoe", "With it", rounds=2, packs=[self.pack])
        status, created = self.ana.call("POST", "/api/sessions/", {"preset": self.preset})
        self.code, self.host = created["code"], created["host_token"]
        self.api = Api()
        self.players = [self.api.join(self.code, name)[1] for name in ("Ana", "Bo")]
        play_round(self.api, self.code, self.host, self.players, 1)

    def check_the_game_plays_on_and_the_purge_deletes_it(self):
        self.assertEqual(self.ana.call("GET", f"/api/packs/weirsoe/{self.pack}/")[0], 404)
        self.assertFalse(QuestionPack.objects.get(id=self.pack).published)
        status, answer = Api(Client()).call("POST", "/api/sessions/", {"packs": [self.pack]})
        self.assertEqual(status, 404)  # no new game with it
        play_round(self.api, self.code, self.host, self.players, 2)
        prompts = Round.objects.filter(session__code=self.code).values_list(
            "question__prompt", flat=True
        )
        self.assertEqual(len(prompts), 2)
        self.assertTrue(all(p.startswith("Pack question") for p in prompts))
        self.assertEqual(self.api.host(self.code, "finish", self.host)[0], 200)
        lifecycle.purge_sessions()  # within the grace period: the session stays, so does the pack
        self.assertTrue(QuestionPack.objects.filter(id=self.pack).exists())
        later = timezone.now() + timezone.timedelta(days=1)
        lifecycle.purge_sessions(later)
        self.assertFalse(GameSession.objects.filter(code=self.code).exists())
        self.assertFalse(QuestionPack.objects.filter(id=self.pack).exists())
        self.assertFalse(Question.objects.filter(prompt__startswith="Pack question").exists())

    def test_deleting_the_pack_mid_game(self):
        status, _ = self.ana.call("DELETE", f"/api/packs/weirsoe/{self.pack}/")
        self.assertEqual(status, 204)
        status, preset = self.ana.call("GET", f"/api/presets/{self.preset}/")
        self.assertEqual(preset["settings"]["packs"], [])  # presets lose it at once
        self.check_the_game_plays_on_and_the_purge_deletes_it()

    def test_deleting_the_account_mid_game(self):
        self.ana.user.delete()
        self.check_the_game_plays_on_and_the_purge_deletes_it()

    def test_a_pack_no_game_uses_is_deleted_at_once(self):
        other = self.ana.pack("spyster", "d.csv", "name,roles\nAttic,Ghost\nCellar,Cat\n")
        self.assertEqual(self.ana.call("DELETE", f"/api/packs/spyster/{other}/")[0], 204)
        self.assertFalse(Deck.objects.filter(id=other).exists())
        self.assertFalse(Location.objects.filter(name="Attic").exists())
        self.assertEqual(self.ana.page(f"/packs/weirsoe/{self.pack}/delete/", {}).status_code, 302)
        self.assertIsNotNone(QuestionPack.objects.get(id=self.pack).deleted_at)  # in use: marked


class RegistryTests(TestCase):
    def test_every_game_with_packs_is_consistent(self):
        drivers = [d for d in registry.games() if d.packs is not None]
        self.assertEqual(sorted(d.name for d in drivers), ["spyster", "weirsoe"])
