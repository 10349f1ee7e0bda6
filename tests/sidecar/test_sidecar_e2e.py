"""End-to-end tests for the C sidecar against a real redis-server.

Runs the standalone driver (tests/c/sidecar_run.c, built by mk/sidecar.mk)
until the Python binding serves the same server. Needs `websockets` and
`channels_redis` (the real library produces and consumes the Redis wire
format). Environment: SIDECAR_BIN (driver path), SIDECAR_WRAP (e.g.
"valgrind --error-exitcode=9" to run the server under a tool).

    python tests/sidecar/test_sidecar_e2e.py [-v] [Test.name]
"""

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.request

import websockets
from channels_redis.core import RedisChannelLayer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SIDECAR_BIN = os.environ.get("SIDECAR_BIN", os.path.join(ROOT, "build/sidecar/sidecar_run"))
SIDECAR_WRAP = shlex.split(os.environ.get("SIDECAR_WRAP", ""))
SLOW = float(os.environ.get("SIDECAR_SLOW", "1"))  # timeout multiplier (valgrind)

# IsolatedAsyncioTestCase runs asyncio in debug mode; its slow-callback
# warnings are noise here.
logging.getLogger("asyncio").setLevel(logging.ERROR)

CODE = "ABCD"
PLAYER_TOKEN = "player-token-7"
HOST_TOKEN = "host_token_abc"
STATE = {"type": "session.state", "phase": "lobby", "players": [{"id": 7}]}


