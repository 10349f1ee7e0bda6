"""Presets (issue 19): a signed-in host's named settings, for every game that
has them; a game created from one; owner checks on every endpoint and page;
nothing of a preset, a pack or a user in what sockets and snapshots carry."""

from __future__ import annotations

import json

from django.test import Client, TestCase

from lobby import registry
from lobby.driver import GameDriver
from lobby.models import GameSession, Preset
from realtime import snapshot

from .helpers import Api, Recorder
from .members import PASSWORD, Member


def odd_values(driver: GameDriver) -> dict:
    """A value of every setting that is not its default (within range)."""
    values = {}
    for setting in driver.settings:
        if setting.kind == "bool":
            values[setting.name] = not setting.default
        else:
            values[setting.name] = (
                setting.maximum if setting.default != setting.maximum else setting.minimum
            )
    return values


def games_with_presets() -> list[GameDriver]:
    drivers = [d for d in registry.games() if d.preset_model is not None]
    assert len(drivers) >= 3, "the quiz, Spyster and Hunch have presets"
    return drivers


class PresetFlowTests(TestCase):
    def sign_up(self, username: str) -> Client:
        """Sign up through the page, as a person does: a signed-in client."""
        client = Client(enforce_csrf_checks=True)
        token = client.get("/accounts/signup/").cookies["csrftoken"].value
        form = {
            "username": username,
            "email": f"{username}@example.com",
            "password1": PASSWORD,
            "password2": PASSWORD,
            "csrfmiddlewaretoken": token,
        }
        self.assertEqual(client.post("/accounts/signup/", form).status_code, 302)
        return client

    def test_sign_up_save_a_preset_create_a_game_with_its_settings(self):
        member = Member(client=self.sign_up("ana"))
        settings = {"rounds": 2, "lie_time_limit": 25, "guess_time_limit": 15, "auto_advance": True}
        status, body = member.call(
            "POST", "/api/presets/", {"game": "weirsoe", "name": "Friday", "settings": settings}
        )
        self.assertEqual(status, 201, body)
        preset_id = body["id"]
        self.assertEqual((body["game"], body["name"]), ("weirsoe", "Friday"))
        self.assertEqual(body["settings"], {**settings, "packs": [], "categories": []})
        status, created = member.call("POST", "/api/sessions/", {"preset": preset_id})
        self.assertEqual(status, 201, created)
        self.assertEqual(created["game"], "weirsoe")
        session = GameSession.objects.get(code=created["code"])
        self.assertEqual(session.settings, body["settings"])
        self.assertTrue(session.auto_advance)
        state = Api().state(created["code"])[1]
        self.assertEqual((state["settings"], state["rounds"]), (body["settings"], 2))
        # Settings in the same call override the preset's.
        status, created = member.call(
            "POST", "/api/sessions/", {"preset": preset_id, "rounds": 5, "auto_advance": False}
        )
        self.assertEqual(status, 201, created)
        self.assertEqual(
            created["settings"], {**body["settings"], "rounds": 5, "auto_advance": False}
        )
        # ... and are checked as always.
        status, error = member.call("POST", "/api/sessions/", {"preset": preset_id, "rounds": 99})
        self.assertEqual((status, error["error"]["code"]), (400, "OUT_OF_RANGE"))
        status, error = member.call(
            "POST", "/api/sessions/", {"preset": preset_id, "game": "spyster"}
        )
        self.assertEqual((status, error["error"]["code"]), (400, "PRESET_GAME_MISMATCH"))

    def test_every_game_with_presets_round_trips_every_setting(self):
        member = Member("bo")
        for driver in games_with_presets():
            with self.subTest(game=driver.name):
                values = odd_values(driver)
                status, body = member.call(
                    "POST",
                    "/api/presets/",
                    {"game": driver.name, "name": "Mine", "settings": values},
                )
                self.assertEqual(status, 201, body)
                defaults = {o.name: o.default for o in driver.options}
                self.assertEqual(body["settings"], {**values, **defaults})
                row = driver.preset_model.objects.get(preset_id=body["id"])
                for name, value in values.items():
                    self.assertEqual(getattr(row, name), value, name)  # a column each
                status, created = member.call("POST", "/api/sessions/", {"preset": body["id"]})
                self.assertEqual((status, created["game"]), (201, driver.name), created)
                self.assertEqual(created["settings"], body["settings"])
                # PATCH one setting: the others stay.
                first = driver.settings[0]
                status, patched = member.call(
                    "PATCH",
                    f"/api/presets/{body['id']}/",
                    {"settings": {first.name: first.default}, "name": "Renamed"},
                )
                self.assertEqual(status, 200, patched)
                self.assertEqual(patched["name"], "Renamed")
                self.assertEqual(
                    patched["settings"], {**body["settings"], first.name: first.default}
                )
                # A preset saves only what a create accepts.
                bad = {first.name: first.maximum + 1}
                status, error = member.call(
                    "PATCH", f"/api/presets/{body['id']}/", {"settings": bad}
                )
                self.assertEqual((status, error["error"]["code"]), (400, "OUT_OF_RANGE"))
                status, error = member.call(
                    "POST",
                    "/api/presets/",
                    {"game": driver.name, "name": "X", "settings": {"colour": 1}},
                )
                self.assertEqual((status, error["error"]["code"]), (400, "INVALID_FIELD"))
        status, listing = member.call("GET", "/api/presets/")
        self.assertEqual(len(listing["presets"]), len(games_with_presets()))
        status, listing = member.call("GET", "/api/presets/?game=spyster")
        self.assertEqual([p["game"] for p in listing["presets"]], ["spyster"])

    def test_names_games_and_bodies_are_checked(self):
        member = Member("cy")
        member.preset("weirsoe", "Friday")
        cases = [
            ({"game": "weirsoe", "name": "  friday  "}, 201, None),  # names are case-sensitive
            ({"game": "weirsoe", "name": "Friday"}, 409, "PRESET_NAME_TAKEN"),
            ({"game": "spyster", "name": "Friday"}, 201, None),  # per game
            ({"game": "chess", "name": "A"}, 400, "UNKNOWN_GAME"),
            ({"name": "A"}, 400, "INVALID_FIELD"),
            ({"game": "weirsoe", "name": ""}, 400, "INVALID_NAME"),
            ({"game": "weirsoe", "name": "x" * 61}, 400, "INVALID_NAME"),
            ({"game": "weirsoe", "name": 7}, 400, "INVALID_NAME"),
            ({"game": "weirsoe", "name": "B", "settings": []}, 400, "INVALID_FIELD"),
            ({"game": "weirsoe", "name": "B", "owner": 1}, 400, "INVALID_FIELD"),
        ]
        for body, status, code in cases:
            with self.subTest(body=body):
                got, answer = member.call("POST", "/api/presets/", body)
                self.assertEqual(got, status, answer)
                if code:
                    self.assertEqual(answer["error"]["code"], code)
        status, answer = member.call("POST", "/api/presets/", raw="{not json")
        self.assertEqual((status, answer["error"]["code"]), (400, "INVALID_JSON"))
        status, answer = member.call("PUT", "/api/presets/")
        self.assertEqual((status, answer["error"]["code"]), (405, "METHOD_NOT_ALLOWED"))
        with self.settings(PARTYHUB_PRESETS_PER_USER=3):
            status, answer = member.call("POST", "/api/presets/", {"game": "hunch", "name": "H"})
            self.assertEqual((status, answer["error"]["code"]), (409, "TOO_MANY_PRESETS"))

    def test_guests_host_as_before_and_have_no_presets(self):
        api = Api()
        status, body = api.call("POST", "/api/sessions/", {"rounds": 2})
        self.assertEqual(status, 201, body)
        status, body = api.call("GET", "/api/presets/")
        self.assertEqual((status, body["error"]["code"]), (401, "SIGN_IN_REQUIRED"))
        status, body = api.call("POST", "/api/presets/", {"game": "weirsoe", "name": "A"})
        self.assertEqual((status, body["error"]["code"]), (401, "SIGN_IN_REQUIRED"))


