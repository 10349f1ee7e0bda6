"""Limits for abusive clients (docs/architecture.md, "Limits").

The message rate (a token bucket per socket: `msg_rate`, `msg_burst`,
`msg_flood`) runs on both servers with the deployed defaults; the
connection caps (`max_conns_per_ip`, `max_connections`, `trusted_proxies`)
are the sidecar's. Every abuse is checked together with a well-behaved
client of the same game, which must see every event, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
import urllib.request

import websockets
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.test import SimpleTestCase, TransactionTestCase

from realtime import keys, protocol
from realtime.config import DEFAULTS

from . import servers
from .helpers import (
    EVENTS_PER_ROUND,
    GameCase,
    ServerPerClass,
    expect_logs,
    play_game,
    raw_handshake,
    wait_for,
)
from .wsraw import OP_CLOSE, OP_TEXT, HandshakeError, RawWebSocket, frame


def metrics(port: int) -> dict[str, float]:
    """The sidecar's /metrics as {name: value} (unlabelled samples only)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    return {m.group(1): float(m.group(2)) for m in re.finditer(r"^(\w+) ([0-9.e+]+)$", text, re.M)}


def handshake(port: int, code: str, token: str, client: str | None = None) -> RawWebSocket | int:
    """Open a socket, as if from address `client` (X-Forwarded-For, believed
    from loopback by default): the socket, or the refusing HTTP status."""
    headers = (("X-Forwarded-For", client),) if client else ()
    try:
        return RawWebSocket.connect(
            "127.0.0.1",
            port,
            f"/ws/game/{code}/?session_token={token}",
            origin=servers.ORIGIN,
            extra_headers=headers,
        )
    except HandshakeError as exc:
        return exc.status


async def flood(ws, count: int) -> int:
    """Send `count` pings as fast as the socket takes them; how many went out."""
    sent = 0
    with contextlib.suppress(websockets.ConnectionClosed):
        for i in range(count):
            await ws.send(f'{{"type":"ping","ts":{i}}}')
            sent += 1
    return sent


def raw_flood(port: int, code: str, token: str, count: int) -> int | None:
    """A flooder on a raw socket, for a thread of its own (the test's event
    loop stays free for the clients it checks): `count` pings in one write,
    then read up to the server's close frame. Returns its code."""
    ws = handshake(port, code, token)
    try:
        ws.send_raw(b"".join(frame(OP_TEXT, b'{"type":"ping","ts":%d}' % i) for i in range(count)))
        while True:
            received = ws.recv_frame(20)
            if received.opcode == OP_CLOSE:
                ws.send_close(received.close_code())
                return received.close_code()
    finally:
        ws.close()


async def replies_until_close(ws, timeout: float = 20) -> tuple[list[dict], int | None]:
    """Every message up to the server's close, and its close code."""
    replies = []
    try:
        while True:
            replies.append(json.loads(await asyncio.wait_for(ws.recv(), timeout)))
    except websockets.ConnectionClosed as exc:
        return replies, exc.rcvd.code if exc.rcvd else None


