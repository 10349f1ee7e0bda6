"""uWebSockets (through socketify) as a benchmark peer (issue 20).

Speaks what bench/loadgen.c expects, like bench/rawserver.c: the handshake
on /ws/game/<CODE>/ (no token check), a welcome, the game's stored
session.state, then numbered event frames.

    python bench/peers/uws_peer.py --port P --redis-port R [--prefix asgi]
           [--shm FILE] [--ping SECONDS]

Events come two ways:

- From Redis, exactly as the sidecar gets them: the process owns one
  channels_redis process channel (`specific.<id>!`), puts
  `specific.<id>!g.game_<CODE>` into the group's sorted set when its first
  socket of that game opens, and pops `<prefix>specific.<id>!` with
  BZPOPMIN (redis.asyncio on socketify's asyncio loop); each message (12
  random bytes + msgpack, channels_redis' storage format, written by the
  same Lua script the broadcaster runs for every peer) is decoded once and
  its "text" published to the uWS topic of every group in
  `__asgi_channel__`: uWS' own pub/sub does the fan-out in C++ and corks
  each socket's frames into one send.
- In process (stdin `run`, rawserver's command), no Redis: the peer's best
  case, `app.publish` straight from the loop.

stdin also takes `stats` and `quit`; answers are JSON lines on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import mmap
import os
import random
import re
import struct
import sys
import time

import msgpack
import redis.asyncio as aioredis
from socketify import App, AppListenOptions, OpCode

RANDOM_PREFIX_LEN = 12  # channels_redis' random member prefix
RECEIVE_TIMEOUT_S = 5
RX_BATCH = 64  # messages per receive round trip, as the sidecar (PH_RX_BATCH)
GROUP_EXPIRY_S = 86400
PROGRESS_MAGIC = 0x50484231
STALL_NS = 5_000_000_000
# uWS drops a publish to a socket whose unsent bytes pass this; the sidecar
# closes such a socket at its queue limit instead. Large enough that no
# benchmark run reaches it (a loss would show in the results anyway).
MAX_BACKPRESSURE = 16 * 1024 * 1024
PATH = re.compile(r"^/ws/game/([A-Za-z]{4})/")
DEFAULT_STATE = '{"type":"session.state","seq":0,"payload":{}}'


class Peer:
    """The uWS app, its groups and the Redis links."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.chan_prefix = f"specific.{os.urandom(8).hex()}!"
        self.rx_key = f"{args.prefix}{self.chan_prefix}"  # channels_redis: no colon
        self.members: dict[str, int] = {}  # group -> open sockets here
        self.seqs: dict[str, int] = {}  # in-process runs: group -> last seq
        self.next_id = 0
        # socketify's run_async keeps no reference to the task it starts: a
        # pending one (the stdin reader, BZPOPMIN) would be garbage collected
        # mid-await. Every task is held here until done.
        self.tasks: set = set()
        self.redis = aioredis.Redis(port=args.redis_port) if args.redis_port else None
        self.progress = None
        if args.shm:
            with open(args.shm, "rb") as f:
                self.progress = mmap.mmap(f.fileno(), 4096, access=mmap.ACCESS_READ)
        self.app = App()
        # Ping every --ping s of silence (uWS: idle_timeout, pings sent at
        # about half of it when send_pings_automatically); multiple of 4.
        idle = max(8, -(-2 * args.ping // 4) * 4)
        self.app.ws(
            "/*",
            {
                "compression": 0,
                "max_payload_length": 64 * 1024,
                "idle_timeout": idle,
                "max_backpressure": MAX_BACKPRESSURE,
                "send_pings_automatically": True,
                "upgrade": self.on_upgrade,
                "open": self.on_open,
                "message": lambda ws, msg, opcode: None,
                "close": self.on_close,
            },
        )
        self.app.any("/*", lambda res, req: res.write_status(404).end(""))

    def spawn(self, coro) -> None:
        """Run coro on socketify's asyncio loop, holding it until done."""
        task = self.app.loop.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    # -- sockets ------------------------------------------------------------

    def on_upgrade(self, res, req, context) -> None:
        m = PATH.match(req.get_url() or "")
        if m is None:
            res.write_status(400).end("")
            return
        code = m.group(1).upper()
        self.next_id += 1
        res.upgrade(
            req.get_header("sec-websocket-key"),
            req.get_header("sec-websocket-protocol"),
            req.get_header("sec-websocket-extensions"),
            context,
            {"code": code, "id": self.next_id, "ready": False},
        )

    def on_open(self, ws) -> None:
        data = ws.get_user_data()
        if self.redis is None:
            self.greet(ws, data, DEFAULT_STATE)
            return
        # The stored state is read per socket, as the sidecar does; the
        # socket may close before the answer (on_close marks it).
        data["ws"] = ws
        self.spawn(self.fetch_state(data))

    async def fetch_state(self, data: dict) -> None:
        assert self.redis is not None
        state = await self.redis.get(f"partyhub:state:{data['code']}")
        ws = data.pop("ws", None)
        if ws is not None:
            self.greet(ws, data, state.decode() if state else DEFAULT_STATE)

    def greet(self, ws, data: dict, state: str) -> None:
        code = data["code"]
        ws.send(
            f'{{"type":"welcome","connection_id":"uws{data["id"]}","server_version":"uws",'
            f'"session":"{code}","role":"player","player_id":null}}',
            OpCode.TEXT,
        )
        ws.send(state, OpCode.TEXT)
        group = f"game_{code}"
        ws.subscribe(group)
        data["ready"] = True
        n = self.members.get(group, 0)
        self.members[group] = n + 1
        if n == 0 and self.redis is not None:
            self.spawn(self.group_add(group))

    def on_close(self, ws, code, message) -> None:
        data = ws.get_user_data()
        if data is None:
            return
        data.pop("ws", None)
        if not data["ready"]:
            return
        group = f"game_{data['code']}"
        n = self.members.get(group, 0) - 1
        if n > 0:
            self.members[group] = n
            return
        self.members.pop(group, None)
        if self.redis is not None:
            self.spawn(
                self.redis.zrem(f"{self.args.prefix}:group:{group}", f"{self.chan_prefix}g.{group}")
            )

    async def group_add(self, group: str) -> None:
        assert self.redis is not None
        key = f"{self.args.prefix}:group:{group}"
        await self.redis.zadd(key, {f"{self.chan_prefix}g.{group}": time.time()})
        await self.redis.expire(key, GROUP_EXPIRY_S)

    # -- events from Redis ----------------------------------------------------

    async def receive(self) -> None:
        assert self.redis is not None
        while True:
            try:
                # As the sidecar: a ZPOPMIN of the rest pipelined behind the
                # blocking pop, one round trip per RX_BATCH messages; their
                # publishes in one loop turn let uWS cork each socket's frames.
                async with self.redis.pipeline(transaction=False) as pipe:
                    pipe.bzpopmin(self.rx_key, RECEIVE_TIMEOUT_S)
                    pipe.zpopmin(self.rx_key, RX_BATCH - 1)
                    first, rest = await pipe.execute()
            except Exception as exc:  # the link drops: retry, as the sidecar does
                print(f"BZPOPMIN: {exc}", file=sys.stderr)
                await asyncio.sleep(0.1)
                continue
            if first is not None:
                self.dispatch(first[1])
            for member, _score in rest or ():
                self.dispatch(member)

    def dispatch(self, raw: bytes) -> None:
        try:
            msg = msgpack.unpackb(raw[RANDOM_PREFIX_LEN:])
        except Exception as exc:
            print(f"undecodable channel-layer message: {exc}", file=sys.stderr)
            return
        if not isinstance(msg, dict) or not isinstance(msg.get("text"), str):
            return
        text = msg["text"].encode()
        chans = msg.get("__asgi_channel__")
        if isinstance(chans, str):
            chans = [chans]
        mine = self.chan_prefix + "g."
        for ch in chans if isinstance(chans, list) else ():
            if isinstance(ch, str) and ch.startswith(mine):
                self.app.publish(ch[len(mine) :], text, OpCode.TEXT)

    # -- in-process runs (rawserver's `run`) ---------------------------------

    def deliveries(self) -> int:
        if self.progress is None:
            return sys.maxsize
        magic, n = struct.unpack_from("<QQ", self.progress, 0)
        return n if magic == PROGRESS_MAGIC else 0

    async def run(self, count: int, rate: float, window: int, which: str, payload: int) -> None:
        groups = list(self.members)
        if count < 0 or window < 1 or not 0 <= payload <= 4096:
            self.out({"ev": "error", "msg": "bad run arguments"})
            return
        if which != "*" and f"game_{which}" not in self.members:
            self.out({"ev": "error", "msg": f"unknown game {which}"})
            return
        if not groups:
            self.out({"ev": "error", "msg": "no games"})
            return
        pad = "x" * (payload - 114 if payload > 114 else 1)
        rng = random.Random(1)
        cum = [0]
        stalls = 0
        t0 = time.monotonic_ns()
        for k in range(count):
            group = rng.choice(groups) if which == "*" else f"game_{which}"
            if rate > 0:
                due = t0 + int(k * 1e9 / rate)
                while (left := due - time.monotonic_ns()) > 0:
                    await asyncio.sleep(left / 1e9 - 0.001 if left > 2_000_000 else 0)
            elif k >= window:
                need, start = cum[k - window + 1], time.monotonic_ns()
                while self.deliveries() < need:
                    if time.monotonic_ns() - start > STALL_NS:
                        stalls += 1
                        break
                    await asyncio.sleep(0)
            seq = self.seqs.get(group, 0) + 1
            self.seqs[group] = seq
            t = time.monotonic_ns()
            text = (
                f'{{"type":"phase.game_over","seq":{seq},"payload":{{"t":{t},'
                f'"round":0,"ranking":[],"awards":[],"pad":"{pad}"}}}}'
            )
            self.app.publish(group, text.encode(), OpCode.TEXT)
            cum.append(cum[k] + self.members.get(group, 0))
        self.out(
            {
                "ev": "done",
                "sent": count,
                "frames": cum[count],
                "dropped": 0,
                "stalls": stalls,
                "elapsed_s": (time.monotonic_ns() - t0) / 1e9,
                "expected_deliveries": cum[count],
                "frame_bytes": payload,
            }
        )

    # -- stdin commands ---------------------------------------------------------

    @staticmethod
    def out(obj: dict) -> None:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    async def commands(self) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := await reader.readline():
            parts = line.decode().split()
            if not parts:
                continue
            if parts[0] == "quit":
                break
            if parts[0] == "run":
                a = parts[1:] + ["0", "0", "1", "*", "200", "1"][len(parts) - 1 :]
                await self.run(int(a[0]), float(a[1]), int(a[2]), a[3], int(a[4]))
            elif parts[0] == "stats":
                conns = sum(self.members.values())
                self.out({"ev": "stats", "conns": conns, "games": len(self.members)})
            else:
                self.out({"ev": "error", "msg": "unknown command"})
        os._exit(0)

    def start(self) -> None:
        def listening(config) -> None:
            port = config.port or self.args.port
            self.out({"ev": "hello", "port": port, "peer": "uws", "channel": self.chan_prefix})

        self.app.listen(AppListenOptions(port=self.args.port, host="127.0.0.1"), listening)
        self.spawn(self.commands())
        if self.redis is not None:
            self.spawn(self.receive())
        self.app.run()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--redis-port", type=int, default=0)
    p.add_argument("--prefix", default="asgi")
    p.add_argument("--shm", default="")
    p.add_argument("--ping", type=int, default=20)
    Peer(p.parse_args()).start()


if __name__ == "__main__":
    main()
