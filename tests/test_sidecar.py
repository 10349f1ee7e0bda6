"""The C sidecar under Django's runner: the behaviours beyond the row-by-row
protocol suite (tests/test_protocol.py) — whole games on both servers at
once, 500 clients, direct sends, the inbound path through a Django worker,
limits, heartbeat, Redis loss, and stopping.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import signal
import threading
import time

import redis as redis_py
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.test import TransactionTestCase

from lobby import events as lobby_events
from lobby.reactions import REACTION_EMOJI
from realtime import _redislayer, keys, protocol
from realtime.broadcast import sync_broadcast_phase_event
from weirsoe import events as quiz_events

from . import servers
from .helpers import (
    EVENTS_PER_ROUND,
    GameCase,
    PrivateRedis,
    expect_logs,
    follow,
    play_game,
    raw_handshake,
    redis_commands,
    wait_for,
)
from .runner import PartyhubTestRunner


class BothServersGameTests(GameCase):
    """A full game with clients on the sidecar and on Daphne at once."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.daphne = servers.Daphne()

    @classmethod
    def tearDownClass(cls):
        try:
            cls.daphne.close()
        finally:
            super().tearDownClass()

    async def test_every_client_gets_every_event_in_order_with_the_same_seq(self):
        queries = [
            f"session_token={self.ana}",
            f"session_token={self.bo}",
            f"role=host&session_token={self.host}",
        ]
        clients = []
        for server in (self.sidecar, self.daphne):
            for query in queries:
                clients.append(await servers.join(server.port, self.code, query))
        states = {c[2]["seq"] for c in clients}
        self.assertEqual(states, {2})
        await sync_to_async(play_game)(self.api, self.code, self.host, [self.ana, self.bo], 2)
        n = 2 * EVENTS_PER_ROUND + 1
        received = await asyncio.gather(*(self.drain(ws, n) for ws, _, _ in clients))
        texts = [[json.dumps(e) for e in events] for events in received]
        for events in received:
            self.assertEqual([e["seq"] for e in events], list(range(3, 3 + n)))
            self.assertEqual(events[-1]["type"], lobby_events.GAME_OVER)
        self.assertTrue(all(t == texts[0] for t in texts), "clients saw different events")
        for ws, _, _ in clients:
            await ws.close()


class ManyClientsTests(GameCase):
    async def test_500_clients_receive_every_event_of_a_game(self):
        tokens = [self.ana, self.bo]
        clients = await asyncio.gather(
            *(
                servers.join(self.sidecar.port, self.code, f"session_token={tokens[i % 2]}")
                for i in range(500)
            )
        )
        self.assertEqual(self.sidecar.stats()["connections"], 500)
        await sync_to_async(play_game)(self.api, self.code, self.host, tokens, 2)
        n = 2 * EVENTS_PER_ROUND + 1
        received = await asyncio.gather(*(self.drain(ws, n, 60) for ws, _, _ in clients))
        for events in received:
            self.assertEqual([e["seq"] for e in events], list(range(3, 3 + n)))
        await asyncio.gather(*(ws.close() for ws, _, _ in clients))


class JoinDuringBroadcastsTests(GameCase):
    async def test_sockets_joining_between_events_miss_none(self):
        """The state is stored by the event's own script, and the sidecar
        joins the group before it GETs the state: whenever a socket joins,
        its state plus the events it gets leave no seq out."""
        stop = threading.Event()
        last = [0]

        def broadcast():
            while not stop.is_set():
                last[0] = sync_broadcast_phase_event(
                    self.code,
                    lobby_events.GAME_OVER,
                    {"round": 1, "ranking": [], "awards": []},
                    {"phase": "lobby"},
                )
                time.sleep(0.005)  # pacing only: keep 20 Python readers up

        sender = asyncio.ensure_future(asyncio.to_thread(broadcast))
        followers, state_seqs = [], set()
        try:
            # 20 joins, more (up to 60) on a slow machine until they have
            # fallen at more than 5 different points of the stream.
            for i in range(60):
                (follower,) = await follow(
                    self.sidecar.port, self.code, [self.ana, self.bo][i % 2 :], 1
                )
                followers.append(follower)
                state_seqs.add(follower.seq)  # its session.state's, nothing read yet
                if i >= 19 and len(state_seqs) > 5:
                    break
        finally:
            stop.set()
            await sender
        for follower in followers:
            self.assertTrue(await follower.wait(lambda f: f.seq >= last[0]))
            await follower.close()
        self.assertEqual([f.gaps for f in followers], [0] * len(followers))
        # The joins fell at different points of the stream (else nothing was tested).
        self.assertGreater(len(state_seqs), 5)


