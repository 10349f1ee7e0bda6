"""The database is the truth, Redis a cache (issue 15): real redis-server
processes killed (SIGKILL, restarted with nothing saved), flushed (FLUSHALL)
and frozen (SIGSTOP) mid-game, with clients on both WebSocket servers and
`manage.py runrelay` delivering what Redis missed and rebuilding it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time

import websockets
from asgiref.sync import async_to_sync, sync_to_async
from django.test import TransactionTestCase

from lobby import flow, phases, publish, registry, timers
from lobby.models import GameSession, OutboxEvent, Player
from realtime import keys, protocol, snapshot

from . import servers
from .helpers import Api, BothServers, PrivateRedis, play_round, redis_commands, wait_for
from .test_scaleout import _TwoRedisCase, games_on_each_shard, use_hosts


class Watcher:
    """One socket's view of a session: the seq it holds (from states and
    events) and the seq of every event that moved it on, in arrival order."""

    def __init__(self, ws, state: dict) -> None:
        self.ws, self.seq, self.events = ws, state["seq"], []
        self.task = asyncio.create_task(self.read())

    async def read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for text in self.ws:
                message = json.loads(text)
                if message["type"] == protocol.SESSION_STATE:
                    self.seq = max(self.seq, message["seq"])
                elif "seq" in message and message["seq"] > self.seq:
                    self.events.append(message["seq"])
                    self.seq = message["seq"]

    async def close(self) -> None:
        self.task.cancel()
        await self.ws.close()


def db_seq(code: str) -> int:
    return GameSession.objects.get(code=code).seq


class DurabilityCase(PrivateRedis, BothServers, TransactionTestCase):
    """A private Redis, Daphne, the sidecar and a relay; the session of TwoPlayers."""

    relay_args = ("--interval", "0.1", "--grace", "0.3")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.relay = None

    @classmethod
    def tearDownClass(cls):
        cls.stop_relay()
        super().tearDownClass()

    @classmethod
    def start_relay(cls):
        cls.relay = servers.Process(servers.manage("runrelay", *cls.relay_args), "relay")

    @classmethod
    def stop_relay(cls):
        if cls.relay is not None:
            cls.relay.stop()
            cls.relay.close()
            cls.relay = None

    def setUp(self):
        super().setUp()
        if self.relay is None:
            self.start_relay()
        self.assertTrue(async_wait(self.rebuilt))

    def rebuilt(self) -> bool:
        return self.redis.command("EXISTS", keys.KEY_READY) == b":1\r\n"

    async def watch(self, port: int, code: str, token: str) -> Watcher:
        ws, _, state = await servers.join(port, code, f"session_token={token}")
        return Watcher(ws, state)

    async def watchers(self) -> list[Watcher]:
        """Ana and Bo on each server."""
        return [
            await self.watch(server.port, self.code, token)
            for server in (self.sidecar, self.daphne)
            for token in (self.ana, self.bo)
        ]

    async def converged(self, watchers: list[Watcher], timeout: float = 15) -> None:
        """Every socket holds the database's seq; events came in increasing order."""
        want = await sync_to_async(db_seq)(self.code)
        ok = await wait_for(lambda: all(w.seq == want for w in watchers), timeout)
        logs = self.daphne.process.logtext()[-3000:]
        self.assertTrue(ok, f"{[(w.seq, w.events) for w in watchers]} want {want}\n{logs}")
        for w in watchers:
            self.assertEqual(w.events, sorted(set(w.events)), "an event twice or out of order")

    async def reconnect_everyone(self, code: str, host: str, tokens: list[str]) -> None:
        """Old tokens connect to both servers (retrying 1013 as clients do)."""
        want = await sync_to_async(db_seq)(code)
        for server in (self.sidecar, self.daphne):
            for query in [f"role=host&session_token={host}"] + [
                f"session_token={t}" for t in tokens
            ]:
                state = await join_retrying(server.port, code, query)
                self.assertEqual(state["seq"], want, server.name)


def async_wait(predicate, timeout: float = 15) -> bool:
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        with contextlib.suppress(OSError):
            if predicate():
                return True
        time.sleep(0.05)
    return False


async def join_retrying(port: int, code: str, query: str, timeout: float = 15) -> dict:
    """Join as partyhub-client.js does: 1013 means try again (with backoff)."""
    until = time.monotonic() + timeout
    delay = 0.1
    while True:
        ws = await servers.connect(port, code, query)
        try:
            first = await servers.recv_json(ws, 10)
            if first["type"] == protocol.WELCOME:
                state = await servers.recv_json(ws, 10)
                return state
        except websockets.ConnectionClosed as exc:
            code_ = exc.rcvd.code if exc.rcvd else None
            if code_ != protocol.CLOSE_TRY_AGAIN or time.monotonic() > until:
                raise AssertionError(f"closed {code_} on port {port}") from exc
        finally:
            await ws.close()
        await asyncio.sleep(delay)
        delay = min(1.0, delay * 2)