class OwnerTests(TestCase):
    """A preset is its owner's: for anyone else it does not exist (404), in
    the API, in create and in the pages."""

    def setUp(self):
        self.ana = Member("ana")
        self.bo = Member("bo")
        self.preset = self.ana.preset("weirsoe", "Ana's", rounds=4)
        self.path = f"/api/presets/{self.preset}/"

    def assert_untouched(self):
        preset = Preset.objects.get(id=self.preset)
        self.assertEqual(preset.name, "Ana's")
        status, body = self.ana.call("GET", self.path)
        self.assertEqual((status, body["settings"]["rounds"]), (200, 4))

    def test_the_api_answers_404_to_anyone_else(self):
        for who, client in (("bo", self.bo), ("guest", Api(Client()))):
            with self.subTest(who=who):
                for method, body in (("GET", None), ("PATCH", {"name": "Mine"}), ("DELETE", None)):
                    status, answer = client.call(method, self.path, body)
                    self.assertEqual(status, 404, (method, answer))
                    self.assertEqual(answer["error"]["code"], "PRESET_NOT_FOUND")
                status, answer = client.call("POST", "/api/sessions/", {"preset": self.preset})
                self.assertEqual((status, answer["error"]["code"]), (404, "PRESET_NOT_FOUND"))
        status, listing = self.bo.call("GET", "/api/presets/")
        self.assertEqual(listing["presets"], [])
        # A missing preset and another's answer alike; so do ids that are no ids.
        for preset_id in (self.preset + 1000, "x", "-1", "0", "99999999999999999999999"):
            status, answer = self.bo.call("POST", "/api/sessions/", {"preset": preset_id})
            self.assertEqual((status, answer["error"]["code"]), (404, "PRESET_NOT_FOUND"))
        for preset_id in (True, None, [self.preset], {"id": self.preset}, 1.0):
            status, answer = self.ana.call("POST", "/api/sessions/", {"preset": preset_id})
            self.assertEqual(status, 404, preset_id)
        self.assert_untouched()

    def test_the_pages_answer_404_to_anyone_else(self):
        for path, data in (
            (f"/presets/{self.preset}/", None),
            (f"/presets/{self.preset}/", {"name": "Mine", "rounds": 3}),
            (f"/presets/{self.preset}/delete/", {}),
        ):
            with self.subTest(path=path, post=data is not None):
                self.assertEqual(self.bo.page(path, data).status_code, 404)
        listing = self.bo.page("/presets/").content.decode()
        self.assertNotIn("Ana&#x27;s", listing)
        home = self.bo.page("/").content.decode()
        self.assertNotIn("Ana's", home)
        # A guest is sent to sign in first.
        response = Client().get(f"/presets/{self.preset}/")
        self.assertEqual(response.status_code, 302)
        self.assertIn("/accounts/login/", response["Location"])
        self.assert_untouched()

    def test_csrf_is_checked_for_a_signed_in_caller(self):
        client = self.ana.client
        bodies = {"PATCH": json.dumps({"name": "Forged"}), "DELETE": ""}
        for method, body in bodies.items():
            response = getattr(client, method.lower())(
                self.path, body, content_type="application/json"
            )
            self.assertEqual(response.status_code, 403, method)
            self.assertEqual(response.json()["error"]["code"], "CSRF_FAILED")
        # A forged create from another site: the session cookie is not enough.
        response = client.post(
            "/api/sessions/",
            json.dumps({"preset": self.preset}),
            content_type="application/json",
            HTTP_ORIGIN="https://evil.example",
            HTTP_X_CSRFTOKEN=self.ana.csrf,
        )
        self.assertEqual(response.status_code, 403)
        self.assertEqual(GameSession.objects.count(), 0)
        self.assert_untouched()

    def test_deleting_a_preset_and_the_account(self):
        status, _ = self.ana.call("DELETE", self.path)
        self.assertEqual(status, 204)
        self.assertEqual(self.ana.call("GET", self.path)[0], 404)
        self.ana.preset("spyster", "Again")
        self.ana.user.delete()
        self.assertFalse(Preset.objects.exists())