class DirectAndInboundTests(GameCase):
    # Forward every type but ping to partyhub.inbound (a deployment lists its
    # socket actions; protocol.client_types() has none beyond ping yet).
    sidecar_options = {"client_types": "*"}

    async def test_direct_send_to_one_socket_and_to_a_player_group(self):
        ana1, _, _ = await servers.join(self.sidecar.port, self.code, f"session_token={self.ana}")
        ana2, welcome2, _ = await servers.join(
            self.sidecar.port, self.code, f"session_token={self.ana}"
        )
        bo, _, _ = await servers.join(self.sidecar.port, self.code, f"session_token={self.bo}")
        layer = get_channel_layer()
        await ana2.send('{"type":"hello","x":1}')
        inbound = await asyncio.wait_for(layer.receive("partyhub.inbound"), 5)
        self.assertEqual(
            {k: inbound[k] for k in ("type", "session", "player_id", "role", "text")},
            {
                "type": "client.message",
                "session": self.code,
                "player_id": self.ana_id,
                "role": "player",
                "text": '{"type":"hello","x":1}',
            },
        )
        self.assertTrue(inbound["reply_channel"].endswith("!c." + welcome2["connection_id"]))
        # to that one socket
        await layer.send(inbound["reply_channel"], {"type": "game.event", "text": '{"to":"ana2"}'})
        self.assertEqual(await asyncio.wait_for(ana2.recv(), 5), '{"to":"ana2"}')
        # to both of Ana's sockets, not Bo's
        await layer.group_send(
            keys.player_group_name(self.code, self.ana_id),
            {"type": "game.event", "text": '{"to":"ana"}'},
        )
        self.assertEqual(await asyncio.wait_for(ana1.recv(), 5), '{"to":"ana"}')
        self.assertEqual(await asyncio.wait_for(ana2.recv(), 5), '{"to":"ana"}')
        with self.assertRaises(asyncio.TimeoutError):
            await asyncio.wait_for(bo.recv(), 0.3)
        for ws in (ana1, ana2, bo):
            await ws.close()

    async def test_the_send_script_runs_by_sha_and_survives_a_script_flush(self):
        # The inbound send is rscripts.c's RS_SEND (the server's clock), by
        # EVALSHA; once Redis lost its scripts, NOSCRIPT resends it with EVAL.
        ws, _, _ = await servers.join(self.sidecar.port, self.code, f"session_token={self.ana}")
        layer = get_channel_layer()
        port = PartyhubTestRunner.redis.port
        redis_py.Redis(port=port).script_flush()
        with redis_commands(port) as commands:
            for n in (1, 2):
                await ws.send(f'{{"type":"hello","n":{n}}}')
                inbound = await asyncio.wait_for(layer.receive("partyhub.inbound"), 5)
                self.assertEqual(inbound["text"], f'{{"type":"hello","n":{n}}}')
        sha = hashlib.sha1(_redislayer.LUA_SCRIPTS["send"].encode()).hexdigest()
        sent = [
            c.split()[0]
            for t, c in commands
            if t != "lua" and (c.startswith(f"EVALSHA {sha} 1 ") or c.startswith("EVAL local"))
        ]
        self.assertEqual(sent[:3], ["EVALSHA", "EVAL", "EVALSHA"])
        await ws.close()

    async def test_client_message_through_a_django_worker_and_back(self):
        worker = await sync_to_async(servers.Worker)()
        try:
            ws, _, _ = await servers.join(
                self.sidecar.port, self.code, f"role=host&session_token={self.host}"
            )
            before = self.sidecar.stats()
            await ws.send('{"type":"dance"}')
            # Forwarded, answered by InboundConsumer in `runworker`, sent back.
            self.assertEqual(
                await ws.recv(),
                protocol.dumps(protocol.parse_client_message('{"type":"dance"}')[1]),
            )
            after = self.sidecar.stats() if hasattr(self.sidecar, "runner") else None
            if after is not None:
                self.assertEqual(after["inbound_forwarded"], before["inbound_forwarded"] + 1)
            await ws.close()
        finally:
            await sync_to_async(worker.close)()

    async def test_a_reaction_goes_through_the_worker_to_everyone(self):
        worker = await sync_to_async(servers.Worker)()
        try:
            ana, _, _ = await servers.join(
                self.sidecar.port, self.code, f"session_token={self.ana}"
            )
            host, _, _ = await servers.join(
                self.sidecar.port, self.code, f"role=host&session_token={self.host}"
            )
            emoji = REACTION_EMOJI[0]
            await ana.send(json.dumps({"type": "reaction", "emoji": emoji}))
            for ws in (ana, host):
                message = await servers.recv_json(ws, 10)
                self.assertEqual(
                    (message["type"], message["player_id"], message["emoji"]),
                    (lobby_events.REACTION, self.ana_id, emoji),
                )
            # The host is not a player: its reaction is refused, to it alone.
            await host.send(json.dumps({"type": "reaction", "emoji": emoji}))
            self.assertEqual((await servers.recv_json(host, 10))["type"], protocol.ERROR)
            for ws in (ana, host):
                await ws.close()
        finally:
            await sync_to_async(worker.close)()


