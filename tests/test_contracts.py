"""The published contracts (lobby.contracts, lobby.openapi, lobby.typescript,
realtime.typescript):

- the generated files (the transport's .d.ts, the platform's and games' .d.ts
  and docs/protocol.md's tables) are current; the transport's names no
  declared message and is the same before anything is declared;
- GET /api/asyncapi.json has every message of the transport, the platform
  and every registered game, each with a valid JSON Schema, built from the
  declarations the servers check with; GET /api/openapi.json has every REST
  route and action; /api/docs/ shows it with Swagger UI from a package;
- the servers check with the same table: a payload or a client message that
  breaks it is refused, with the table's words;
- a whole game of Hunch over a real WebSocket: every message a player and
  the host receive matches its schema.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import websockets
from django.conf import settings
from django.contrib.staticfiles import finders
from django.test import SimpleTestCase, TestCase, TransactionTestCase
from django.urls import URLPattern, URLResolver
from jsonschema import Draft202012Validator

from lobby import actions, contracts, registry, typescript
from lobby import urls as api_urls
from lobby.management.commands import contracts as contracts_command
from realtime import protocol, schema
from realtime import typescript as transport_typescript

from .servers import ORIGIN, Daphne, ws_url

GAMES = ("weirsoe", "spyster", "hunch")


def walk_schemas(node, found: list[dict]) -> list[dict]:
    """Every object under `node` that is a schema (a `schema` or `payload` value)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("schema", "payload") and isinstance(value, dict):
                found.append(value)
            walk_schemas(value, found)
    elif isinstance(node, list):
        for value in node:
            walk_schemas(value, found)
    return found


