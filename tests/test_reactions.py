"""Reactions over the WebSocket: validation, rate limit, counting, broadcast without seq."""

from __future__ import annotations

import json

from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import TransactionTestCase, override_settings

from lobby import timers
from lobby.models import Player
from partyhub.asgi import application
from weirsoe.models import Round

from .helpers import Api, answer_id, truth_of


@override_settings(PARTYHUB_REACTION_LIMIT=3, PARTYHUB_REACTION_WINDOW=60)
class ReactionTests(TransactionTestCase):
    serialized_rollback = True

    def setUp(self):
        self.api = Api()
        self.code, self.host = self.api.create()
        self.ids, self.tokens = {}, {}
        for name in ("Ana", "Bo", "Cy"):
            self.ids[name], self.tokens[name] = self.api.join(self.code, name)

    async def connect(self, query: str) -> WebsocketCommunicator:
        ws = WebsocketCommunicator(
            application,
            f"/ws/game/{self.code}/?{query}",
            headers=[(b"origin", b"http://localhost")],
        )
        self.assertTrue((await ws.connect(timeout=5))[0])
        await ws.receive_from(timeout=5)  # welcome
        await ws.receive_from(timeout=5)  # state
        return ws

    async def player(self, name: str) -> WebsocketCommunicator:
        return await self.connect(f"session_token={self.tokens[name]}")

    async def react(self, ws, emoji="😂", **fields) -> dict:
        await ws.send_to(text_data=json.dumps({"type": "reaction", "emoji": emoji, **fields}))
        return json.loads(await ws.receive_from(timeout=5))

    def received(self) -> dict:
        return dict(Player.objects.values_list("name", "reactions_received"))

    async def host_actions(self, *actions):
        for action in actions:
            status, body = await sync_to_async(self.api.host)(self.code, action, self.host)
            self.assertEqual(status, 200, body)

    async def test_everyone_sees_a_reaction_without_seq(self):
        ana, host = (
            await self.player("Ana"),
            await self.connect(f"role=host&session_token={self.host}"),
        )
        message = await self.react(ana, "🔥")
        expected = {"type": "reaction", "player_id": self.ids["Ana"], "emoji": "🔥", "targets": []}
        self.assertEqual(message, expected)
        self.assertEqual(json.loads(await host.receive_from(timeout=5)), expected)
        self.assertEqual(await sync_to_async(self.received)(), {"Ana": 0, "Bo": 0, "Cy": 0})
        for ws in (ana, host):
            await ws.disconnect()

    async def test_bad_reactions_get_errors_and_the_socket_stays_open(self):
        ana = await self.player("Ana")
        messages = []
        for fields, code in (
            ({"emoji": "🍕"}, "INVALID_MESSAGE"),
            ({"emoji": None}, "INVALID_MESSAGE"),
            ({"emoji": "😂", "target_player_id": "Bo"}, "INVALID_MESSAGE"),
            ({"emoji": "😂", "target_player_id": 999999}, "INVALID_MESSAGE"),
        ):
            await ana.send_to(text_data=json.dumps({"type": "reaction", **fields}))
            message = json.loads(await ana.receive_from(timeout=5))
            self.assertEqual((message["type"], message["code"]), ("error", code), fields)
            messages.append(message["message"])
        self.assertIn("'emoji' must be one of 😂 👏", messages[0])
        self.assertIn("no player 999999", messages[3])
        host = await self.connect(f"role=host&session_token={self.host}")
        message = await self.react(host)
        self.assertEqual((message["type"], message["code"]), ("error", "WRONG_ROLE"))
        await ana.send_to(text_data='{"type": "ping", "ts": 1}')
        self.assertEqual(json.loads(await ana.receive_from(timeout=5)), {"type": "pong", "ts": 1})
        for ws in (ana, host):
            await ws.disconnect()

    async def test_rate_limit_per_player(self):
        ana, bo = await self.player("Ana"), await self.player("Bo")
        for _ in range(3):
            self.assertEqual((await self.react(ana))["type"], "reaction")
            await bo.receive_from(timeout=5)
        message = await self.react(ana)
        self.assertEqual((message["type"], message["code"]), ("error", "RATE_LIMITED"))
        self.assertTrue(await bo.receive_nothing(timeout=0.2))  # nobody saw it
        self.assertEqual((await self.react(bo))["player_id"], self.ids["Bo"])  # Bo has his own
        for ws in (ana, bo):
            await ws.disconnect()

    async def test_counted_for_the_target_in_the_guess_phase_never_for_oneself(self):
        await self.host_actions("start-round", "show-question")
        ana = await self.player("Ana")
        message = await self.react(ana, target_player_id=self.ids["Bo"])  # lie phase
        self.assertEqual(message["targets"], [])
        await self.host_actions("mix-answers")
        await ana.receive_from(timeout=5)
        message = await self.react(ana, target_player_id=self.ids["Bo"])
        self.assertEqual(message["targets"], [self.ids["Bo"]])
        message = await self.react(ana, target_player_id=self.ids["Ana"])
        self.assertEqual(message["targets"], [])
        self.assertEqual(await sync_to_async(self.received)(), {"Ana": 0, "Bo": 1, "Cy": 0})
        await ana.disconnect()

    @override_settings(PARTYHUB_REVEAL_STEP=30)
    async def test_during_the_reveal_it_goes_to_the_authors_on_screen(self):
        await sync_to_async(self.play_to_scores)()
        cy = await self.player("Cy")
        message = await self.react(cy)  # before the first step: nobody
        self.assertEqual(message["targets"], [])
        await sync_to_async(self.show_steps)(1)  # Ana and Bo's shared lie is on screen
        message = await self.react(cy)
        self.assertEqual(message["targets"], [self.ids["Ana"], self.ids["Bo"]])
        await sync_to_async(self.show_steps)(2)  # the truth: nobody
        self.assertEqual((await self.react(cy))["targets"], [])
        self.assertEqual(await sync_to_async(self.received)(), {"Ana": 1, "Bo": 1, "Cy": 0})
        await cy.disconnect()

    def play_to_scores(self):
        for action in ("start-round", "show-question"):
            self.api.host(self.code, action, self.host)
        self.api.lie(self.code, self.tokens["Ana"], "Purple rain")
        self.api.lie(self.code, self.tokens["Bo"], "purple rain")
        self.api.host(self.code, "mix-answers", self.host)
        answers = self.api.state(self.code)[1]["answers"]
        self.api.guess(self.code, self.tokens["Cy"], answer_id(answers, "Purple rain"))
        self.api.guess(self.code, self.tokens["Ana"], answer_id(answers, truth_of(self.code, 1)))
        self.api.host(self.code, "calculate-scores", self.host)

    def show_steps(self, count: int):
        """Move the reveal's clock on: the first `count` steps are on screen."""
        game_round = Round.objects.get(session__code=self.code, number=1)
        now = timers.now_ms()
        for index, step in enumerate(game_round.reveal["steps"]):
            step["reveal_at"] = now - 1000 + index if index < count else now + 60_000
        game_round.save(update_fields=["reveal"])
