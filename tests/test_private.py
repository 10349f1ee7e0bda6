"""Private information and socket actions, on both servers, with the example game (Hunch).

- A private event reaches every socket of its player and nobody else; the
  others see no `seq` gap (private messages carry `pseq`, per player).
- A player who reconnects gets their `player.state` right after
  `session.state`, from the Redis snapshot (the sidecar makes no Python
  call); no other player, the host, nor an anonymous or other player's GET
  ever sees it.
- A game action sent as a client message runs as its REST twin and answers
  its sender alone with a `result` or an `error` carrying the sender's `ref`.
- A player who leaves has their sockets closed with 4001.
"""

from __future__ import annotations

import json

from asgiref.sync import sync_to_async
from django.test import TransactionTestCase

from lobby.models import Player
from realtime import protocol

from . import servers
from .helpers import Api, ServerPerClass

HOST = "role=host&session_token={}"
PLAYER = "session_token={}"


class PrivateCases(ServerPerClass):
    """Subclasses set `server_class`; a Hunch session with Ana, Bo and Cy."""

    def setUp(self):
        self.api = Api()
        self.code, self.host = self.api.create(game="hunch", rounds=2)
        self.ids, self.tokens = {}, {}
        for name in ("Ana", "Bo", "Cy"):
            self.ids[name], self.tokens[name] = self.api.join(self.code, name)

    async def join(self, query: str):
        return await servers.join(self.server.port, self.code, query)

    async def messages(self, ws, timeout: float = 0.7) -> list[dict]:
        """Every message that arrives before `timeout` s of silence."""
        got = []
        while True:
            try:
                got.append(await servers.recv_json(ws, timeout))
            except TimeoutError:
                return got

    async def until(self, ws, message_type: str, timeout: float = 20) -> list[dict]:
        """Messages up to and including the first of `message_type`."""
        got = [await servers.recv_json(ws, timeout)]
        while got[-1]["type"] != message_type:
            got.append(await servers.recv_json(ws, timeout))
        return got

    async def call(self, func, *args):
        return await sync_to_async(func)(*args)

    def secret_of(self, name: str) -> int:
        return Player.objects.get(id=self.ids[name]).data["secret"]

    async def start_round(self) -> None:
        status, body = await self.call(self.api.host, self.code, "start-round", self.host)
        self.assertEqual(status, 200, body)

    # -- private events ---------------------------------------------------------

    async def test_a_secret_reaches_every_socket_of_its_player_and_nobody_else(self):
        sockets = {
            "host": await self.join(HOST.format(self.host)),
            "Ana": await self.join(PLAYER.format(self.tokens["Ana"])),
            "Ana again": await self.join(PLAYER.format(self.tokens["Ana"])),
            "Bo": await self.join(PLAYER.format(self.tokens["Bo"])),
        }
        seq0 = sockets["host"][2]["seq"]
        await self.start_round()
        got = {who: await self.messages(ws) for who, (ws, _, _) in sockets.items()}
        secrets = {name: await self.call(self.secret_of, name) for name in ("Ana", "Bo")}
        for who, messages in got.items():
            public = [m for m in messages if "seq" in m]
            self.assertEqual(
                [(m["type"], m["seq"]) for m in public], [("hunch.round_started", seq0 + 1)], who
            )
            private = [m for m in messages if "pseq" in m]
            name = who.split()[0]
            if name == "host":
                self.assertEqual(private, [])
                continue
            self.assertEqual(len(private), 1, who)
            self.assertEqual(private[0]["type"], "hunch.secret")
            self.assertEqual(private[0]["payload"], {"round": 1, "secret": secrets[name]})
            self.assertNotIn("seq", private[0])
        self.assertEqual(got["Ana"], got["Ana again"])
        # Bo's guess: everyone sees it counted (seq + 1, no gap), Bo's own
        # private state follows to Bo's sockets only.
        status, body = await self.call(
            self.api.call,
            "POST",
            f"/api/sessions/{self.code}/guess/",
            {"total": 9},
            self.tokens["Bo"],
        )
        self.assertEqual(status, 201, body)
        got = {who: await self.messages(ws) for who, (ws, _, _) in sockets.items()}
        for who, messages in got.items():
            public = [(m["type"], m["seq"]) for m in messages if "seq" in m]
            self.assertEqual(public, [("hunch.guessed", seq0 + 2)], who)
            private = [m for m in messages if "pseq" in m]
            if who == "Bo":
                self.assertEqual(
                    [(m["type"], m["payload"]) for m in private],
                    [("player.state", {"secret": secrets["Bo"], "guess": 9})],
                )
            else:
                self.assertEqual(private, [], who)
        for ws, _, _ in sockets.values():
            await ws.close()

    async def test_a_reconnect_gets_its_private_state_back_and_no_one_else_sees_it(self):
        await self.start_round()
        secrets = {name: await self.call(self.secret_of, name) for name in ("Ana", "Bo", "Cy")}
        for name in ("Ana", "Bo"):
            ws, _, state = await self.join(PLAYER.format(self.tokens[name]))
            private = await servers.recv_json(ws)
            self.assertEqual(private["type"], protocol.PLAYER_STATE)
            self.assertEqual(private["payload"], {"secret": secrets[name], "guess": None})
            self.assertGreaterEqual(private["pseq"], 1)
            self.assertNotIn("secret", json.dumps(state))
            self.assertEqual(await self.messages(ws, 0.5), [])
            await ws.close()
        host, _, state = await self.join(HOST.format(self.host))
        self.assertEqual(await self.messages(host, 0.5), [])  # nothing private for the host
        self.assertNotIn("secret", json.dumps(state))
        await host.close()
        _, anonymous = await self.call(self.api.state, self.code)
        self.assertNotIn("secret", json.dumps(anonymous))
        _, as_bo = await self.call(self.api.state, self.code, self.tokens["Bo"])
        self.assertEqual(as_bo["you"]["secret"], secrets["Bo"])
        text = json.dumps({k: v for k, v in as_bo.items() if k != "you"})
        self.assertNotIn("secret", text)

    # -- actions over the socket -------------------------------------------------

    async def test_a_socket_action_answers_its_sender_with_its_ref(self):
        worker = (
            await self.call(servers.Worker) if self.server_class is not servers.Daphne else None
        )
        try:
            await self.start_round()
            ana, _, _ = await self.join(PLAYER.format(self.tokens["Ana"]))
            bo, _, _ = await self.join(PLAYER.format(self.tokens["Bo"]))
            host, _, _ = await self.join(HOST.format(self.host))
            for ws in (ana, bo, host):
                await self.messages(ws, 0.3)
            await ana.send(json.dumps({"type": "hunch.guess", "total": 11, "ref": "r1"}))
            # The worker (sidecar) answers; the event may come before or after.
            got = await self.until(ana, protocol.RESULT)
            got += await self.messages(ana)
            result = next(m for m in got if m["type"] == protocol.RESULT)
            self.assertEqual(
                (result["action"], result["ref"], result["body"]["total"]),
                ("hunch.guess", "r1", 11),
            )
            self.assertIn("hunch.guessed", [m["type"] for m in got])
            self.assertEqual([m["type"] for m in await self.messages(bo)], ["hunch.guessed"])
            self.assertEqual([m["type"] for m in await self.messages(host)], ["hunch.guessed"])
            await ana.send(json.dumps({"type": "hunch.guess", "total": 3, "ref": 2}))
            error = await servers.recv_json(ana, 10)
            self.assertEqual(
                (error["type"], error["code"], error["ref"]), ("error", "ALREADY_GUESSED", 2)
            )
            await host.send(json.dumps({"type": "hunch.guess", "total": 3}))
            error = await servers.recv_json(host, 10)
            self.assertEqual((error["type"], error["code"]), ("error", "WRONG_ROLE"))
            await bo.send(json.dumps({"type": "hunch.guess", "total": "lots"}))
            error = await servers.recv_json(bo, 10)
            self.assertEqual((error["type"], error["code"]), ("error", "INVALID_FIELD"))
            for ws in (ana, bo, host):
                await ws.close()
        finally:
            if worker is not None:
                await self.call(worker.close)

    # -- leaving -------------------------------------------------------------------

    async def test_a_player_who_leaves_is_closed_with_4001_and_cannot_come_back(self):
        await self.start_round()
        ana, _, _ = await self.join(PLAYER.format(self.tokens["Ana"]))
        bo, _, _ = await self.join(PLAYER.format(self.tokens["Bo"]))
        await self.messages(ana, 0.3)
        await self.messages(bo, 0.3)
        status, body = await self.call(
            self.api.call, "POST", f"/api/sessions/{self.code}/leave/", {}, self.tokens["Ana"]
        )
        self.assertEqual((status, body["left"]), (200, True))
        left = await servers.recv_json(bo)
        self.assertEqual(
            (left["type"], left["payload"]["player_id"]), ("player.left", self.ids["Ana"])
        )
        self.assertEqual(len(left["payload"]["players"]), 2)
        self.assertEqual(await servers.close_code(ana), protocol.CLOSE_LEFT)
        again = await servers.connect(
            self.server.port, self.code, PLAYER.format(self.tokens["Ana"])
        )
        self.assertEqual(await servers.close_code(again), protocol.CLOSE_FORBIDDEN)
        await bo.close()


class DaphnePrivateTests(PrivateCases, TransactionTestCase):
    server_class = servers.Daphne


class SidecarPrivateTests(PrivateCases, TransactionTestCase):
    server_class = staticmethod(servers.Sidecar)