class RateLimitCases(ServerPerClass):
    """The message rate on one server (`server_class`), default settings."""

    def expect_flood_warning(self):
        """The sidecar's warning, checked; Daphne's stays in its own log."""
        if self.server.name == "sidecar":
            return expect_logs(self, self.server, "over msg_rate")
        return contextlib.nullcontext()

    async def test_a_flood_is_refused_then_closed_while_the_game_goes_on(self):
        port = self.server.port
        good, _, state = await servers.join(port, self.code, f"session_token={self.bo}")
        bad, _, _ = await servers.join(port, self.code, f"session_token={self.ana}")
        burst, flood_limit = DEFAULTS["msg_burst"], DEFAULTS["msg_flood"]
        with self.expect_flood_warning():
            sending = asyncio.create_task(flood(bad, 10_000))
            replies, code = await replies_until_close(bad)
            await sending
            await sync_to_async(play_game)(self.api, self.code, self.host, [self.ana, self.bo], 1)
        self.assertEqual(code, protocol.CLOSE_FLOODING)
        kinds = [r["type"] for r in replies]
        # The burst is answered, then refusals: never more than msg_flood.
        self.assertEqual(kinds[:burst], [protocol.PONG] * burst)
        refused = [r for r in replies if r["type"] == protocol.ERROR]
        # msg_flood refusals without a pause: the last one closes unanswered.
        self.assertEqual(len(refused), flood_limit - 1)
        self.assertEqual(
            refused[0],
            protocol.error(protocol.RATE_LIMITED, protocol.TOO_MANY_MESSAGES),
        )
        pongs = [r["ts"] for r in replies if r["type"] == protocol.PONG]
        self.assertEqual(pongs, sorted(pongs))
        # The player next to it got every event of the round, in order.
        n = EVENTS_PER_ROUND + 1
        events = [await servers.recv_json(good, 10) for _ in range(n)]
        self.assertEqual(
            [e["seq"] for e in events], list(range(state["seq"] + 1, state["seq"] + 1 + n))
        )
        await good.send('{"type":"ping","ts":"still here"}')
        self.assertEqual(await servers.recv_json(good), protocol.pong("still here"))
        await good.close()

    async def test_a_burst_within_msg_burst_is_answered_in_full(self):
        ws, _, _ = await servers.join(self.server.port, self.code, f"session_token={self.ana}")
        burst = DEFAULTS["msg_burst"]
        for i in range(burst):
            await ws.send(f'{{"type":"ping","ts":{i}}}')
        self.assertEqual(
            [await servers.recv_json(ws) for _ in range(burst)],
            [protocol.pong(i) for i in range(burst)],
        )
        await ws.close()


class DaphneRateLimitTests(RateLimitCases, TransactionTestCase):
    server_class = servers.Daphne


class SidecarRateLimitTests(RateLimitCases, TransactionTestCase):
    server_class = staticmethod(servers.Sidecar)

    async def test_refusals_and_flood_closes_are_counted(self):
        before = metrics(self.server.port)
        ws, _, _ = await servers.join(self.server.port, self.code, f"session_token={self.ana}")
        with expect_logs(self, self.server, "over msg_rate"):
            sending = asyncio.create_task(flood(ws, 1000))
            _, code = await replies_until_close(ws)
            await sending
        self.assertEqual(code, protocol.CLOSE_FLOODING)
        after = metrics(self.server.port)
        self.assertEqual(
            after["partyhub_sidecar_flood_closes_total"],
            before["partyhub_sidecar_flood_closes_total"] + 1,
        )
        self.assertEqual(
            after["partyhub_sidecar_rate_limited_total"],
            before["partyhub_sidecar_rate_limited_total"] + DEFAULTS["msg_flood"],
        )