def sha(s):
    return hashlib.sha256(s.encode()).hexdigest()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Redis:
    """A private redis-server on a free port in a temp dir."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="sidecar-redis-")
        self.port = free_port()
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                self.dir,
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(100):
            if self.cli("PING") == "PONG":
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def cli(self, *args):
        r = subprocess.run(
            ["redis-cli", "-p", str(self.port), *args], capture_output=True, text=True
        )
        return r.stdout.strip()

    def kill(self):
        if self.proc:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def cleanup(self):
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


class Sidecar:
    def __init__(self, redis_port, *extra):
        if "--origins" not in extra:
            extra = ("--origins", "good.example", *extra)
        self.port = free_port()
        self.log = tempfile.NamedTemporaryFile(prefix="sidecar-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(
            SIDECAR_WRAP
            + [SIDECAR_BIN, "--port", str(self.port), "--redis-port", str(redis_port), *extra],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.time() + 10 * SLOW
        while time.time() < deadline:
            with contextlib.suppress(Exception):
                if self.health()["redis"] == "up":
                    return
            time.sleep(0.05)
        raise RuntimeError("sidecar did not come up:\n" + self.logtext())

    def url(self, query, code=CODE):
        return f"ws://127.0.0.1:{self.port}/ws/game/{code}/?{query}"

    def get(self, path):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
            return r.read().decode()

    def health(self):
        return json.loads(self.get("/healthz"))

    def metric(self, name):
        for line in self.get("/metrics").splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        raise KeyError(name)

    def logtext(self):
        with open(self.log.name) as f:
            return f.read()

    def stop(self, timeout=10):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout * SLOW)
        if rc != 0:
            # Under ASan/valgrind a non-zero status means the tool found errors.
            raise AssertionError(f"sidecar exited with {rc}:\n{self.logtext()[-4000:]}")
        return rc

    def cleanup(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.unlink(self.log.name)


def seed(redis, code=CODE):
    redis.cli(
        "HSET",
        f"partyhub:session:{code}",
        "host",
        sha(HOST_TOKEN),
        f"p:{sha(PLAYER_TOKEN)}",
        "7",
        f"p:{sha('other-player')}",
        "8",
    )
    redis.cli("SET", f"partyhub:state:{code}", json.dumps(STATE))


async def join(sc, query=f"session_token={PLAYER_TOKEN}", **kw):
    kw.setdefault("origin", "http://good.example")
    ws = await websockets.connect(sc.url(query), max_size=None, **kw)
    welcome = json.loads(await asyncio.wait_for(ws.recv(), 5 * SLOW))
    state = json.loads(await asyncio.wait_for(ws.recv(), 5 * SLOW))
    return ws, welcome, state


async def close_code(ws, timeout=5):
    try:
        while True:
            await asyncio.wait_for(ws.recv(), timeout * SLOW)
    except websockets.ConnectionClosed as e:
        return e.rcvd.code if e.rcvd else None


class _ServerCase(unittest.IsolatedAsyncioTestCase):
    """One redis-server and one sidecar shared by the tests of a class."""

    extra_args = ()

    @classmethod
    def setUpClass(cls):
        cls.redis = Redis()
        cls.redis.start()
        seed(cls.redis)
        cls.sc = Sidecar(cls.redis.port, *cls.extra_args)

    @classmethod
    def tearDownClass(cls):
        try:
            cls.sc.stop()
        finally:
            cls.sc.cleanup()
            cls.redis.cleanup()

    def layer(self):
        return RedisChannelLayer(hosts=[("127.0.0.1", self.redis.port)])


class SidecarTest(_ServerCase):
    extra_args = ("--origins", "http://good.example")

    # -- handshake and welcome ------------------------------------------

    async def test_player_welcome_and_state(self):
        ws, welcome, state = await join(self.sc)
        self.assertEqual(welcome["type"], "welcome")
        self.assertEqual(welcome["session"], CODE)
        self.assertEqual(welcome["role"], "player")
        self.assertEqual(welcome["player_id"], 7)
        self.assertIsInstance(welcome["connection_id"], str)
        self.assertIn("server_version", welcome)
        self.assertEqual(state, STATE)
        await ws.close()

    async def test_host_welcome(self):
        ws, welcome, state = await join(self.sc, f"role=host&session_token={HOST_TOKEN}")
        self.assertEqual(welcome["role"], "host")
        self.assertIsNone(welcome["player_id"])
        self.assertEqual(state, STATE)
        await ws.close()

    async def test_close_codes_auth(self):
        cases = [
            ("session_token=wrong", CODE, 4003),
            ("", CODE, 4003),
            ("session_token=", CODE, 4003),
            ("session_token=bad+token", CODE, 4003),
            (f"role=host&session_token={PLAYER_TOKEN}", CODE, 4003),
            (f"session_token={PLAYER_TOKEN}", "ZZZZ", 4004),
        ]
        for query, code, expect in cases:
            with self.subTest(query=query, code=code):
                ws = await websockets.connect(
                    self.sc.url(query, code), origin="http://good.example"
                )
                self.assertEqual(await close_code(ws), expect)

    async def test_bad_path_refused(self):
        for path in ("/ws/game/abcd/", "/ws/game/ABCDE/", "/ws/game/ABCD", "/other/"):
            with self.subTest(path=path):
                with self.assertRaises((OSError, websockets.InvalidHandshake)):
                    await websockets.connect(f"ws://127.0.0.1:{self.sc.port}{path}?session_token=x")

    async def test_origin(self):
        ws, _, _ = await join(self.sc, origin="http://good.example")
        await ws.close()
        with self.assertRaises((OSError, websockets.InvalidHandshake)):
            await websockets.connect(
                self.sc.url(f"session_token={PLAYER_TOKEN}"), origin="http://evil.example"
            )

    # -- client messages ------------------------------------------------

    async def test_ping_pong_and_errors_keep_socket_open(self):
        ws, _, _ = await join(self.sc)
        for ts in (123, 1.5, "abc", {"a": [1, None, True]}, None):
            await ws.send(json.dumps({"type": "ping", "ts": ts}))
            self.assertEqual(json.loads(await ws.recv()), {"type": "pong", "ts": ts})
        for raw, code in [
            ("not json", "MESSAGE_PARSE_FAILED"),
            ("{", "MESSAGE_PARSE_FAILED"),
            ("[1,2]", "INVALID_MESSAGE"),
            ('"x"', "INVALID_MESSAGE"),
            ('{"no":"type"}', "INVALID_MESSAGE"),
            ('{"type":5}', "INVALID_MESSAGE"),
        ]:
            await ws.send(raw)
            msg = json.loads(await ws.recv())
            self.assertEqual((msg["type"], msg["code"]), ("error", code), raw)
            self.assertIsInstance(msg["message"], str)
        await ws.send(json.dumps({"type": "ping", "ts": 1}))
        self.assertEqual(json.loads(await ws.recv())["type"], "pong")
        await ws.close()

    async def test_oversize_1009(self):
        ws, _, _ = await join(self.sc)
        await ws.send(json.dumps({"type": "ping", "ts": "x" * 5000}))
        self.assertEqual(await close_code(ws), 1009)

    async def test_fragmented_oversize_1009(self):
        ws, _, _ = await join(self.sc)
        await ws.send(["x" * 3000, "y" * 3000])
        self.assertEqual(await close_code(ws), 1009)

    async def test_fragmented_ok(self):
        ws, _, _ = await join(self.sc)
        await ws.send(['{"type":"pi', 'ng","ts":42}'])
        self.assertEqual(json.loads(await ws.recv()), {"type": "pong", "ts": 42})
        await ws.close()

    async def test_invalid_utf8_1007(self):
        ws, _, _ = await join(self.sc)
        await ws.send(b'{"type":"ping","ts":"\xff\xfe"}', text=True)
        self.assertEqual(await close_code(ws), 1007)

    async def test_binary_1003(self):
        ws, _, _ = await join(self.sc)
        await ws.send(b"\x00\x01")
        self.assertEqual(await close_code(ws), 1003)

    # -- channels_redis in and out -------------------------------------

    async def test_broadcast_500_clients_in_order(self):
        clients = await asyncio.gather(*(join(self.sc) for _ in range(500)))
        sockets = [c[0] for c in clients]
        layer = self.layer()
        n = 20
        t0 = time.monotonic()
        for seq in range(n):
            text = json.dumps({"type": "game.event", "seq": seq, "payload": "x" * 10})
            await layer.group_send(f"game_{CODE}", {"type": "game.event", "seq": seq, "text": text})
        t_sent = time.monotonic()

        async def drain(ws):
            return [
                json.loads(await asyncio.wait_for(ws.recv(), 10 * SLOW))["seq"] for _ in range(n)
            ]

        got = await asyncio.gather(*(drain(ws) for ws in sockets))
        elapsed = time.monotonic() - t0
        for seqs in got:
            self.assertEqual(seqs, list(range(n)))
        lat_sum = self.sc.metric("partyhub_sidecar_fanout_latency_seconds_sum")
        lat_n = self.sc.metric("partyhub_sidecar_fanout_latency_seconds_count")
        # The client side is slow here: IsolatedAsyncioTestCase runs asyncio
        # in debug mode. The server-side figure is the fan-out histogram.
        print(
            f"\n  {n} group_send x 500 clients: sent in {(t_sent - t0) * 1000:.0f} ms, "
            f"all received in {elapsed * 1000:.0f} ms (asyncio debug mode); server "
            f"fan-out mean {lat_sum / lat_n * 1000:.1f} ms over {lat_n:.0f} messages"
        )
        await asyncio.gather(*(ws.close() for ws in sockets))
        await layer.flush()

    async def test_player_group_and_websocket_close(self):
        a, _, _ = await join(self.sc)
        b, _, _ = await join(self.sc, "session_token=other-player")
        layer = self.layer()
        await layer.group_send(
            f"player_{CODE}_8", {"type": "game.private", "text": '{"type":"secret"}'}
        )
        self.assertEqual(json.loads(await b.recv()), {"type": "secret"})
        with self.assertRaises(asyncio.TimeoutError):
            await asyncio.wait_for(a.recv(), 0.3)
        await layer.group_send(f"player_{CODE}_8", {"type": "websocket.close", "code": 4321})
        self.assertEqual(await close_code(b), 4321)
        await a.close()
        await layer.flush()

    async def test_inbound_forward_and_direct_reply(self):
        ws, welcome, _ = await join(self.sc)
        layer = self.layer()
        text = json.dumps({"type": "submit_answer", "answer": "ünïcode"})
        await ws.send(text)
        msg = await asyncio.wait_for(layer.receive("partyhub.inbound"), 5 * SLOW)
        self.assertEqual(msg["type"], "client.message")
        self.assertEqual(msg["session"], CODE)
        self.assertEqual(msg["player_id"], 7)
        self.assertEqual(msg["role"], "player")
        self.assertEqual(msg["text"], text)
        self.assertTrue(msg["reply_channel"].endswith("!c." + welcome["connection_id"]))
        await layer.send(msg["reply_channel"], {"type": "game.reply", "text": '{"type":"ack"}'})
        self.assertEqual(json.loads(await asyncio.wait_for(ws.recv(), 5 * SLOW)), {"type": "ack"})
        await ws.close()
        await layer.flush()

    async def test_group_membership_one_member_per_process(self):
        sockets = [(await join(self.sc))[0] for _ in range(3)]
        members = self.redis.cli("ZRANGE", f"asgi:group:game_{CODE}", "0", "-1").split()
        self.assertEqual(len(members), 1)
        self.assertTrue(
            members[0].startswith("specific.") and members[0].endswith(f"!g.game_{CODE}")
        )
        for ws in sockets:
            await ws.close()
        for _ in range(50):
            if self.redis.cli("EXISTS", f"asgi:group:game_{CODE}") == "0":
                break
            await asyncio.sleep(0.05)
        self.assertEqual(self.redis.cli("EXISTS", f"asgi:group:game_{CODE}"), "0")

    async def test_healthz_metrics(self):
        h = self.sc.health()
        self.assertEqual(h["redis"], "up")
        self.assertIn("connections", h)
        text = self.sc.get("/metrics")
        for name in (
            "partyhub_sidecar_connections",
            "partyhub_sidecar_messages_out_total",
            "partyhub_sidecar_broadcasts_total",
            "partyhub_sidecar_slow_consumer_closes_total",
            "partyhub_sidecar_redis_reconnects_total",
            "partyhub_sidecar_fanout_latency_seconds_bucket",
        ):
            self.assertIn(name, text)


class SlowConsumerTest(_ServerCase):
    """Small queue limits; one client that never reads."""

    extra_args = ("--hard-bytes", "200000", "--soft-bytes", "100000", "--soft-ms", "500")

    async def test_slow_consumer_cut_others_unaffected(self):
        fast, _, _ = await join(self.sc)
        # A raw client that completes the handshake and then never reads.
        raw = socket.create_connection(("127.0.0.1", self.sc.port))
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        raw.sendall(
            (
                f"GET /ws/game/{CODE}/?session_token={PLAYER_TOKEN} HTTP/1.1\r\n"
                "Host: x\r\nOrigin: http://good.example\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        await asyncio.sleep(0.3)
        before = self.sc.metric("partyhub_sidecar_slow_consumer_closes_total")
        layer = self.layer()
        n = 150
        blob = "z" * 30000
        received = []

        async def reader():
            while len(received) < n:
                received.append(json.loads(await asyncio.wait_for(fast.recv(), 10 * SLOW))["seq"])

        task = asyncio.create_task(reader())
        for seq in range(n):
            await layer.group_send(
                f"game_{CODE}",
                {"type": "game.event", "text": json.dumps({"seq": seq, "blob": blob})},
            )
        await task
        self.assertEqual(received, list(range(n)))
        for _ in range(40):
            if self.sc.metric("partyhub_sidecar_slow_consumer_closes_total") > before:
                break
            await asyncio.sleep(0.05)
        self.assertEqual(self.sc.metric("partyhub_sidecar_slow_consumer_closes_total"), before + 1)
        self.assertIn("slow consumer", self.sc.logtext())
        raw.close()
        await fast.close()
        await layer.flush()


class HeartbeatTest(_ServerCase):
    """PING after 1 s idle, hang up after 2 s without PONG."""

    extra_args = ("--ping", "1", "--ping-timeout", "2")

    async def test_silent_peer_is_hung_up_live_peer_kept(self):
        live, _, _ = await join(self.sc)  # websockets answers PINGs
        raw = socket.create_connection(("127.0.0.1", self.sc.port))
        raw.sendall(
            (
                f"GET /ws/game/{CODE}/?session_token={PLAYER_TOKEN} HTTP/1.1\r\n"
                "Host: x\r\nOrigin: http://good.example\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        await asyncio.sleep(0.5)
        self.assertEqual(self.sc.health()["connections"], 2)
        await asyncio.sleep(4 * SLOW)
        self.assertEqual(self.sc.health()["connections"], 1)  # the raw one is gone
        await live.send(json.dumps({"type": "ping", "ts": 1}))
        self.assertEqual(json.loads(await live.recv())["type"], "pong")
        raw.close()
        await live.close()


class LifecycleTest(unittest.IsolatedAsyncioTestCase):
    """Redis restart and graceful stop, each with a private server."""

    async def asyncSetUp(self):
        self.redis = Redis()
        self.redis.start()
        seed(self.redis)
        self.sc = Sidecar(self.redis.port)

    async def asyncTearDown(self):
        self.sc.cleanup()
        self.redis.cleanup()

    async def test_redis_restart_keeps_sockets_and_resyncs(self):
        ws, _, _ = await join(self.sc)
        self.redis.cli("SAVE")
        self.redis.kill()
        await asyncio.sleep(0.5)
        self.assertEqual(self.sc.health()["redis"], "down")
        await ws.send(json.dumps({"type": "ping", "ts": 5}))
        self.assertEqual(json.loads(await ws.recv())["type"], "pong")  # still open
        await ws.send(json.dumps({"type": "submit_answer"}))
        self.assertEqual(json.loads(await ws.recv())["code"], "SERVER_BUSY")
        self.redis.start()  # reloads dump.rdb from the same dir
        state = json.loads(await asyncio.wait_for(ws.recv(), 10 * SLOW))
        self.assertEqual(state, STATE)  # resent after reconnect
        members = self.redis.cli("ZRANGE", f"asgi:group:game_{CODE}", "0", "-1").split()
        self.assertTrue(any(m.endswith(f"!g.game_{CODE}") for m in members))
        self.assertGreaterEqual(self.sc.metric("partyhub_sidecar_redis_reconnects_total"), 1)
        self.assertGreaterEqual(self.sc.metric("partyhub_sidecar_redis_undelivered_total"), 1)
        layer = RedisChannelLayer(hosts=[("127.0.0.1", self.redis.port)])
        await layer.group_send(
            f"game_{CODE}", {"type": "game.event", "text": '{"after":"restart"}'}
        )
        self.assertEqual(
            json.loads(await asyncio.wait_for(ws.recv(), 10 * SLOW)), {"after": "restart"}
        )
        await ws.close()
        self.sc.stop()

    async def test_graceful_stop_1001(self):
        sockets = [(await join(self.sc))[0] for _ in range(20)]
        self.assertEqual(self.redis.cli("EXISTS", f"asgi:group:game_{CODE}"), "1")
        t0 = time.monotonic()
        self.sc.proc.send_signal(signal.SIGTERM)
        codes = await asyncio.gather(*(close_code(ws) for ws in sockets))
        self.assertEqual(set(codes), {1001})
        rc = await asyncio.get_running_loop().run_in_executor(None, self.sc.proc.wait, 10 * SLOW)
        elapsed = time.monotonic() - t0
        self.assertEqual(rc, 0)
        self.assertLess(elapsed, 5 * SLOW)
        self.assertEqual(self.redis.cli("EXISTS", f"asgi:group:game_{CODE}"), "0")

    async def test_bind_failure_is_clear(self):
        r = subprocess.run(
            SIDECAR_WRAP
            + [
                SIDECAR_BIN,
                "--port",
                str(self.sc.port),
                "--host",
                "203.0.113.1",
                "--redis-port",
                str(self.redis.port),
            ],
            capture_output=True,
            text=True,
            timeout=20 * SLOW,
        )
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot bind", r.stderr)
        self.sc.stop()


if __name__ == "__main__":
    unittest.main()
