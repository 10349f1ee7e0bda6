"""Draining a sidecar (issue 9): SIGUSR1 to `manage.py runsidecar` stops
accepting, tells every socket its turn (server.draining) and closes each
with 1012 at that turn; SIGTERM afterwards exits at once. Real server
processes, real WebSocket clients.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import time

from asgiref.sync import sync_to_async
from django.test import TransactionTestCase

from realtime import protocol

from . import servers
from .helpers import TwoPlayers

WINDOW_S = 2.0
SLACK_S = 0.1  # the client may see the notice this much after the server sent it


def expected_turns(n: int, window_ms: int) -> list[int]:
    """The sidecar's turns: the middle of each 1/n-th of the window."""
    return [window_ms * (2 * i + 1) // (2 * n) for i in range(n)]


async def http_get(reader, writer, path: str) -> tuple[int, str]:
    """GET path on an open keep-alive connection: (status, body text)."""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5 * servers.SLOW)
    lines = head.decode().split("\r\n")
    length = next(
        int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length")
    )
    body = await asyncio.wait_for(reader.readexactly(length), 5 * servers.SLOW)
    return int(lines[0].split()[1]), body.decode()


class DrainTests(TwoPlayers, TransactionTestCase):
    serialized_rollback = True

    async def start(self, *args: str) -> servers.RunSidecar:
        server = await sync_to_async(servers.RunSidecar)(*args)
        self.addCleanup(server.close)
        return server

    async def sockets(self, port: int, n: int) -> list:
        query = f"session_token={self.ana}"
        return [(await servers.join(port, self.code, query))[0] for _ in range(n)]

    async def exit_status(self, server: servers.RunSidecar) -> int:
        server.process.proc.send_signal(signal.SIGTERM)
        return await sync_to_async(server.process.proc.wait)(10 * servers.SLOW)

    async def test_sigusr1_spreads_turns_and_closes_1012_at_each(self):
        server = await self.start("--drain-seconds", str(WINDOW_S))
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        self.assertEqual((await http_get(reader, writer, "/healthz"))[0], 200)
        self.assertIn(
            "\npartyhub_sidecar_draining 0\n", (await http_get(reader, writer, "/metrics"))[1]
        )
        sockets = await self.sockets(server.port, 24)
        leavers = set(range(0, 24, 6))  # close themselves once told their turn

        async def follow(i, ws):
            notice = await servers.recv_json(ws, 10)
            told = time.monotonic()
            if i in leavers:
                await ws.close()
                return notice, None, None
            code = await servers.close_code(ws, 10)
            return notice, code, time.monotonic() - told

        server.process.proc.send_signal(signal.SIGUSR1)
        results = await asyncio.gather(*(follow(i, ws) for i, ws in enumerate(sockets)))

        notices = [notice for notice, _, _ in results]
        self.assertEqual({n["type"] for n in notices}, {protocol.SERVER_DRAINING})
        delays = [n["reconnect_in_ms"] for n in notices]
        self.assertEqual(sorted(delays), expected_turns(24, int(WINDOW_S * 1000)))
        closed = [(after, n["reconnect_in_ms"], code) for n, code, after in results if code]
        self.assertEqual({code for _, _, code in closed}, {protocol.CLOSE_SERVICE_RESTART})
        self.assertEqual(len(closed), 24 - len(leavers))
        # Closed at its turn, never before it, and so in the order of the turns.
        for after, delay, _ in closed:
            self.assertGreaterEqual(after, delay / 1000 - SLACK_S, (after, delay))
        by_time = [delay for _, delay, _ in sorted(closed)]
        self.assertEqual(by_time, sorted(by_time))

        status, body = await http_get(reader, writer, "/healthz")
        health = json.loads(body)
        self.assertEqual((status, health["status"], health["draining"]), (503, "draining", True))
        self.assertEqual(health["connections"], 0)
        status, metrics = await http_get(reader, writer, "/metrics")
        self.assertEqual(status, 200)
        self.assertIn("\npartyhub_sidecar_draining 1\n", metrics)
        writer.close()
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", server.port), 2).close()
        t0 = time.monotonic()
        self.assertEqual(await self.exit_status(server), 0, server.process.logtext())
        self.assertLess(time.monotonic() - t0, 5)  # "exits at once" (a bound, not a benchmark)

    async def test_sigterm_during_a_drain_closes_the_rest_1012_and_exits(self):
        server = await self.start("--drain-seconds", "60")
        sockets = await self.sockets(server.port, 5)
        server.process.proc.send_signal(signal.SIGUSR1)
        notices = [await servers.recv_json(ws, 10) for ws in sockets]
        self.assertTrue(all(n["reconnect_in_ms"] > 1000 for n in notices), notices)
        self.assertEqual(await self.exit_status(server), 0, server.process.logtext())
        codes = await asyncio.gather(*(servers.close_code(ws) for ws in sockets))
        self.assertEqual(set(codes), {protocol.CLOSE_SERVICE_RESTART})

    async def test_every_worker_drains(self):
        server = await self.start("--workers", "2", "--drain-seconds", "0.5")
        sockets = await self.sockets(server.port, 12)
        server.process.proc.send_signal(signal.SIGUSR1)
        notices = [await servers.recv_json(ws, 10) for ws in sockets]
        self.assertEqual({n["type"] for n in notices}, {protocol.SERVER_DRAINING})
        codes = await asyncio.gather(*(servers.close_code(ws) for ws in sockets))
        self.assertEqual(set(codes), {protocol.CLOSE_SERVICE_RESTART})
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", server.port), 2).close()
        self.assertEqual(await self.exit_status(server), 0, server.process.logtext())

    async def test_a_client_follows_its_turn_to_another_sidecar_and_misses_nothing(self):
        first = await self.start("--drain-seconds", "1")
        second = await self.start()
        query = f"session_token={self.ana}"
        ws, _, state = await servers.join(first.port, self.code, query)
        first.process.proc.send_signal(signal.SIGUSR1)
        notice = await servers.recv_json(ws, 10)
        self.assertEqual(notice["type"], protocol.SERVER_DRAINING)
        # Whether or not this event reaches the old socket before its turn,
        # the state the client gets after moving includes it.
        status, _ = await sync_to_async(self.api.host)(self.code, "start-round", self.host)
        self.assertEqual(status, 200)
        self.assertEqual(await servers.close_code(ws, 10), protocol.CLOSE_SERVICE_RESTART)
        await asyncio.sleep(notice["reconnect_in_ms"] / 1000)
        ws2, _, moved = await servers.join(second.port, self.code, query)
        self.assertEqual(moved["seq"], state["seq"] + 1)
        status, _ = await sync_to_async(self.api.host)(self.code, "show-question", self.host)
        self.assertEqual(status, 200)
        following = await servers.recv_json(ws2, 10)
        self.assertEqual(following["seq"], state["seq"] + 2)
        await ws2.close()