class ConnectionCapTests(GameCase):
    """max_conns_per_ip and max_connections on the sidecar (HTTP 429 / 503)."""

    sidecar_options = {"max_conns_per_ip": 20}

    async def test_500_sockets_from_one_address_are_capped_and_others_unaffected(self):
        port, cap = self.sidecar.port, self.sidecar_options["max_conns_per_ip"]
        good, _, state = await servers.join(port, self.code, f"session_token={self.bo}")
        before = metrics(port)

        def open_many():
            return [handshake(port, self.code, self.ana, "203.0.113.9") for _ in range(500)]

        with expect_logs(self, self.sidecar, "max_conns_per_ip"):
            opened = await asyncio.to_thread(open_many)
        accepted = [ws for ws in opened if isinstance(ws, RawWebSocket)]
        self.assertEqual(len(accepted), cap)
        self.assertEqual({s for s in opened if isinstance(s, int)}, {429})
        after = metrics(port)
        self.assertEqual(
            after["partyhub_sidecar_ip_limit_refusals_total"],
            before["partyhub_sidecar_ip_limit_refusals_total"] + 500 - cap,
        )
        # Other clients (here loopback without X-Forwarded-For: a trusted proxy
        # naming no client, never capped per address) still get in, and the
        # game reaches everyone.
        other, _, _ = await servers.join(port, self.code, f"session_token={self.ana}")
        await sync_to_async(self.api.host)(self.code, "start-round", self.host)
        for ws in (good, other):
            self.assertEqual((await servers.recv_json(ws))["seq"], state["seq"] + 1)
        # Closing them frees the address's slots.
        for ws in accepted:
            ws.close()
        self.assertTrue(
            await wait_for(lambda: self.sidecar.stats()["connections"] == 2), "sockets not closed"
        )
        again = await asyncio.to_thread(handshake, port, self.code, self.ana, "203.0.113.9")
        self.assertIsInstance(again, RawWebSocket)
        again.close()
        for ws in (good, other):
            await ws.close()

    async def test_forwarded_for_counts_only_from_trusted_proxies(self):
        # Through a chain of trusted proxies the client is the first untrusted
        # address from the right; whatever a client writes further left is
        # not believed.
        cap = self.sidecar_options["max_conns_per_ip"]
        chains = ["198.51.100.1, 198.51.100.7, 127.0.0.1"]
        chains += [f"10.0.0.{i}, 198.51.100.7" for i in range(cap - 1)]
        # (Refusals are logged the 1st, 2nd, 4th... time only; the counter
        # has every one.)
        await fill_then_refuse(self, chains, "198.51.100.7")


async def fill_then_refuse(case, forwarded: list[str], extra: str) -> None:
    """Open a socket per X-Forwarded-For value in `forwarded` (all must be
    accepted), then one with `extra`, which must be refused with 429 and
    counted; close them all."""
    port, code, token = case.sidecar.port, case.code, case.ana
    held = [await asyncio.to_thread(handshake, port, code, token, xff) for xff in forwarded]
    case.assertTrue(all(isinstance(ws, RawWebSocket) for ws in held), held)
    before = metrics(port)["partyhub_sidecar_ip_limit_refusals_total"]
    refused = await asyncio.to_thread(handshake, port, code, token, extra)
    case.assertEqual(refused, 429)
    case.assertEqual(metrics(port)["partyhub_sidecar_ip_limit_refusals_total"], before + 1)
    for ws in held:
        ws.close()
    case.assertTrue(await wait_for(lambda: case.sidecar.stats()["connections"] == 0))


class UntrustedProxyTests(GameCase):
    """With no trusted proxies X-Forwarded-For is ignored: the socket's own
    address counts, so a client cannot escape the cap by inventing one."""

    sidecar_options = {"max_conns_per_ip": 3, "trusted_proxies": ""}

    async def test_invented_addresses_share_the_real_one(self):
        invented = [f"192.0.2.{i}" for i in range(3)]
        with expect_logs(self, self.sidecar, "127.0.0.1 has max_conns_per_ip (3) open"):
            await fill_then_refuse(self, invented, "192.0.2.99")


class MaxConnectionsTests(GameCase):
    sidecar_options = {"max_connections": 3}

    async def test_over_max_connections_the_handshake_gets_503(self):
        port = self.sidecar.port
        held = [
            (await servers.join(port, self.code, f"session_token={self.ana}"))[0] for _ in range(3)
        ]
        before = metrics(port)
        with expect_logs(self, self.sidecar, "max_connections (3) reached"):
            refused = await asyncio.to_thread(handshake, port, self.code, self.bo)
        self.assertEqual(refused, 503)
        self.assertEqual(
            metrics(port)["partyhub_sidecar_conn_limit_refusals_total"],
            before["partyhub_sidecar_conn_limit_refusals_total"] + 1,
        )
        await held[0].close()
        self.assertTrue(await wait_for(lambda: self.sidecar.stats()["connections"] == 2))
        ws, _, _ = await servers.join(port, self.code, f"session_token={self.bo}")
        for other in (ws, *held[1:]):
            await other.close()