class LimitsTests(GameCase):
    sidecar_options = {
        "hard_bytes": 200_000,
        "soft_bytes": 100_000,
        "soft_seconds": 0.5,
        "ping_interval": 1,
        "ping_timeout": 2,
    }

    async def test_slow_consumer_is_cut_while_others_keep_receiving(self):
        fast, _, _ = await servers.join(self.sidecar.port, self.code, f"session_token={self.ana}")
        slow = raw_handshake(self.sidecar.port, self.code, self.bo, rcvbuf=4096)
        await asyncio.sleep(0.3)
        stats = self.sidecar.stats
        before = stats().get("slow_consumer_closes", 0)
        layer = get_channel_layer()
        blob = "z" * 30000
        n = 150

        async def reader():
            return [json.loads(await asyncio.wait_for(fast.recv(), 10))["n"] for _ in range(n)]

        with expect_logs(self, self.sidecar, "slow consumer"):
            task = asyncio.create_task(reader())
            for i in range(n):
                await layer.group_send(
                    keys.group_name(self.code),
                    {"type": "game.event", "text": json.dumps({"n": i, "b": blob})},
                )
            self.assertEqual(await task, list(range(n)))
            if "slow_consumer_closes" in stats():
                self.assertTrue(
                    await wait_for(lambda: stats()["slow_consumer_closes"] == before + 1)
                )
            self.assertTrue(await wait_for(lambda: stats()["connections"] == 1))
        slow.close()
        await fast.close()

    async def test_a_client_that_stops_answering_pings_is_hung_up(self):
        live, _, _ = await servers.join(self.sidecar.port, self.code, f"session_token={self.ana}")
        silent = raw_handshake(self.sidecar.port, self.code, self.bo)
        self.assertTrue(await wait_for(lambda: self.sidecar.stats()["connections"] == 2))
        await asyncio.sleep(4)
        self.assertEqual(self.sidecar.stats()["connections"], 1)  # the silent one is gone
        await live.send('{"type":"ping","ts":1}')
        self.assertEqual(await servers.recv_json(live), {"type": "pong", "ts": 1})
        silent.close()
        await live.close()

    async def test_oversize_message_closes_1009(self):
        for frames in ('{"type":"ping","ts":"' + "x" * 5000 + '"}', ["x" * 3000, "y" * 3000]):
            ws, _, _ = await servers.join(self.sidecar.port, self.code, f"session_token={self.ana}")
            await ws.send(frames)
            self.assertEqual(await servers.close_code(ws), 1009)