def run_deadline(code: str) -> bool:
    """Make the running countdown's deadline pass and run it as the timer task would."""
    session = GameSession.objects.get(code=code)
    stage = phases.stage_of(registry.of(session), session)
    GameSession.objects.filter(code=code).update(deadline_ms=timers.now_ms() - 1)
    return flow.on_deadline(code, session.round_number, stage, session.timer_token)


class RestartTests(DurabilityCase):
    async def test_redis_restarts_empty_mid_game(self):
        api, code = self.api, self.code
        watchers = await self.watchers()
        await sync_to_async(api.host)(code, "start-round", self.host)
        await self.converged(watchers)
        held = watchers[0].seq
        self.redis.kill()
        self.redis.start()  # empty: no counter, no snapshot, no group
        self.assertTrue(await wait_for(lambda: self.rebuilt(), 10))
        status, body = await sync_to_async(api.host)(code, "show-question", self.host)
        self.assertEqual((status, body["broadcast"]["seq"]), (200, [held + 1]))
        await self.converged(watchers)  # the open sockets, on both servers
        await self.reconnect_everyone(code, self.host, [self.ana, self.bo])
        # The game goes on to its end, and every socket follows.
        await sync_to_async(play_round)(api, code, self.host, [self.ana, self.bo], 1, False)
        await sync_to_async(play_round)(api, code, self.host, [self.ana, self.bo], 2)
        self.assertEqual((await sync_to_async(api.host)(code, "finish", self.host))[0], 200)
        await self.converged(watchers)
        for w in watchers:
            await w.close()

    async def test_flushall_then_memberships_and_states_come_back(self):
        api, code = self.api, self.code
        watchers = await self.watchers()
        self.redis.command("FLUSHALL")
        await sync_to_async(api.host)(code, "start-round", self.host)
        await self.converged(watchers)
        # Memberships are back: the next event arrives as an event.
        before = [len(w.events) for w in watchers]
        await sync_to_async(api.host)(code, "show-question", self.host)
        await self.converged(watchers)
        self.assertEqual([len(w.events) for w in watchers], [n + 1 for n in before])
        await self.reconnect_everyone(code, self.host, [self.ana, self.bo])
        for w in watchers:
            await w.close()


class OutageTests(DurabilityCase):
    """Redis down (SIGKILL) or frozen (SIGSTOP, longer than the socket
    timeout) while a join, a create, a host action and a timer deadline
    happen: all of it reaches the players once Redis is back, in order,
    without anyone acting; the new player and the new host connect to both
    servers."""

    async def outage(self, stop, resume):
        api, code = self.api, self.code
        await sync_to_async(GameSession.objects.filter(code=code).update)(auto_advance=True)
        watchers = await self.watchers()
        stop()
        cy_id, cy = await sync_to_async(api.join)(code, "Cy")
        status, created = await sync_to_async(api.call)("POST", "/api/sessions/", {})
        self.assertEqual(created["broadcast"]["queued"], True)
        new_code, new_host = created["code"], created["host_token"]
        status, body = await sync_to_async(api.host)(code, "start-round", self.host)
        self.assertEqual((status, body["broadcast"]["queued"]), (200, True))
        status, body = await sync_to_async(api.host)(code, "show-question", self.host)
        self.assertTrue(await sync_to_async(run_deadline)(code))  # the lie timer ends
        self.assertGreater(await sync_to_async(OutboxEvent.objects.count)(), 3)
        resume()
        await self.converged(watchers, 20)
        left = await sync_to_async(OutboxEvent.objects.count)()
        self.assertEqual(left, 0)  # all delivered (the sockets converged)
        await self.reconnect_everyone(code, self.host, [self.ana, self.bo, cy])
        await self.reconnect_everyone(new_code, new_host, [])
        for w in watchers:
            await w.close()
        del cy_id

    async def test_redis_killed_during_join_create_action_and_deadline(self):
        await self.outage(self.redis.kill, self.redis.start)

    async def test_redis_frozen_during_join_create_action_and_deadline(self):
        pid = self.redis.process.pid
        await self.outage(
            lambda: os.kill(pid, signal.SIGSTOP), lambda: os.kill(pid, signal.SIGCONT)
        )


class RebuildTests(DurabilityCase):
    """Without a relay nothing rebuilds Redis: a session that exists is
    answered 1013 (try again), never 4004, until the relay runs."""

    def setUp(self):
        super().setUp()
        self.addCleanup(self.start_relay_if_stopped)

    def start_relay_if_stopped(self):
        if self.relay is None:
            self.start_relay()

    async def test_retryable_close_until_rebuilt_then_4004_only_for_unknown_codes(self):
        await sync_to_async(self.stop_relay)()
        self.redis.command("FLUSHALL")
        for server in (self.sidecar, self.daphne):
            ws = await servers.connect(server.port, self.code, f"session_token={self.ana}")
            if server is self.sidecar:  # Daphne knows the session from the database
                self.assertEqual(await servers.close_code(ws), protocol.CLOSE_TRY_AGAIN)
            else:
                self.assertEqual((await servers.recv_json(ws))["type"], protocol.WELCOME)
                await ws.close()
        ws = await servers.connect(self.sidecar.port, "ZZZZ", "session_token=x")
        self.assertEqual(await servers.close_code(ws), protocol.CLOSE_TRY_AGAIN)
        started = time.monotonic()
        await sync_to_async(self.start_relay)()
        await self.reconnect_everyone(self.code, self.host, [self.ana, self.bo])
        self.assertLess(time.monotonic() - started, 15)
        ws = await servers.connect(self.sidecar.port, "ZZZZ", "session_token=x")
        self.assertEqual(await servers.close_code(ws), protocol.CLOSE_NOT_FOUND)