class PrivacyTests(TestCase):
    """Sockets and snapshots carry the settings a game uses, and nothing of
    the preset, its packs or its owner."""

    def test_nothing_of_the_preset_pack_or_user_in_events_or_snapshots(self):
        member = Member("secret-sam")
        member.user.email = "sam.private@example.com"
        member.user.save()
        questions = "prompt,answer,category\n" + "".join(
            f"Hidden question {i}?,answer {i},riddles\n" for i in range(4)
        )
        pack = member.pack("weirsoe", "private.csv", questions, name="Sam's Private Pack")
        preset = member.preset("weirsoe", "Sam's Secret Friday", rounds=2, packs=[pack])
        with Recorder() as seen:
            status, created = member.call("POST", "/api/sessions/", {"preset": preset})
            self.assertEqual(status, 201, created)
            code, host = created["code"], created["host_token"]
            api = Api()
            tokens = [api.join(code, name)[1] for name in ("Ana", "Bo")]
            self.assertEqual(api.host(code, "start-round", host)[0], 200)
            self.assertEqual(api.host(code, "show-question", host)[0], 200)
            for i, token in enumerate(tokens):
                self.assertEqual(api.lie(code, token, f"lie {i}")[0], 201)
        self.assertGreater(len(seen.public), 3)
        sent = [json.dumps([payload, state]) for _, payload, state in seen.public]
        sent += [json.dumps([payload, state]) for _, _, payload, state in seen.private]
        client = snapshot.client_for(code)
        for key in client.keys(f"*{code}*"):
            if client.type(key) == b"string":
                sent.append(client.get(key).decode(errors="replace"))
        sent.append(json.dumps(Api().state(code, host)[1]))
        forbidden = (
            "Secret Friday",
            "Private Pack",
            "secret-sam",
            "sam.private",
            str(member.user.id),
        )
        for text in sent:
            for word in forbidden[:4]:
                self.assertNotIn(word, text)
            self.assertNotIn('"preset', text)
            self.assertNotIn('"owner', text)
        # What the game uses is there: its settings, the pack's question.
        state = json.loads(sent[-1])
        self.assertEqual(state["settings"]["packs"], [pack])
        self.assertIn("Hidden question", state["question"]["prompt"])


