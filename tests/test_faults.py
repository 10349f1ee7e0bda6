"""Faults mid-game: Redis frozen (SIGSTOP) under 200 sockets, the sidecar
SIGKILLed and restarted, Daphne (REST) killed and restarted.

Clients here follow the game by `seq` (helpers.Follower): every client must
end at the session's last seq, and no socket may deliver one seq twice.
Abusive clients are in tests/test_limits.py; Redis SIGKILLed and restarted
is tests/test_sidecar.py RedisLossTests.
"""

from __future__ import annotations

import asyncio
import json
import signal

from asgiref.sync import sync_to_async
from django.test import TransactionTestCase

from realtime import keys

from . import servers
from .helpers import Follower, GameCase, PrivateRedis, follow, http, last_seq
from .runner import PartyhubTestRunner


class RedisFrozenTests(PrivateRedis, GameCase):
    """Redis SIGSTOPped for 10 s mid-game with 200 sockets on the sidecar."""

    async def test_200_clients_survive_a_10_s_redis_freeze(self):
        code, api = self.code, self.api
        clients = await follow(self.sidecar.port, code, [self.ana, self.bo], 200)
        await sync_to_async(api.host)(code, "start-round", self.host)
        first = last_seq(self.redis, code)
        self.redis.process.send_signal(signal.SIGSTOP)
        try:
            # Django acts while Redis is frozen: the change is saved and the
            # view's broadcast times out (2 s), but Redis runs the script it
            # was sent once thawed, so the event still goes out, late. Were
            # it lost, clients would see the gap and resync.
            acting = asyncio.create_task(sync_to_async(api.host)(code, "show-question", self.host))
            # The sidecar keeps answering its sockets meanwhile.
            for client in clients:
                await client.ws.send('{"type":"ping","ts":"frozen"}')
            for client in clients:
                self.assertTrue(await client.wait(lambda c: "frozen" in c.pongs, 10))
            await asyncio.sleep(10)  # the fault lasts 10 s
        finally:
            self.redis.process.send_signal(signal.SIGCONT)
        status, _ = await acting
        self.assertEqual(status, 200)
        for token, text in ((self.ana, "lie a"), (self.bo, "lie b")):
            await sync_to_async(api.lie)(code, token, text)
        await sync_to_async(api.host)(code, "mix-answers", self.host)
        final = last_seq(self.redis, code)
        self.assertGreaterEqual(final, first + 2)
        for client in clients:
            self.assertTrue(await client.wait(lambda c: c.seq >= final), (client.seq, final))
            self.assertEqual((client.seq, client.twice), (final, []))
        self.assertEqual(self.sidecar.stats()["connections"], 200)
        members = self.redis.command("ZRANGE", f"asgi:group:{keys.group_name(code)}", "0", "-1")
        self.assertIn(f"!g.{keys.group_name(code)}".encode(), members)
        await asyncio.gather(*(client.close() for client in clients))


class SidecarCrashTests(GameCase):
    """`manage.py runsidecar` SIGKILLed mid-game and started again: clients
    reconnect, take the state and go on with the game."""

    @classmethod
    def setUpClass(cls):
        TransactionTestCase.setUpClass.__func__(cls)

    @classmethod
    def tearDownClass(cls):
        TransactionTestCase.tearDownClass.__func__(cls)

    async def test_clients_reconnect_to_a_restarted_sidecar_and_play_on(self):
        code, api = self.code, self.api
        server = await sync_to_async(servers.RunSidecar)()
        try:
            client = await Follower(server.port, code, f"session_token={self.ana}").start()
            await sync_to_async(api.host)(code, "start-round", self.host)
            redis = PartyhubTestRunner.redis
            self.assertTrue(await client.wait(lambda c: c.seq == last_seq(redis, code)))
            server.process.proc.send_signal(signal.SIGKILL)
            server.process.proc.wait()
            # The game moves on while no WebSocket server runs.
            await sync_to_async(api.host)(code, "show-question", self.host)
            missed = last_seq(redis, code)
            self.assertGreater(missed, client.seq)
            restarted = await sync_to_async(servers.RunSidecar)(port=server.port)
            try:
                await client.task  # the old socket ended
                await client.start(deadline=30)
                self.assertEqual(client.seq, missed)  # from session.state
                for token, text in ((self.ana, "lie a"), (self.bo, "lie b")):
                    await sync_to_async(api.lie)(code, token, text)
                await sync_to_async(api.host)(code, "mix-answers", self.host)
                final = last_seq(redis, code)
                self.assertTrue(await client.wait(lambda c: c.seq == final))
                self.assertEqual(client.twice, [])
                await client.close()
            finally:
                await sync_to_async(restarted.close)()
        finally:
            await sync_to_async(server.process.close)()


class DaphneRestartTests(GameCase):
    """Daphne (REST here) SIGKILLed and restarted mid-game: the REST flow
    goes on and the sidecar's sockets never notice."""

    async def test_rest_goes_on_and_sidecar_sockets_stay(self):
        code = self.code
        daphne = await sync_to_async(servers.Daphne)()
        try:
            clients = await follow(self.sidecar.port, code, [self.ana, self.bo], 4)

            def act(port: int, action: str, token: str, body: dict | None = None) -> int:
                path = f"/api/sessions/{code}/{action}/"
                return http(port, "POST", path, json.dumps(body or {}).encode(), token)[0]

            self.assertEqual(await sync_to_async(act)(daphne.port, "start-round", self.host), 200)
            daphne.process.proc.send_signal(signal.SIGKILL)
            daphne.process.proc.wait()
            daphne.process.close()
            daphne = await sync_to_async(servers.Daphne)(port=daphne.port)
            self.assertEqual(await sync_to_async(act)(daphne.port, "show-question", self.host), 200)
            for token, text in ((self.ana, "lie a"), (self.bo, "lie b")):
                self.assertEqual(
                    await sync_to_async(act)(daphne.port, "lies", token, {"text": text}), 201
                )
            self.assertEqual(await sync_to_async(act)(daphne.port, "mix-answers", self.host), 200)
            final = last_seq(PartyhubTestRunner.redis, code)
            for client in clients:
                self.assertTrue(await client.wait(lambda c: c.seq == final))
                # Every event on the first socket: no gap, nothing twice.
                self.assertEqual((client.gaps, client.twice), (0, []))
            self.assertEqual(self.sidecar.stats()["connections"], 4)
            await asyncio.gather(*(client.close() for client in clients))
        finally:
            await sync_to_async(daphne.close)()