class GeneratedFilesTests(SimpleTestCase):
    def test_the_declarations_and_the_protocol_tables_are_current(self):
        stale = contracts_command.stale()
        self.assertEqual(stale, [], "run `make contracts` and commit the result")

    def test_every_marked_table_is_filled(self):
        text = (Path(settings.BASE_DIR) / contracts_command.PROTOCOL_MD).read_text()
        for name in contracts.docs_tables():
            self.assertIn(contracts.begin_marker(name), text)
        for game in GAMES:
            self.assertIn(f"<!-- BEGIN GENERATED events:{game} ", text)

    def test_the_transport_declarations_name_its_messages_and_no_declared_one(self):
        dts = transport_typescript.declarations()
        for message_type in protocol.transport_messages():
            self.assertIn(f'type: "{message_type}";', dts)
        self.assertIn("export interface PingClientMessage ", dts)
        transport = {*protocol.transport_messages(), protocol.PING}
        declared = {*protocol.declared_events(), *protocol.server_messages()}
        declared |= set(protocol.client_types())
        self.assertGreater(len(declared - transport), 20)
        for message_type in declared - transport:
            self.assertNotIn(f'"{message_type}"', dts)
        for driver in registry.games():
            self.assertNotIn(driver.name, dts.lower())

    def test_the_transport_declarations_need_no_declaration(self):
        # A process that imports the transport alone, no platform or game.
        script = "from realtime import typescript; print(typescript.declarations(), end='')"
        alone = subprocess.run(
            [sys.executable, "-c", script],
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
        self.assertEqual(alone, transport_typescript.declarations())

    def test_the_platform_declarations_name_every_declared_message(self):
        dts = typescript.declarations()
        self.assertIn(f'from "{transport_typescript.IMPORT}";', dts)
        for message in protocol.declared_events().values():
            envelope = "PrivateEventMessage" if message.private else "EventMessage"
            self.assertIn(f'transport.{envelope}<"{message.type}", ', dts)
        for message_type in protocol.server_messages():
            if message_type not in protocol.transport_messages():
                self.assertIn(f'type: "{message_type}";', dts)
        for message_type in protocol.client_types():
            if message_type != protocol.PING:
                name = transport_typescript.client_name(message_type)
                self.assertIn(f"export interface {name} ", dts)
        for message_type in transport_typescript.STATE_PARAMS:
            name = transport_typescript.message_name(message_type)
            self.assertIn(f"export type {name} = transport.{name}<", dts)


class AsyncApiTests(TestCase):
    def document(self) -> dict:
        response = self.client.get("/api/asyncapi.json", HTTP_HOST="localhost")
        self.assertEqual(response.status_code, 200)
        return response.json()

    def test_every_declared_message_of_every_game_is_there(self):
        doc = self.document()
        self.assertEqual(doc["asyncapi"], "3.0.0")
        messages = doc["components"]["messages"]
        names = {m["name"] for m in messages.values()}
        for event_type in protocol.declared_events():
            self.assertIn(event_type, names)
        for client_type in protocol.client_types():
            self.assertIn(f"client.{client_type}", messages)
        owners = {tag["name"] for m in messages.values() for tag in m["tags"]}
        self.assertLessEqual({*GAMES, "partyhub", "transport"}, owners)
        for driver in registry.games():
            for action in driver.actions:
                if action.message:
                    payload = messages[f"client.{action.message}"]["payload"]
                    for field in action.fields:
                        self.assertIn(field.name, payload["properties"])
        sent = doc["operations"]["sendToClient"]["messages"]
        self.assertEqual(len(sent), len(contracts.server_messages()))

    def test_every_schema_is_valid_json_schema(self):
        schemas = walk_schemas(self.document(), [])
        self.assertGreater(len(schemas), 30)
        for each in schemas:
            Draft202012Validator.check_schema(each)

    def test_the_schemas_are_the_ones_the_server_checks_with(self):
        spec = protocol.event_spec("hunch.round_started")
        message = self.document()["components"]["messages"]["server.hunch.round_started"]
        self.assertEqual(message["payload"]["properties"]["payload"], spec.payload_schema())


class OpenApiTests(TestCase):
    def document(self) -> dict:
        response = self.client.get("/api/openapi.json", HTTP_HOST="localhost")
        self.assertEqual(response.status_code, 200)
        return response.json()

    def test_every_route_and_action_is_documented(self):
        doc = self.document()
        self.assertEqual(doc["openapi"], "3.1.0")
        paths = set(doc["paths"])
        for pattern in api_urls.urlpatterns:
            self.assertIsInstance(pattern, URLPattern | URLResolver)
            route = str(pattern.pattern)
            if route.startswith("^") or route in ("docs/", "sessions/<str:code>/<str:action>/"):
                continue  # the JSON 404; the HTML page; every action, one by one below
            self.assertIn("/api/" + route.replace("<str:", "{").replace(">", "}"), paths)
        names = list(actions.PLATFORM_ACTIONS) + [
            a.name for d in registry.games() for a in d.actions
        ]
        for name in names:
            self.assertIn(f"/api/sessions/{{code}}/{name}/", paths)
        for path in ("/api/presets/", "/api/packs/", "/api/packs/{game}/{pack_id}/"):
            self.assertIn(path, paths)

    def test_the_create_body_is_every_games_settings_table(self):
        variants = self.document()["paths"]["/api/sessions/"]["post"]["requestBody"]
        variants = variants["content"]["application/json"]["schema"]["anyOf"]
        self.assertEqual([v["title"] for v in variants], [d.name for d in registry.games()])
        for variant, driver in zip(variants, registry.games(), strict=True):
            for setting in driver.settings:
                self.assertEqual(variant["properties"][setting.name], setting.schema())

    def test_every_schema_is_valid_json_schema(self):
        for each in walk_schemas(self.document(), []):
            Draft202012Validator.check_schema(each)

    def test_the_docs_page_serves_swagger_ui_from_a_package(self):
        response = self.client.get("/api/docs/", HTTP_HOST="localhost")
        self.assertEqual(response.status_code, 200)
        page = response.content.decode()
        self.assertIn("swagger-ui-bundle.js", page)
        self.assertNotIn("//cdn", page)
        self.assertIn('data-url="/api/openapi.json"', page)
        for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
            self.assertIsNotNone(finders.find(f"drf_spectacular_sidecar/swagger-ui-dist/{asset}"))

    def test_a_wrong_method_gets_405_with_allow(self):
        for path, allowed in (
            ("/api/openapi.json", "GET"),
            ("/api/games/", "GET"),
            ("/api/sessions/", "POST"),
            ("/api/presets/", "GET, POST"),
        ):
            response = self.client.put(path, HTTP_HOST="localhost")
            self.assertEqual((response.status_code, response["Allow"]), (405, allowed))
            self.assertEqual(response.json()["error"]["code"], "METHOD_NOT_ALLOWED")


class ValidationTests(TestCase):
    """The servers check with the table the contracts are made of."""

    def test_a_payload_breaking_its_schema_is_refused_in_strict_mode(self):
        good = {"round": 1, "player_id": 3, "guessed": [3]}
        protocol.check_event("hunch.guessed", good, "hunch")
        with self.assertRaisesRegex(ValueError, "guessed"):
            protocol.check_event("hunch.guessed", {**good, "guessed": ["3"]}, "hunch")
        with self.assertRaisesRegex(ValueError, "lacks player_id"):
            protocol.check_event("hunch.guessed", {"round": 1, "guessed": []}, "hunch")

    def test_states_are_checked_against_their_games_schemas(self):
        created = self.client.post(
            "/api/sessions/", {"game": "hunch"}, "application/json", HTTP_HOST="localhost"
        ).json()
        state = self.client.get(f"/api/sessions/{created['code']}/").json()
        public = {k: v for k, v in state.items() if k != "server_time"}
        protocol.check_state("hunch", public)
        with self.assertRaisesRegex(ValueError, "session.state of hunch breaks its schema"):
            protocol.check_state("hunch", {**public, "guessed": "everyone"})
        with self.assertRaisesRegex(ValueError, "game"):
            protocol.check_state("hunch", {**public, "game": "spyster"})
        protocol.check_state("hunch", {"secret": 7, "guess": None}, private=True)
        with self.assertRaisesRegex(ValueError, "player.state of hunch"):
            protocol.check_state("hunch", {"secret": "7", "guess": None}, private=True)

    def test_client_messages_are_checked_against_their_fields(self):
        for text, message in (
            ('{"type": "reaction", "emoji": "x"}', "'emoji' must be one of 😂 👏"),
            (
                '{"type": "reaction", "emoji": "🔥", "target_player_id": "7"}',
                "'target_player_id' must be a player id (a whole number).",
            ),
            ('{"type": "hunch.guess", "total": 3, "ref": [1]}', "'ref' must be a string"),
        ):
            parsed, problem = protocol.parse_client_message(text)
            self.assertIsNone(parsed)
            self.assertEqual(problem["code"], protocol.INVALID_MESSAGE)
            self.assertTrue(problem["message"].startswith(message), problem["message"])
        parsed, problem = protocol.parse_client_message('{"type": "hunch.guess", "total": 3}')
        self.assertIsNone(problem)

    def test_an_action_body_is_checked_against_the_actions_fields(self):
        created = self.client.post(
            "/api/sessions/", {"game": "hunch"}, "application/json", HTTP_HOST="localhost"
        ).json()
        code = created["code"]
        joined = []
        for name in ("Ana", "Bo"):
            joined.append(
                self.client.post(
                    f"/api/sessions/{code}/join/", {"name": name}, "application/json"
                ).json()
            )
        host = {"HTTP_AUTHORIZATION": f"Bearer {created['host_token']}"}
        self.client.post(f"/api/sessions/{code}/start-round/", {}, "application/json", **host)
        ana = {"HTTP_AUTHORIZATION": f"Bearer {joined[0]['session_token']}"}
        field = next(a for a in registry.game("hunch").actions if a.name == "guess").fields[0]
        for bad in ({}, {"total": "3"}, {"total": -1}, {"total": 2.0}, {"total": True}):
            response = self.client.post(
                f"/api/sessions/{code}/guess/", bad, "application/json", **ana
            )
            self.assertEqual(response.status_code, 400, bad)
            self.assertEqual(
                response.json()["error"], {"code": "INVALID_FIELD", "message": field.must_be()}
            )
        self.assertEqual(field.must_be(), "'total' must be a whole number, 0 or more.")
        ok = self.client.post(
            f"/api/sessions/{code}/guess/", {"total": 4}, "application/json", **ana
        )
        self.assertEqual(ok.status_code, 201)

    def test_words_of_the_vocabulary(self):
        self.assertEqual(schema.words(schema.boolean()), "true or false")
        self.assertEqual(schema.words(schema.enum("a", "b")), "one of a b")
        self.assertEqual(schema.words(schema.integer(0)), "a whole number, 0 or more")


class LiveMessagesTests(TransactionTestCase):
    """Every message of a whole Hunch game, host and player, over Daphne,
    against its published schema."""

    serialized_rollback = True

    def test_every_message_of_a_game_matches_its_schema(self):
        daphne = Daphne()
        self.addCleanup(daphne.close)
        asyncio.run(self.play(daphne.port))

    async def play(self, port: int) -> None:
        def call(method, path, body=None, token=None):
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}{path}",
                data=None if body is None else json.dumps(body).encode(),
                method=method,
                headers={"Content-Type": "application/json", "Host": "localhost"}
                | ({"Authorization": f"Bearer {token}"} if token else {}),
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read() or b"null")

        created = await asyncio.to_thread(call, "POST", "/api/sessions/", {"game": "hunch"})
        code, host_token = created["code"], created["host_token"]
        players = [
            await asyncio.to_thread(call, "POST", f"/api/sessions/{code}/join/", {"name": n})
            for n in ("Ana", "Bo")
        ]
        by_type = {m.type: m.schema() for m in contracts.server_messages()}
        received: list[dict] = []
        async with (
            websockets.connect(
                ws_url(port, code, f"role=host&session_token={host_token}"), origin=ORIGIN
            ) as host,
            websockets.connect(
                ws_url(port, code, f"session_token={players[0]['session_token']}"), origin=ORIGIN
            ) as ana,
        ):
            await asyncio.to_thread(
                call, "POST", f"/api/sessions/{code}/start-round/", {}, host_token
            )
            await ana.send(json.dumps({"type": "hunch.guess", "total": 5, "ref": "a"}))
            await ana.send(json.dumps({"type": "reaction", "emoji": "🔥"}))
            await ana.send(json.dumps({"type": "ping", "ts": 1}))
            await ana.send(json.dumps({"type": "nonsense"}))
            await asyncio.to_thread(
                call,
                "POST",
                f"/api/sessions/{code}/guess/",
                {"total": 7},
                players[1]["session_token"],
            )
            await asyncio.to_thread(call, "POST", f"/api/sessions/{code}/finish/", {}, host_token)
            for socket in (host, ana):
                while True:
                    try:
                        text = await asyncio.wait_for(socket.recv(), 3)
                    except TimeoutError:
                        break
                    received.append(json.loads(text))
        types = {m["type"] for m in received}
        for expected in (
            "welcome",
            "session.state",
            "hunch.round_started",
            "hunch.secret",
            "hunch.guessed",
            "hunch.round_over",
            "phase.scoreboard",
            "phase.game_over",
            "result",
            "reaction",
            "pong",
            "error",
        ):
            self.assertIn(expected, types)
        for message in received:
            problems = schema.errors(by_type[message["type"]], message)
            self.assertEqual(problems, [], message)