class RedisLossTests(PrivateRedis, GameCase):
    """Redis SIGKILLed and restarted mid-game (its data saved just before),
    200 sockets."""

    sidecar_options = {"client_types": "*"}

    async def test_sockets_stay_open_events_resume_memberships_return(self):
        api, code = self.api, self.code
        ws, _, state = await servers.join(self.sidecar.port, code, f"session_token={self.ana}")
        # 199 more clients that follow the game by seq.
        others = await follow(self.sidecar.port, code, [self.ana, self.bo], 199)
        await sync_to_async(api.host)(code, "start-round", self.host)
        self.assertEqual((await servers.recv_json(ws))["seq"], state["seq"] + 1)
        self.redis.command("SAVE")
        with expect_logs(self, self.sidecar, "link lost"):
            self.redis.kill()
            self.assertTrue(await wait_for(lambda: not self.sidecar.stats()["redis_up"]))
        await ws.send('{"type":"ping","ts":"down"}')  # the socket is still open
        self.assertEqual(await servers.recv_json(ws), {"type": "pong", "ts": "down"})
        await ws.send('{"type":"dance"}')  # cannot be forwarded now
        self.assertEqual((await servers.recv_json(ws))["code"], "SERVER_BUSY")
        self.redis.start()
        self.assertTrue(await wait_for(lambda: self.sidecar.stats()["redis_up"], 15))
        resent = await servers.recv_json(ws, 10)  # the state is resent after a reconnect
        self.assertEqual((resent["type"], resent["seq"]), ("session.state", state["seq"] + 1))
        members = self.redis.command("ZRANGE", f"asgi:group:game_{code}", "0", "-1")
        self.assertIn(f"!g.game_{code}".encode(), members)
        await sync_to_async(api.host)(code, "show-question", self.host)
        event = await servers.recv_json(ws, 10)
        self.assertEqual(
            (event["type"], event["seq"]), (quiz_events.QUESTION_SHOWN, state["seq"] + 2)
        )
        for other in others:
            self.assertTrue(await other.wait(lambda c: c.seq == state["seq"] + 2))
            self.assertEqual(other.twice, [])
        self.assertEqual(self.sidecar.stats()["connections"], 200)
        await ws.close()
        await asyncio.gather(*(other.close() for other in others))


class StopTests(GameCase):
    """SIGTERM to `manage.py runsidecar`: every client sees 1001."""

    @classmethod
    def setUpClass(cls):
        TransactionTestCase.setUpClass.__func__(cls)
        cls.sidecar = None

    @classmethod
    def tearDownClass(cls):
        TransactionTestCase.tearDownClass.__func__(cls)

    async def test_sigterm_closes_every_socket_with_1001(self):
        server = await sync_to_async(servers.RunSidecar)()
        try:
            sockets = [
                (await servers.join(server.port, self.code, f"session_token={self.ana}"))[0]
                for _ in range(20)
            ]
            redis = PartyhubTestRunner.redis
            self.assertEqual(redis.command("EXISTS", f"asgi:group:game_{self.code}"), b":1\r\n")
            t0 = time.monotonic()
            server.process.proc.send_signal(signal.SIGTERM)
            codes = await asyncio.gather(*(servers.close_code(ws) for ws in sockets))
            self.assertEqual(set(codes), {1001})
            status = await sync_to_async(server.process.proc.wait)(10)
            self.assertEqual(status, 0, server.process.logtext())
            self.assertLess(time.monotonic() - t0, 5)
            self.assertEqual(redis.command("EXISTS", f"asgi:group:game_{self.code}"), b":0\r\n")
        finally:
            await sync_to_async(server.close)()
