"""realtime.supervisor under `runsidecar --workers N` (issue 21): a killed
worker is replaced at once on the same port while the others keep their
sockets; a worker that keeps dying is backed off and reported; signals keep
their meaning; a worker that cannot start fails fast. Real processes, real
WebSocket clients; who holds which socket is read from /proc.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import tempfile
import time
from pathlib import Path

import websockets
from asgiref.sync import sync_to_async
from django.test import SimpleTestCase, TransactionTestCase

from realtime import protocol
from realtime.management.commands.runsidecar import RESTARTS_METRIC
from realtime.supervisor import Backoff
from weirsoe import events as quiz_events

from . import servers
from .helpers import TwoPlayers, http
from .processes import alive, children, listeners, socket_owner, wait_until

GOING_AWAY = 1001  # the sidecar stops (RFC 6455)
TRY_AGAIN_LATER = 1013  # the worker's Redis links are not up yet


class BackoffTests(SimpleTestCase):
    """The restart policy on its own: at once, then 1, 2, 4 … 30 s."""

    def test_at_once_until_five_deaths_in_a_minute_then_doubling_to_a_cap(self):
        backoff = Backoff()
        delays = [backoff.delay(now=t * 0.1, uptime=0.1) for t in range(12)]
        self.assertEqual(delays, [0, 0, 0, 0, 1, 2, 4, 8, 16, 30, 30, 30])

    def test_deaths_spread_over_more_than_a_minute_restart_at_once(self):
        backoff = Backoff()
        self.assertEqual([backoff.delay(t * 20.0, 20.0) for t in range(10)], [0] * 10)

    def test_a_process_that_stayed_up_a_minute_clears_the_backoff(self):
        backoff = Backoff()
        for t in range(7):
            backoff.delay(t * 0.1, 0.1)
        self.assertEqual(backoff.delay(1.0, 0.2), 8)  # still dying young: keeps growing
        self.assertEqual(backoff.delay(100.0, 99.0), 0)  # had run 99 s
        self.assertEqual(backoff.delay(100.1, 0.1), 0)


def worker_pids(server: servers.RunSidecar) -> list[int]:
    return [pid for pid in children(server.process.proc.pid) if alive(pid)]


def wait_workers(server: servers.RunSidecar, n: int, timeout: float = 20) -> list[int]:
    """The workers' pids once n of them listen on the port."""
    return wait_until(
        lambda: (
            len(worker_pids(server)) == n and listeners(server.port) == n and worker_pids(server)
        ),
        timeout,
        message=f"not {n} workers listening:\n{server.process.logtext()[-3000:]}",
    )


def wait_replaced(server: servers.RunSidecar, gone: int, before: list[int], timeout=20) -> int:
    """The pid of the worker that took the place of `gone` (`before`: the
    workers' pids before it died)."""

    def new_pid():
        pids = set(worker_pids(server))
        fresh = pids - set(before)
        return next(iter(fresh)) if fresh and gone not in pids else None

    return wait_until(new_pid, timeout, message=f"{gone} was not replaced")


def restarts_in(path: Path) -> int:
    return int(re.search(rf"^{RESTARTS_METRIC}\{{[^}}]*\}} (\d+)$", path.read_text(), re.M)[1])


def restarts_scraped(port: int, scrapes: int = 6) -> set[int]:
    """The restart counts the workers' own /metrics show (SO_REUSEPORT hands
    each scrape to one of them)."""
    seen = set()
    for _ in range(scrapes):
        status, text = http(port, "GET", "/metrics")
        assert status == 200, status
        seen.add(int(re.search(rf"^{RESTARTS_METRIC} (\d+)$", text, re.M)[1]))
    return seen


async def still_open(ws, seconds: float) -> bool:
    """True if nothing (no close, no message) arrives on ws for `seconds`."""
    try:
        await asyncio.wait_for(ws.recv(), seconds)
    except TimeoutError:
        return True
    except websockets.ConnectionClosed:
        return False
    return True  # a message is fine too: the socket is alive


async def ping(ws, ts: str) -> None:
    await ws.send(json.dumps({"type": protocol.PING, "ts": ts}))
    while True:
        message = await servers.recv_json(ws, 10)
        if message["type"] == protocol.PONG and message["ts"] == ts:
            return


