"""The Python binding: realtime._sidecar.Server (or the stand-in module
built by `make -f mk/sidecar.mk sidecar-pytest` until module.c registers it).

serve() runs in a thread with the GIL released; stop() from another thread.
"""

import asyncio
import importlib
import json
import os
import sys
import threading
import time
import unittest

import websockets

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from test_sidecar_e2e import CODE, PLAYER_TOKEN, STATE, Redis, free_port, seed  # noqa: E402


def server_type():
    """realtime._sidecar.Server when registered, else the stand-in."""
    try:
        mod = importlib.import_module("realtime._sidecar")
        if hasattr(mod, "Server"):
            return mod.Server, "realtime._sidecar"
    except ImportError:
        pass
    sys.path.insert(0, os.environ.get("SIDECAR_PYMOD_DIR", "build/sidecar"))
    mod = importlib.import_module("_sidecar_server_test")
    return mod.Server, "_sidecar_server_test"


Server, WHERE = server_type()


class BindingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        print(f"\n  Server from {WHERE}")
        cls.redis = Redis()
        cls.redis.start()
        seed(cls.redis)

    @classmethod
    def tearDownClass(cls):
        cls.redis.cleanup()

    def test_serve_stop_stats_logs(self):
        srv = Server(
            host="127.0.0.1",
            port=0,
            redis_port=self.redis.port,
            stop_grace=1.0,
            allowed_origins="*",
        )
        port = srv.stats()["port"]
        self.assertGreater(port, 0)
        t = threading.Thread(target=srv.serve)
        t.start()
        try:
            for _ in range(100):
                if srv.stats()["redis_up"]:
                    break
                time.sleep(0.05)
            self.assertTrue(srv.stats()["redis_up"])

            async def client():
                url = f"ws://127.0.0.1:{port}/ws/game/{CODE}/?session_token={PLAYER_TOKEN}"
                async with websockets.connect(url) as ws:
                    welcome = json.loads(await ws.recv())
                    state = json.loads(await ws.recv())
                    await ws.send('{"type":"ping","ts":3}')
                    pong = json.loads(await ws.recv())
                    # The main thread keeps running Python while serve() blocks.
                    self.assertEqual(srv.stats()["connections"], 1)
                    return welcome, state, pong

            welcome, state, pong = asyncio.run(client())
            self.assertEqual(welcome["player_id"], 7)
            self.assertEqual(state, STATE)
            self.assertEqual(pong, {"type": "pong", "ts": 3})
            s = srv.stats()
            self.assertEqual(s["connections_total"], 1)
            self.assertGreaterEqual(s["messages_out"], 3)
        finally:
            t0 = time.monotonic()
            srv.stop()
            srv.stop()  # idempotent
            t.join(10)
            self.assertFalse(t.is_alive())
            self.assertLess(time.monotonic() - t0, 5)
        logs = srv.drain_logs()
        self.assertTrue(any("listening on" in m for _, m in logs), logs)
        self.assertTrue(all(isinstance(lv, int) for lv, _ in logs))
        with self.assertRaises(RuntimeError):
            srv.serve()
        srv.stop()  # after the loop is gone: harmless

    def test_bind_failure_raises_oserror(self):
        srv = Server(host="127.0.0.1", port=0, redis_port=self.redis.port)
        port = srv.stats()["port"]
        with self.assertRaises(OSError) as cm:
            Server(host="203.0.113.7", port=port, redis_port=self.redis.port)
        self.assertIn("cannot bind", str(cm.exception))
        del srv

    def test_bad_config(self):
        with self.assertRaises(OSError):
            Server(port=0, ping_interval=30, ping_timeout=20)
        with self.assertRaises(TypeError):
            Server(port="x")

    def test_stop_before_serve(self):
        srv = Server(host="127.0.0.1", port=0, redis_port=self.redis.port)
        srv.stop()
        t0 = time.monotonic()
        srv.serve()  # returns at once
        self.assertLess(time.monotonic() - t0, 3)

    def test_reuseport_two_servers_one_port(self):
        port = free_port()
        a = Server(host="127.0.0.1", port=port, redis_port=self.redis.port)
        b = Server(host="127.0.0.1", port=port, redis_port=self.redis.port)
        self.assertEqual(a.stats()["port"], b.stats()["port"])
        del a, b


if __name__ == "__main__":
    unittest.main()
