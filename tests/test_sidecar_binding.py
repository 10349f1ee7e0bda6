"""The Python binding realtime._sidecar.Server: serve() in a thread with the
GIL released, stop() from another, stats(), drain_logs(), bind errors."""

from __future__ import annotations

import asyncio
import hashlib
import json
import resource
import threading
import time

from django.test import SimpleTestCase
from realtime._sidecar import Server

from . import servers
from .redis_server import free_port
from .runner import PartyhubTestRunner

CODE = "BIND"
TOKEN = "player-token-7"
STATE = '{"type":"session.state","seq":0,"payload":{"phase":"lobby"}}'


class BindingTests(SimpleTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.redis = PartyhubTestRunner.redis
        digest = hashlib.sha256(TOKEN.encode()).hexdigest()
        cls.redis.command("HSET", f"partyhub:session:{CODE}", "host", "0" * 64, f"p:{digest}", "7")
        cls.redis.command("SET", f"partyhub:state:{CODE}", STATE)

    @classmethod
    def tearDownClass(cls):
        cls.redis.command("DEL", f"partyhub:session:{CODE}", f"partyhub:state:{CODE}")
        super().tearDownClass()

    def server(self, **kw) -> Server:
        return Server(host="127.0.0.1", redis_port=self.redis.port, **{"port": 0, **kw})

    def test_serve_stop_stats_logs(self):
        srv = self.server(stop_grace=1.0, allowed_origins="*")
        port = srv.stats()["port"]
        self.assertGreater(port, 0)
        thread = threading.Thread(target=srv.serve)
        thread.start()
        try:
            servers.wait_redis_up(srv.stats)

            async def client():
                ws, welcome, state = await servers.join(port, CODE, f"session_token={TOKEN}")
                await ws.send('{"type":"ping","ts":3}')
                pong = json.loads(await ws.recv())
                # The main thread keeps running Python while serve() blocks.
                self.assertEqual(srv.stats()["connections"], 1)
                await ws.close()
                return welcome, state, pong

            welcome, state, pong = asyncio.run(client())
            self.assertEqual(welcome["player_id"], 7)
            self.assertEqual(json.dumps(state, separators=(",", ":")), STATE)
            self.assertEqual(pong, {"type": "pong", "ts": 3})
            stats = srv.stats()
            self.assertEqual(stats["connections_total"], 1)
            self.assertGreaterEqual(stats["messages_out"], 3)
        finally:
            t0 = time.monotonic()
            srv.stop()
            srv.stop()  # idempotent
            thread.join(10)
            self.assertFalse(thread.is_alive())
            self.assertLess(time.monotonic() - t0, 5)
        logs = srv.drain_logs()
        self.assertTrue(any("listening on" in message for _, message in logs), logs)
        self.assertTrue(all(isinstance(level, int) for level, _ in logs))
        with self.assertRaises(RuntimeError):
            srv.serve()
        srv.stop()  # after the loop is gone: harmless

    def test_bind_failure_raises_oserror(self):
        srv = self.server()
        with self.assertRaises(OSError) as caught:
            Server(host="203.0.113.7", port=srv.stats()["port"], redis_port=self.redis.port)
        self.assertIn("cannot bind", str(caught.exception))
        del srv

    def test_bad_config(self):
        with self.assertRaises(OSError):
            Server(port=0, ping_interval=30, ping_timeout=20)
        with self.assertRaises(TypeError):
            Server(port="x")

    def test_stop_before_serve_returns_at_once(self):
        srv = self.server()
        srv.stop()
        t0 = time.monotonic()
        srv.serve()
        self.assertLess(time.monotonic() - t0, 3)

    def test_two_servers_share_one_port(self):
        port = free_port()
        a = self.server(port=port)
        b = self.server(port=port)
        self.assertEqual(a.stats()["port"], b.stats()["port"])
        del a, b

    def test_nofile_limit_raised(self):
        srv = self.server()
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        self.assertEqual(srv.stats()["nofile_limit"], soft)
        if hard != resource.RLIM_INFINITY:
            self.assertGreaterEqual(soft, min(hard, 1 << 20))
        del srv

    def test_small_rx_buffer_reassembles(self):
        with self.assertRaises(OSError):
            Server(port=0, rx_buffer=64)
        srv = self.server(rx_buffer=128, allowed_origins="*")
        port = srv.stats()["port"]
        thread = threading.Thread(target=srv.serve)
        thread.start()
        try:
            servers.wait_redis_up(srv.stats)

            async def client():
                ws, _welcome, _state = await servers.join(port, CODE, f"session_token={TOKEN}")
                # ~3 KB: arrives in 128-byte pieces, answered as one message.
                await ws.send('{"type":"ping","ts":5' + " " * 3000 + "}")
                pong = json.loads(await ws.recv())
                await ws.close()
                return pong

            self.assertEqual(asyncio.run(client()), {"type": "pong", "ts": 5})
        finally:
            srv.stop()
            thread.join(10)
