"""Spyster's secret cards and socket actions on both servers (Daphne serving
GameConsumer, and the C sidecar with the inbound worker).

- each card reaches every socket of its player, and nothing private reaches
  anyone else (other players, the host);
- a reconnect (a reload) gets the card back right after `session.state`;
- the actions run as WebSocket client messages too, answered with `result`
  or `error` to their sender alone.
"""

from __future__ import annotations

import json

from asgiref.sync import sync_to_async
from django.test import TransactionTestCase

from realtime import protocol
from tests import servers
from tests.helpers import ServerPerClass

from .support import NAMES, SpysterSession, secrets_of

HOST = "role=host&session_token={}"
PLAYER = "session_token={}"


class LiveCases(SpysterSession, ServerPerClass):
    """Subclasses set `server_class`; a Spyster session with four players."""

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

    async def call(self, func, *args):
        return await sync_to_async(func)(*args)

    async def start_round(self) -> dict:
        """Start round 1; the secrets as the database holds them."""
        status, body = await self.call(self.api.host, self.code, "start-round", self.host)
        self.assertEqual(status, 200, body)
        return await self.call(secrets_of, self.code)

    def expected_card(self, secrets: dict, player_id: int) -> dict:
        spy = secrets["spy"] == player_id
        return {
            "spy": spy,
            "location": None if spy else secrets["location"],
            "role": None if spy else secrets["roles"][player_id],
        }

    def assert_no_secret(self, text: str, secrets: dict, where: str) -> None:
        for role in secrets["all_roles"]:
            self.assertNotIn(json.dumps(role), text, where)
        self.assertNotIn('"spy":', text, where)

    async def test_each_card_reaches_every_socket_of_its_player_and_nobody_else(self):
        sockets = {"host": await self.join(HOST.format(self.host))}
        for name in NAMES:
            sockets[name] = await self.join(PLAYER.format(self.tokens[name]))
        sockets["Ana again"] = await self.join(PLAYER.format(self.tokens["Ana"]))
        seq0 = sockets["host"][2]["seq"]
        secrets = await self.start_round()
        got = {who: await self.messages(ws) for who, (ws, _, _) in sockets.items()}
        for who, messages in got.items():
            public = [m for m in messages if "seq" in m]
            self.assertEqual(
                [(m["type"], m["seq"]) for m in public], [("spyster.round_started", seq0 + 1)], who
            )
            self.assert_no_secret(json.dumps(public), secrets, who)
            private = [m for m in messages if "pseq" in m]
            name = who.split()[0]
            if name == "host":
                self.assertEqual(messages, public)  # nothing else at all
                continue
            card = self.expected_card(secrets, self.ids[name])
            self.assertEqual([m["type"] for m in private], ["spyster.role", "player.state"], who)
            for message in private:
                payload = message["payload"]
                self.assertEqual({k: payload[k] for k in card}, card, who)
                self.assertEqual(payload["round"], 1)
                self.assertIn(secrets["location"], payload["locations"])
            self.assertEqual(len(messages), 3, who)
        self.assertEqual(got["Ana"], got["Ana again"])
        for ws, _, _ in sockets.values():
            await ws.close()

    async def test_a_reload_gets_the_card_back_and_only_its_own(self):
        secrets = await self.start_round()
        for name in NAMES:
            ws, _, state = await self.join(PLAYER.format(self.tokens[name]))
            self.assert_no_secret(json.dumps(state), secrets, f"{name}'s session.state")
            private = await servers.recv_json(ws)
            self.assertEqual(private["type"], protocol.PLAYER_STATE, name)
            card = self.expected_card(secrets, self.ids[name])
            self.assertEqual({k: private["payload"][k] for k in card}, card, name)
            self.assertEqual(await self.messages(ws, 0.5), [], name)
            await ws.close()
        host, _, state = await self.join(HOST.format(self.host))
        self.assertEqual(await self.messages(host, 0.5), [])  # nothing private for the host
        self.assert_no_secret(json.dumps(state), secrets, "host's session.state")
        await host.close()

    async def test_the_actions_run_as_socket_messages(self):
        worker = (
            await self.call(servers.Worker) if self.server_class is not servers.Daphne else None
        )
        try:
            secrets = await self.start_round()
            spy = secrets["spy"]
            others = [pid for pid in self.ids.values() if pid != spy]
            sockets = {
                pid: (await self.join(PLAYER.format(token)))[0] for pid, token in self.by_id.items()
            }
            host = (await self.join(HOST.format(self.host)))[0]
            for ws in (*sockets.values(), host):
                await self.messages(ws, 0.3)
            accuser, innocent = others[0], others[1]
            # A refusal answers its sender alone, with its ref.
            await sockets[accuser].send(
                json.dumps({"type": "spyster.vote", "agree": True, "ref": "early"})
            )
            error = await servers.recv_json(sockets[accuser], 10)
            self.assertEqual(
                (error["type"], error["code"], error["ref"]), ("error", "WRONG_PHASE", "early")
            )
            await sockets[accuser].send(
                json.dumps({"type": "spyster.accuse", "suspect_id": innocent, "ref": 1})
            )
            got = await self.messages(sockets[accuser], 1.5)
            result = next(m for m in got if m["type"] == protocol.RESULT)
            self.assertEqual(
                (result["action"], result["ref"], result["body"]["accused_id"]),
                ("spyster.accuse", 1, innocent),
            )
            self.assertIn("spyster.vote_started", [m["type"] for m in got])
            self.assertEqual(
                [m["type"] for m in await self.messages(host)], ["spyster.vote_started"]
            )
            # One no over the socket: the vote fails, the round goes on.
            voter = others[2]
            await sockets[voter].send(
                json.dumps({"type": "spyster.vote", "agree": False, "ref": "v"})
            )
            got = await self.messages(sockets[voter], 1.5)
            self.assertIn(protocol.RESULT, [m["type"] for m in got])
            result = next(
                m for m in await self.messages(host) if m["type"] == "spyster.vote_result"
            )
            self.assertEqual(result["payload"]["result"], "rejected")
            await host.send(json.dumps({"type": "spyster.spy_guess", "location": "Zoo"}))
            error = await servers.recv_json(host, 10)
            self.assertEqual((error["type"], error["code"]), ("error", "WRONG_ROLE"))
            await sockets[voter].send(
                json.dumps({"type": "spyster.spy_guess", "location": secrets["location"]})
            )
            error = await servers.recv_json(sockets[voter], 10)
            self.assertEqual((error["type"], error["code"]), ("error", "NOT_THE_SPY"))
            # The spy names the location over the socket: the round is over for everyone.
            await sockets[spy].send(
                json.dumps(
                    {"type": "spyster.spy_guess", "location": secrets["location"], "ref": "g"}
                )
            )
            got = await self.messages(sockets[spy], 1.5)
            result = next(m for m in got if m["type"] == protocol.RESULT)
            self.assertTrue(result["body"]["correct"])
            over = [m for m in await self.messages(host) if "seq" in m]
            self.assertEqual([m["type"] for m in over], ["spyster.round_over", "phase.scoreboard"])
            self.assertEqual(
                (over[0]["payload"]["spy_id"], over[0]["payload"]["how"]), (spy, "guessed")
            )
            for ws in (*sockets.values(), host):
                await ws.close()
        finally:
            if worker is not None:
                await self.call(worker.close)


class DaphneLiveTests(LiveCases, TransactionTestCase):
    server_class = servers.Daphne


class SidecarLiveTests(LiveCases, TransactionTestCase):
    server_class = staticmethod(servers.Sidecar)