class OutboxTests(PrivateRedis, TransactionTestCase):
    """The outbox without servers: seq from the database, nothing twice."""

    serialized_rollback = True

    def test_seq_survives_a_flush_and_a_row_is_never_delivered_twice(self):
        api = Api()
        code, host = api.create()
        api.join(code, "Ana")
        api.join(code, "Bo")
        status, body = api.host(code, "start-round", host)
        self.assertEqual(body["broadcast"], {"ok": True, "seq": [3]})
        self.redis.command("FLUSHALL")
        status, body = api.host(code, "show-question", host)
        self.assertEqual(body["broadcast"]["seq"], [4])  # not 1: the database numbers
        session = GameSession.objects.get(code=code)
        self.assertEqual(session.seq, 4)
        # Back to back, each action's broadcast is one script on Redis.
        with redis_commands(self.redis.port) as seen:
            for action in ("pause", "resume", "pause"):
                self.assertEqual(api.host(code, action, host)[1]["broadcast"]["ok"], True)
        sent = [c for kind, c in seen if kind != "lua" and c.lower().startswith("evalsha")]
        self.assertEqual(len(sent), 3, seen)
        self.assertEqual(OutboxEvent.objects.count(), 0)  # delivered: deleted
        self.assertFalse(publish.sync_deliver(code, None, 7, '{"seq":', "}"))  # delivered
        self.assertTrue(publish.sync_deliver(code, None, 8, '{"seq":', "}"))


class RebuildPrivateTests(PrivateRedis, TransactionTestCase):
    """The relay's rebuild brings back each player's private state at their
    pseq (a game with secrets: Spyster's cards) and the delivered counters."""

    serialized_rollback = True

    def test_private_states_and_counters_come_back(self):
        from lobby.relay import Relay
        from realtime import broadcast
        from spyster.tests.support import SpysterApi

        api = SpysterApi()
        code, host = api.create_spyster(rounds=2)
        ids = [api.join(code, name)[0] for name in ("Ana", "Bo", "Cy", "Di")]
        self.assertEqual(api.host(code, "start-round", host)[0], 200)
        before = {pid: snapshot.read_private(code, pid) for pid in ids}
        self.assertTrue(all(before.values()))  # everyone was dealt a card
        seq = GameSession.objects.get(code=code).seq
        self.redis.command("FLUSHALL")
        Relay().turn()  # no marker: rebuild everything from the database
        self.assertTrue(snapshot.ready(snapshot.all_clients()[0]))
        for pid in ids:
            pseq = Player.objects.get(id=pid).pseq
            text = json.loads(snapshot.read_private(code, pid))
            self.assertEqual((text["pseq"], text), (pseq, json.loads(before[pid])))
            self.assertEqual(
                self.redis.command("GET", keys.pseq_key(code, pid)).split()[-1], str(pseq).encode()
            )
        self.assertEqual(async_to_sync(broadcast.current_seq)(code), seq)
        state = json.loads(self.redis.command("GET", keys.state_key(code)).split(b"\r\n")[1])
        self.assertEqual(state["seq"], seq)


class ShardTests(_TwoRedisCase):
    """Two Redis hosts: one flushed; the relay finds that one, rebuilds, and
    the games on both go on with the database's seq (the C layer's two-step
    send with a given seq)."""

    def test_one_shard_flushed(self):
        from lobby.relay import Relay

        use_hosts([["127.0.0.1", r.port] for r in self.redis])
        api = Api()
        games = games_on_each_shard(api)
        relay = Relay()
        relay.turn()  # fresh hosts: rebuilt and marked
        self.assertEqual(relay.stale_hosts(), [])
        for code, host in games.values():
            self.assertEqual(api.host(code, "start-round", host)[1]["broadcast"]["seq"], [3])
        self.redis[1].command("FLUSHALL")
        stale = relay.stale_hosts()
        self.assertEqual(
            [c.connection_pool.connection_kwargs["port"] for c in stale], [self.redis[1].port]
        )
        relay.turn()
        self.assertEqual(relay.stale_hosts(), [])
        code, host = games[1]
        self.assertEqual(
            self.redis[1].command("HEXISTS", keys.session_key(code), "host"), b":1\r\n"
        )
        for code, host in games.values():
            body = api.host(code, "show-question", host)[1]
            self.assertEqual(body["broadcast"], {"ok": True, "seq": [4]})
