"""Property-based fuzzing of every REST endpoint (Hypothesis).

Generated requests (methods, paths with codes in any form, actions of every
game, bearer tokens of every kind, signed in or not, bodies of strict and
not-so-strict JSON, odd content types) to /api/: never a 5xx; every answer
is JSON; every error is {"error": {"code", "message"}} with a code the docs
name; and a refused request changes nothing in the database.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from urllib.parse import quote

from django.apps import apps
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.test import Client, TransactionTestCase
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from lobby import registry

from .differential.strategies import json_values, plain_text, string_literals
from .helpers import Api

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = 150
# The apps whose rows a refused request must leave as they were.
STATE_APPS = ("lobby", "weirsoe", "spyster", "hunch", "auth")


def documented_codes() -> set[str]:
    """Every error code the docs name (README's REST section and the docs)."""
    texts = [ROOT / "README.md", ROOT / "spyster" / "README.md", *ROOT.glob("docs/*.md")]
    return {
        code for path in texts for code in re.findall(r"`([A-Z][A-Z0-9_]{2,})`", path.read_text())
    }


def actions() -> list[str]:
    names = list(registry.PLATFORM_ACTIONS)
    for driver in registry.games():
        names += [a.name for a in driver.actions if a.name not in names]
    return names


FIELDS = (
    "name",
    "text",
    "answer_id",
    "total",
    "suspect_id",
    "agree",
    "location",
    "game",
    "rounds",
    "preset",
    "packs",
    "categories",
    "deck",
    "settings",
    "auto_advance",
    "lie_time_limit",
)


@st.composite
def bodies(draw) -> str:
    """A request body: mostly a JSON object with the fields the API reads."""
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(json_values)
    if kind == 1:
        return draw(plain_text)
    members = []
    for _ in range(draw(st.integers(0, 3))):
        key = (
            json.dumps(draw(st.sampled_from(FIELDS)))
            if draw(st.booleans())
            else draw(string_literals)
        )
        members.append(f"{key}:{draw(json_values)}")
    return "{" + ",".join(members) + "}"


requests = st.fixed_dictionaries(
    {
        "method": st.sampled_from(("GET", "POST", "POST", "POST", "PATCH", "DELETE", "PUT")),
        "endpoint": st.sampled_from(
            (
                "games",
                "sessions",
                "session",
                "action",
                "action",
                "action",
                "presets",
                "preset",
                "packs",
                "pack",
                "other",
            )
        ),
        "game": st.sampled_from(("weirsoe", "hunch", "spyster", "lie")),
        "code_form": st.sampled_from(("own", "own", "lower", "unknown", "text")),
        "action": st.sampled_from(actions()) | st.text(max_size=8),
        "token": st.sampled_from(("none", "host", "player", "player", "other", "garbage")),
        "signed_in": st.booleans(),
        "content_type": st.sampled_from(
            (
                "application/json",
                "application/json",
                "text/plain",
                "application/x-www-form-urlencoded",
            )
        ),
        "body": bodies(),
        "text": st.text(max_size=8),
    }
)


# The findings, always among the examples (a join, a lie).
KNOWN = {
    "method": "POST",
    "endpoint": "action",
    "game": "weirsoe",
    "code_form": "own",
    "action": "join",
    "token": "none",
    "signed_in": False,
    "content_type": "application/json",
    "body": "{}",
    "text": "",
}


class RestFuzz(TransactionTestCase):
    serialized_rollback = True  # the questions and locations the migrations load

    def setUp(self):
        self.api = Api()
        self.sessions = {}
        for game in ("weirsoe", "hunch", "spyster", "lie"):
            status, body = self.api.call(
                "POST", "/api/sessions/", {"game": game if game != "lie" else "weirsoe"}
            )
            self.assertEqual(status, 201, body)
            code, host = body["code"], body["host_token"]
            players = [self.api.join(code, name)[1] for name in ("Ana", "Bo", "Cy")]
            if game == "lie":
                self.api.host(code, "start-round", host)
            self.sessions[game] = (code, host, players)
        user = get_user_model().objects.create_user("fuzzer", password="x-very-long-pw")
        self.signed_in = Client()
        self.signed_in.force_login(user)
        self.codes = documented_codes()

    def fingerprint(self) -> str:
        """A digest of every row of STATE_APPS."""
        rows = []
        for label in STATE_APPS:
            for model in apps.get_app_config(label).get_models():
                rows.append((model.__name__, tuple(model.objects.order_by("pk").values_list())))
        return hashlib.sha256(repr(rows).encode()).hexdigest()

    def path(self, r: dict) -> str:
        code, _, _ = self.sessions[r["game"]]
        code = {
            "own": code,
            "lower": code.lower(),
            "unknown": "QXQX",
            "text": quote(r["text"], safe="") or "x",
        }[r["code_form"]]
        action = quote(r["action"], safe="") or "x"
        game = "spyster" if r["game"] == "spyster" else "weirsoe"
        return {
            "games": "/api/games/",
            "sessions": "/api/sessions/",
            "session": f"/api/sessions/{code}/",
            "action": f"/api/sessions/{code}/{action}/",
            "presets": "/api/presets/",
            "preset": f"/api/presets/{quote(r['text'], safe='') or '1'}/",
            "packs": "/api/packs/",
            "pack": f"/api/packs/{game}/{quote(r['text'], safe='') or '1'}/",
            "other": f"/api/{quote(r['text'], safe='')}",
        }[r["endpoint"]]

    def send(self, r: dict, body: bytes | str):
        _, host, players = self.sessions[r["game"]]
        other = self.sessions["hunch" if r["game"] != "hunch" else "weirsoe"][2][0]
        token = {
            "none": None,
            "host": host,
            "player": players[0],
            "other": other,
            "garbage": r["text"] or "x",
        }[r["token"]]
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
        client = self.signed_in if r["signed_in"] else self.api.client
        func = getattr(client, r["method"].lower())
        if r["method"] == "GET":
            return func(self.path(r), **headers)
        return func(self.path(r), data=body, content_type=r["content_type"], **headers)

    def check(self, r: dict, response, before: str) -> None:
        where = f"{r['method']} {self.path(r)} {r['body'][:200]!r}"
        self.assertLess(response.status_code, 500, where)
        if response.status_code == 204:
            self.assertEqual(response.content, b"", where)
            return
        self.assertTrue(response["Content-Type"].startswith("application/json"), where)
        answer = json.loads(response.content)
        if response.status_code >= 400:
            error = answer.get("error")
            self.assertIsInstance(error, dict, where)
            self.assertIsInstance(error.get("message"), str, where)
            self.assertIn(error.get("code"), self.codes, where)
            self.assertEqual(
                self.fingerprint(), before, f"a refused request changed something: {where}"
            )

    def test_every_endpoint(self):
        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(requests)
        @example(dict(KNOWN, body='{"name": "Bob\\ud800"}'))
        @example(dict(KNOWN, game="lie", action="lies", token="player", body='{"text": "\\udfff"}'))
        @example(dict(KNOWN, body='{"name": NaN}'))
        @example(dict(KNOWN, endpoint="sessions", body='{"rounds": 1e999}'))
        @example(dict(KNOWN, body='{"name": "\\u200b"}'))
        def one(r):
            before = self.fingerprint()
            body = r["body"].encode("utf-8", "surrogatepass")
            self.check(r, self.send(r, body), before)

        one()

    def test_bodies_over_the_limit(self):
        """413 BODY_TOO_LARGE (JSON) on every POST endpoint, nothing changed."""
        limit = django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        big = '{"name":"' + "x" * limit + '"}'
        code, host, players = self.sessions["lie"]
        for path, token in (
            ("/api/sessions/", None),
            (f"/api/sessions/{code}/join/", None),
            (f"/api/sessions/{code}/lies/", players[0]),
            (f"/api/sessions/{code}/pause/", host),
            ("/api/presets/", None),
        ):
            with self.subTest(path=path):
                before = self.fingerprint()
                headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
                client = self.signed_in if "presets" in path else self.api.client
                response = client.post(path, data=big, content_type="application/json", **headers)
                self.assertEqual(response.status_code, 413, response.content[:200])
                self.assertEqual(response.json()["error"]["code"], "BODY_TOO_LARGE")
                self.assertEqual(self.fingerprint(), before)