class PresetPageTests(TestCase):
    """My presets: the forms come from each game's tables and save through
    the same checks as the API."""

    def setUp(self):
        self.ana = Member("ana")

    def test_making_changing_and_deleting_a_preset_on_the_pages(self):
        deck = self.ana.pack("spyster", "d.csv", "name,roles\nAttic,Ghost\nCellar,Cat\n", "Home")
        form = self.ana.page("/presets/new/spyster/")
        self.assertContains(form, 'name="round_minutes"')
        self.assertContains(form, "Home")  # the deck offered
        self.assertEqual(self.ana.page("/presets/new/chess/").status_code, 404)
        data = {
            "name": "Short rounds",
            "rounds": "3",
            "round_minutes": "2",
            "vote_seconds": "20",
            "final_vote_seconds": "30",
            "deck": str(deck),
        }
        response = self.ana.page("/presets/new/spyster/", data)
        preset = Preset.objects.get(name="Short rounds")
        self.assertEqual(response["Location"], f"/presets/#preset-{preset.id}")
        status, body = self.ana.call("GET", f"/api/presets/{preset.id}/")
        self.assertEqual(
            body["settings"],
            {
                "rounds": 3,
                "round_minutes": 2,
                "vote_seconds": 20,
                "final_vote_seconds": 30,
                "deck": deck,
            },
        )
        listing = self.ana.page("/presets/")
        self.assertContains(listing, "Short rounds")
        self.assertContains(listing, f"/?game=spyster&amp;preset={preset.id}")
        # Out of range, a taken name, someone else's deck: the form again, 400.
        bo = Member("bo")
        bos_deck = bo.pack("spyster", "b.csv", "name,roles\nA,x\nB,y\n")
        for change in ({"round_minutes": "99"}, {"name": ""}, {"deck": str(bos_deck)}):
            with self.subTest(change=change):
                response = self.ana.page(f"/presets/{preset.id}/", {**data, **change})
                self.assertEqual(response.status_code, 400)
                self.assertContains(response, "field-error", status_code=400)
        self.ana.page("/presets/new/spyster/", {**data, "name": "Other"})
        response = self.ana.page(f"/presets/{preset.id}/", {**data, "name": "Other"})
        self.assertContains(response, "already have a preset", status_code=400)
        # A refused name on the form, in the language the switcher chose.
        self.ana.client.cookies["django_language"] = "da"
        response = self.ana.page(f"/presets/{preset.id}/", {**data, "name": "Ho\u200bme"})
        refused = "Et forvalgs navn indeholder usynlige tegn eller kontroltegn."
        self.assertContains(response, refused, status_code=400)
        del self.ana.client.cookies["django_language"]
        # A change that holds.
        response = self.ana.page(f"/presets/{preset.id}/", {**data, "rounds": "7", "deck": ""})
        self.assertEqual(response.status_code, 302)
        status, body = self.ana.call("GET", f"/api/presets/{preset.id}/")
        self.assertEqual((body["settings"]["rounds"], body["settings"]["deck"]), (7, None))
        self.assertEqual(self.ana.page(f"/presets/{preset.id}/delete/", {}).status_code, 302)
        self.assertFalse(Preset.objects.filter(id=preset.id).exists())
        self.assertEqual(self.ana.client.get(f"/presets/{preset.id}/delete/").status_code, 405)