class AllAbusersAtOnceTests(GameCase):
    """A whole game while a client floods, one never reads and one address
    opens 500 sockets: the players and the host see every event, in order."""

    # Output limits with room for a reader in a busy test process, none for
    # a client that never reads.
    sidecar_options = {"max_conns_per_ip": 50, "soft_bytes": 300_000, "soft_seconds": 2.0}

    async def test_well_behaved_clients_see_no_change(self):
        port, code = self.sidecar.port, self.code
        good = [
            (await servers.join(port, code, query))[0]
            for query in (
                f"session_token={self.ana}",
                f"session_token={self.bo}",
                f"role=host&session_token={self.host}",
            )
        ]
        never_reads = raw_handshake(port, code, self.bo, rcvbuf=4096)
        before = self.sidecar.stats()
        blobs = 100
        n = 2 * EVENTS_PER_ROUND + 1 + blobs

        async def read_all(ws):
            return [json.loads(await asyncio.wait_for(ws.recv(), 60)) for _ in range(n)]

        async def big_sends():
            layer = get_channel_layer()
            for i in range(blobs):
                text = json.dumps({"blob": i, "b": "z" * 30000})
                await layer.group_send(keys.group_name(code), {"type": "game.event", "text": text})

        def open_many():
            return [handshake(port, code, self.ana, "203.0.113.66") for _ in range(500)]

        with expect_logs(self, self.sidecar, "over msg_rate"):
            readers = [asyncio.create_task(read_all(ws)) for ws in good]
            flood_code, opened, _, _ = await asyncio.gather(
                asyncio.to_thread(raw_flood, port, code, self.ana, 10_000),
                asyncio.to_thread(open_many),
                sync_to_async(play_game)(self.api, code, self.host, [self.ana, self.bo], 2),
                big_sends(),
            )
            received = await asyncio.gather(*readers)
        self.assertEqual(flood_code, protocol.CLOSE_FLOODING)
        accepted = [ws for ws in opened if isinstance(ws, RawWebSocket)]
        self.assertEqual(len(accepted), 50)
        # Every well-behaved client: the game's events in seq order, the big
        # messages in send order, and the same sequence as the others.
        for events in received:
            seqs = [e["seq"] for e in events if "seq" in e]
            self.assertEqual(seqs, list(range(seqs[0], seqs[0] + 2 * EVENTS_PER_ROUND + 1)))
            self.assertEqual([e["blob"] for e in events if "blob" in e], list(range(blobs)))
        self.assertTrue(all(events == received[0] for events in received))
        # The soft limit is checked when a frame is queued (as Redis checks
        # its client output limits), and on a slow machine the game may end
        # within soft_seconds of the breach: keep queueing until the
        # never-reader is cut (an idle one is dropped by the heartbeat).
        stats, layer = self.sidecar.stats, get_channel_layer()
        deadline = time.monotonic() + 30 * servers.SLOW
        while stats()["slow_consumer_closes"] == before["slow_consumer_closes"]:
            self.assertLess(time.monotonic(), deadline, "the never-reader was not cut")
            await layer.group_send(
                keys.group_name(code), {"type": "game.event", "text": '{"tick":1}'}
            )
            await asyncio.sleep(0.25)
        never_reads.close()
        for ws in accepted:
            ws.close()
        for ws in good:
            await ws.close()


class SettingsTests(SimpleTestCase):
    def test_limit_settings_out_of_range_are_refused(self):
        from realtime._sidecar import Server

        for bad in (
            {"msg_rate": -1.0},
            {"msg_rate": float("nan")},
            {"msg_burst": 0},
            {"msg_flood": 0},
            {"max_conns_per_ip": -1},
            {"max_connections": -1},
        ):
            with self.subTest(**bad), self.assertRaisesRegex(OSError, "out of range"):
                Server(host="127.0.0.1", port=0, **bad)