class WorkerSupervisionTests(TwoPlayers, TransactionTestCase):
    serialized_rollback = True

    async def start(self, *args: str) -> servers.RunSidecar:
        server = await sync_to_async(servers.RunSidecar)(*args)
        self.addCleanup(server.close)
        return server

    async def join(self, port: int):
        """A socket that got its welcome and state: (ws, the client's port)."""
        for _ in range(20):
            try:
                ws, _, _ = await servers.join(port, self.code, f"session_token={self.ana}")
            except websockets.ConnectionClosed as exc:
                # Its worker's Redis links are not up yet (1013): try again.
                self.assertEqual(exc.rcvd.code, TRY_AGAIN_LATER)
                await asyncio.sleep(0.2)
                continue
            return ws, ws.local_address[1]
        self.fail("no worker let the socket in")

    async def spread(self, port: int, pids: list[int], per_worker: int = 2) -> dict[int, list]:
        """Open sockets until each worker holds at least per_worker: {pid: [ws]}."""
        held: dict[int, list] = {pid: [] for pid in pids}
        for _ in range(200):
            if all(len(sockets) >= per_worker for sockets in held.values()):
                return held
            ws, client_port = await self.join(port)
            owner = socket_owner(port, client_port, pids)
            self.assertIn(owner, held)
            held[owner].append(ws)
        self.fail(f"the kernel never spread sockets over every worker: {held}")

    async def test_a_killed_worker_is_replaced_and_the_others_keep_their_sockets(self):
        metrics = Path(tempfile.mkdtemp()) / "sidecar.prom"
        server = await self.start("--workers", "3", "--metrics-file", str(metrics))
        self.assertEqual(restarts_in(metrics), 0)
        pids = await sync_to_async(wait_workers)(server, 3)
        self.assertEqual(await sync_to_async(restarts_scraped)(server.port), {0})
        held = await self.spread(server.port, pids)
        victim, *survivors = pids

        killed_at = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        # The victim's clients lose their sockets, with no close frame.
        for ws in held[victim]:
            self.assertIsNone(await servers.close_code(ws, 10))
        replacement = await sync_to_async(wait_replaced)(server, victim, pids)
        self.assertLess(time.monotonic() - killed_at, 5)
        await sync_to_async(wait_workers)(server, 3)
        # Nobody else saw a close: every other socket still answers and
        # still gets the game's events.
        others = [ws for pid in survivors for ws in held[pid]]
        quiet = await asyncio.gather(*(still_open(ws, 1.5) for ws in others))
        self.assertEqual(quiet, [True] * len(others))
        for i, ws in enumerate(others):
            await ping(ws, f"after-{i}")
        status, _ = await sync_to_async(self.api.host)(self.code, "start-round", self.host)
        self.assertEqual(status, 200)
        for ws in others:
            event = await servers.recv_json(ws, 10)
            self.assertEqual(event["type"], quiz_events.LIE_STARTED, event)
        # The replacement accepts new sockets on the same port.
        fresh = await self.spread(server.port, [replacement, *survivors], per_worker=1)
        await ping(fresh[replacement][0], "fresh")
        self.assertTrue(all(alive(pid) for pid in survivors))
        # Counted and logged; every live worker's /metrics shows the count.
        self.assertEqual(restarts_in(metrics), 1)
        self.assertEqual(await sync_to_async(restarts_scraped)(server.port), {1})
        log = server.process.logtext()
        self.assertRegex(
            log,
            rf"WARNING realtime\.supervisor: sidecar worker \d \(pid {victim}\) was killed by "
            rf"SIGKILL: restarted as pid {replacement} \(restart 1 of sidecar worker \d, 1 in all",
        )
        for sockets in [*held.values(), *fresh.values()]:
            for ws in sockets:
                await ws.close()
        self.assertEqual(await self.exit_status(server), 0, log)
        self.assertFalse(metrics.exists(), "the metrics file outlived its supervisor")

    async def exit_status(self, server: servers.RunSidecar, sig=signal.SIGTERM) -> int:
        server.process.proc.send_signal(sig)
        return await sync_to_async(server.process.proc.wait)(10 * servers.SLOW)

    async def test_a_worker_that_keeps_dying_is_backed_off_and_sigterm_ends_everything(self):
        server = await self.start("--workers", "2")
        pids = await sync_to_async(wait_workers)(server, 2)
        held = await self.spread(server.port, pids, per_worker=1)
        bystander, victim = pids
        gaps = []
        for _ in range(7):
            os.kill(victim, signal.SIGKILL)
            killed = time.monotonic()
            victim = await sync_to_async(wait_replaced)(server, victim, [bystander, victim], 30)
            gaps.append(time.monotonic() - killed)
        # Four at once, then 1 s, 2 s, 4 s (give or take the machine's load).
        self.assertTrue(all(gap < 0.9 for gap in gaps[:4]), gaps)
        for gap, wait in zip(gaps[4:], (1, 2, 4), strict=True):
            self.assertGreaterEqual(gap, wait - 0.05, gaps)
            self.assertLess(gap, wait + 3, gaps)
        log = server.process.logtext()
        self.assertIn("it died 5 times within 60 s: restarting it in 1 s", log)
        self.assertIn("it died 7 times within 60 s: restarting it in 4 s", log)
        self.assertRegex(log, r"ERROR realtime\.supervisor: sidecar worker \d \(pid \d+\) was kil")
        # The other worker's client never noticed.
        self.assertTrue(await still_open(held[bystander][0], 0.5))
        await ping(held[bystander][0], "bystander")

        # Killed again, it now waits 8 s: SIGTERM meanwhile ends everything at once.
        os.kill(victim, signal.SIGKILL)
        await asyncio.sleep(0.5)
        stopping = time.monotonic()
        self.assertEqual(await self.exit_status(server), 0, log)
        self.assertLess(time.monotonic() - stopping, 5)
        self.assertEqual(await servers.close_code(held[bystander][0]), GOING_AWAY)
        self.assertFalse(any(alive(pid) for pid in (bystander, victim)))
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", server.port), 2).close()

    async def test_sighup_stops_every_worker(self):
        server = await self.start("--workers", "2")
        pids = await sync_to_async(wait_workers)(server, 2)
        held = await self.spread(server.port, pids, per_worker=1)
        self.assertEqual(await self.exit_status(server, signal.SIGHUP), 0)
        for sockets in held.values():
            self.assertEqual(await servers.close_code(sockets[0]), GOING_AWAY)
        self.assertFalse(any(alive(pid) for pid in pids))

    async def test_workers_stop_when_their_supervisor_is_killed(self):
        server = await self.start("--workers", "2")
        pids = await sync_to_async(wait_workers)(server, 2)
        held = await self.spread(server.port, pids, per_worker=1)
        server.process.proc.kill()  # the OOM killer, say: no chance to pass anything on
        # PR_SET_PDEATHSIG: each worker gets SIGTERM and closes its sockets.
        for sockets in held.values():
            self.assertEqual(await servers.close_code(sockets[0]), GOING_AWAY)
        await sync_to_async(wait_until)(lambda: not any(alive(pid) for pid in pids), 10)

    async def test_a_drained_worker_that_dies_is_not_replaced(self):
        server = await self.start("--workers", "2", "--drain-seconds", "30")
        pids = await sync_to_async(wait_workers)(server, 2)
        server.process.proc.send_signal(signal.SIGUSR1)
        await sync_to_async(wait_until)(lambda: listeners(server.port) == 0, 10)
        os.kill(pids[0], signal.SIGKILL)
        await asyncio.sleep(1.5)
        self.assertEqual(worker_pids(server), [pids[1]])
        self.assertIn("after its drain", server.process.logtext())
        self.assertEqual(await self.exit_status(server), 0)

    async def test_workers_that_cannot_start_fail_fast_with_the_reason(self):
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))  # a plain listener: no SO_REUSEPORT
            taken.listen()
            port = taken.getsockname()[1]
            process = servers.Process(
                servers.manage("runsidecar", "--bind", f"127.0.0.1:{port}", "--workers", "3"),
                "runsidecar",
            )
            self.addCleanup(process.close)
            status = await sync_to_async(process.proc.wait)(30)
        self.assertEqual(status, 1)
        log = process.logtext()
        self.assertRegex(
            log,
            rf"CommandError: sidecar worker \d could not start: it exited with status 1: "
            rf"cannot serve on 127\.0\.0\.1:{port}: .*Address already in use",
        )
        self.assertNotIn("restarted", log)
