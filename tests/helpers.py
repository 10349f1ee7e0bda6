"""Shared test helpers: a REST driver for whole games, a sidecar game case,
a client that never reads, a recorder of everything published, and log and
condition waits."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import time
import urllib.error
import urllib.request
import uuid
from unittest import mock

import redis as redis_py
import websockets
from django.test import Client, TransactionTestCase

from lobby import publish
from realtime import keys, protocol
from weirsoe.models import Round

from . import servers
from .redis_server import RedisServer
from .runner import PartyhubTestRunner, use_redis


class Api:
    """Drive the REST API like a client would, returning (status, json)."""

    def __init__(self, client: Client | None = None) -> None:
        self.client = client or Client()

    def call(self, method: str, path: str, body=None, token: str | None = None, raw=None):
        """(status, json); json None for an empty answer (204)."""
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
        headers.update(self.headers())
        data = raw if raw is not None else (json.dumps(body) if body is not None else "")
        func = getattr(self.client, method.lower())
        if method.upper() == "GET":
            response = func(path, **headers)
        else:
            response = func(path, data=data, content_type="application/json", **headers)
        return response.status_code, (response.json() if response.content else None)

    def headers(self) -> dict:
        """Headers every call carries (none; a signed-in client's: tests.members)."""
        return {}

    def create(self, **settings):
        status, body = self.call("POST", "/api/sessions/", settings)
        assert status == 201, body
        return body["code"], body["host_token"]

    def join(self, code: str, name: str):
        status, body = self.call("POST", f"/api/sessions/{code}/join/", {"name": name})
        assert status == 201, body
        return body["player_id"], body["session_token"]

    def host(self, code: str, action: str, token: str):
        return self.call("POST", f"/api/sessions/{code}/{action}/", {}, token)

    def lie(self, code: str, token: str, text: str):
        return self.call("POST", f"/api/sessions/{code}/lies/", {"text": text}, token)

    def guess(self, code: str, token: str, answer_id):
        return self.call("POST", f"/api/sessions/{code}/guesses/", {"answer_id": answer_id}, token)

    def state(self, code: str, token: str | None = None):
        return self.call("GET", f"/api/sessions/{code}/", token=token)


def play_round(api: Api, code: str, host: str, players: list[str], number: int, start=True):
    """Round `number` through REST: start-round and show-question (unless
    `start` is False), a lie from each player, mix-answers, every player
    guesses the truth, calculate-scores, reveal-scoreboard."""
    if start:
        for action in ("start-round", "show-question"):
            assert api.host(code, action, host)[0] == 200
    for i, token in enumerate(players):
        assert api.lie(code, token, f"lie {number} {i}")[0] == 201
    assert api.host(code, "mix-answers", host)[0] == 200
    answers = api.state(code)[1]["answers"]
    truth = answer_id(answers, truth_of(code, number))
    for token in players:
        assert api.guess(code, token, truth)[0] == 201
    for action in ("calculate-scores", "reveal-scoreboard"):
        assert api.host(code, action, host)[0] == 200


def truth_of(code: str, number: int) -> str:
    """The true answer of round `number` (tests may peek at the database)."""
    return Round.objects.get(session__code=code, number=number).question.answer


def answer_id(answers: list[dict], text: str) -> int:
    """The public id of the answer whose text is `text` (case-insensitive)."""
    for answer in answers:
        if answer["text"].casefold() == text.casefold():
            return answer["id"]
    raise AssertionError(f"{text!r} not among {answers}")


# lie_started, question_shown, guess_started, 3 reveal steps (truth + two
# lies, as play_game writes them), scores, scoreboard
EVENTS_PER_ROUND = 8


def play_game(api: Api, code: str, host: str, players: list[str], rounds: int) -> None:
    """Drive a whole game through REST (every phase of every round, then finish)."""
    for number in range(1, rounds + 1):
        play_round(api, code, host, players, number)
    assert api.host(code, "finish", host)[0] == 200


def raw_handshake(port: int, code: str, token: str, rcvbuf: int | None = None) -> socket.socket:
    """A client that sends the handshake and then never reads or answers PINGs."""
    sock = socket.socket()
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.connect(("127.0.0.1", port))
    sock.sendall(
        (
            f"GET /ws/game/{code}/?session_token={token} HTTP/1.1\r\nHost: x\r\n"
            f"Origin: {servers.ORIGIN}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    return sock


async def wait_for(predicate, timeout: float = 10, step: float = 0.05):
    deadline = time.monotonic() + timeout * servers.SLOW
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(step)
    return False


class expect_logs:  # noqa: N801 - a context manager used like assertLogs
    """assertLogs on realtime.sidecar that also drains the C log ring first,
    so the expected warnings are checked instead of printed."""

    def __init__(self, case, sidecar, text: str) -> None:
        self.case, self.sidecar, self.text = case, sidecar, text

    def __enter__(self):
        self.cm = self.case.assertLogs("realtime.sidecar", "WARNING")
        self.logs = self.cm.__enter__()
        return self

    def __exit__(self, *exc):
        runner = getattr(self.sidecar, "runner", None)
        if runner is not None:
            # The loop may note the change (redis_up) a moment before it
            # writes the line: drain the ring until the line is there (5 s).
            deadline = time.monotonic() + 5
            runner.flush_logs()
            while exc[0] is None and time.monotonic() < deadline:
                if any(self.text in line for line in self.logs.output):
                    break
                time.sleep(0.05)
                runner.flush_logs()
        else:  # the driver writes its lines to its own log file
            logging.getLogger("realtime.sidecar").warning("%s (driver)", self.text)
        result = self.cm.__exit__(*exc)
        if exc[0] is None:
            self.case.assertTrue(
                any(self.text in line for line in self.logs.output), self.logs.output
            )
        return result


class Recorder:
    """Everything lobby.publish sends: public events with their states, private ones."""

    def __init__(self) -> None:
        self.public: list[tuple[str, dict, dict | None]] = []
        self.private: list[tuple[int, str, dict, dict | None]] = []
        real = publish.sync_deliver

        def deliver(code, player_id, seq, head, tail, state_parts=None):
            event = json.loads(f"{head}{seq}{tail}")
            state = None
            if state_parts is not None:
                state = json.loads(f"{state_parts[0]}{seq}{state_parts[1]}")["payload"]
            if player_id is None:
                self.public.append((event["type"], event["payload"], state))
            else:
                self.private.append((player_id, event["type"], event["payload"], state))
            return real(code, player_id, seq, head, tail, state_parts)

        self.patches = [mock.patch.object(publish, "sync_deliver", deliver)]

    def __enter__(self):
        for patch in self.patches:
            patch.start()
        return self

    def __exit__(self, *exc):
        for patch in self.patches:
            patch.stop()


class TwoPlayers:
    """setUp: a session (`code`, host token `host`) with two players, Ana and
    Bo (`ana`, `bo`: their session tokens; `ana_id`, `bo_id`)."""

    def setUp(self):
        super().setUp()
        self.api = Api()
        self.code, self.host = self.api.create(rounds=2)
        self.ana_id, self.ana = self.api.join(self.code, "Ana")
        self.bo_id, self.bo = self.api.join(self.code, "Bo")


class GameCase(TwoPlayers, TransactionTestCase):
    """A session with a host and two players (Ana, Bo) and a sidecar per class."""

    serialized_rollback = True
    sidecar_options: dict = {}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sidecar = servers.Sidecar(**cls.sidecar_options)

    @classmethod
    def tearDownClass(cls):
        try:
            cls.sidecar.close()
        finally:
            super().tearDownClass()

    async def drain(self, ws, n: int, timeout: float = 20) -> list[dict]:
        return [await servers.recv_json(ws, timeout) for _ in range(n)]


class ServerPerClass(TwoPlayers):
    """Mixin for a TransactionTestCase run against one server: `cls.server`,
    a `server_class` (servers.Daphne or servers.Sidecar) started for the
    class, and GameCase's session in each test."""

    serialized_rollback = True
    server_class = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = cls.server_class()

    @classmethod
    def tearDownClass(cls):
        try:
            cls.server.close()
        finally:
            super().tearDownClass()


class BothServers(TwoPlayers):
    """Mixin for a TransactionTestCase run against both servers at once:
    `cls.daphne` and `cls.sidecar` (with `sidecar_options`) for the class,
    and GameCase's session in each test."""

    serialized_rollback = True
    sidecar_options: dict = {}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.daphne = servers.Daphne()
        cls.sidecar = servers.Sidecar(**cls.sidecar_options)

    @classmethod
    def tearDownClass(cls):
        try:
            cls.daphne.close()
            cls.sidecar.close()
        finally:
            super().tearDownClass()


class PrivateRedis:
    """Mixin for a TransactionTestCase whose tests stop or kill Redis: the
    class gets its own redis-server (`cls.redis`), started before the
    class's servers and closed after them; the run's Redis is restored."""

    @classmethod
    def setUpClass(cls):
        cls.redis = RedisServer().start()
        use_redis(cls.redis.port)
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.redis.close()
            use_redis(PartyhubTestRunner.redis.port)

    def setUp(self):
        if self.redis.process.poll() is not None:  # killed by an earlier test
            self.redis.start()
        super().setUp()


def http(port: int, method: str, path: str, body: bytes | None = None, token: str | None = None):
    """One HTTP request to a server process (Daphne): (status, body text)."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


class Follower:
    """One client following a session by `seq`, as partyhub-client.js does:
    an event whose seq is not the next one means events were missed, and the
    client takes the state again (a new socket: welcome, `session.state`).
    `twice` lists seqs one socket delivered more than once."""

    def __init__(self, port: int, code: str, query: str) -> None:
        self.port, self.code, self.query = port, code, query
        self.seq = -1
        self.gaps = 0  # resyncs after a missed event
        self.twice: list[int] = []  # seqs one socket delivered more than once
        self.pongs: set = set()
        self.changed = asyncio.Event()
        self.ws = None

    async def start(self, deadline: float = 10) -> Follower:
        """Join (retrying until `deadline` s, for a server coming back)."""
        until = time.monotonic() + deadline * servers.SLOW
        while True:
            try:
                self.ws, _, state = await servers.join(self.port, self.code, self.query)
                break
            except (TimeoutError, OSError, websockets.InvalidHandshake):
                if time.monotonic() > until:
                    raise
                await asyncio.sleep(0.1)
        self.take_state(state)
        self.delivered: set[int] = set()
        self.task = asyncio.create_task(self.read(self.ws))
        return self

    def take_state(self, state: dict) -> None:
        self.seq = max(self.seq, state["seq"])
        self.changed.set()

    async def read(self, ws) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for text in ws:
                message = json.loads(text)
                if message["type"] == protocol.PONG:
                    self.pongs.add(message["ts"])
                elif message["type"] == protocol.SESSION_STATE:
                    self.take_state(message)
                elif "seq" in message:
                    if message["seq"] in self.delivered:
                        self.twice.append(message["seq"])
                    self.delivered.add(message["seq"])
                    if message["seq"] > self.seq + 1:
                        self.gaps += 1
                        await self.resync()
                        return
                    self.seq = max(self.seq, message["seq"])
                self.changed.set()

    async def resync(self) -> None:
        await self.ws.close()
        await self.start()

    async def wait(self, predicate, timeout: float = 30) -> bool:
        until = time.monotonic() + timeout * servers.SLOW
        while not predicate(self):
            self.changed.clear()
            left = until - time.monotonic()
            if left <= 0:
                return False
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.changed.wait(), left)
        return True

    async def close(self) -> None:
        self.task.cancel()
        await self.ws.close()


async def follow(port: int, code: str, tokens: list[str], n: int) -> list[Follower]:
    """n clients, players' tokens taken in turn."""
    queries = [f"session_token={tokens[i % len(tokens)]}" for i in range(n)]
    return list(await asyncio.gather(*(Follower(port, code, q).start() for q in queries)))


def last_seq(redis, code: str) -> int:
    """The session's last event seq, read from Redis."""
    reply = redis.command("GET", keys.seq_key(code))
    return int(reply.split(b"\r\n")[1])


@contextlib.contextmanager
def redis_commands(port: int):
    """Record what Redis on `port` runs inside the block (MONITOR).

    Yields a list filled when the block ends: (client type, command text),
    in execution order; the type is "lua" for commands run by a script.
    """
    client = redis_py.Redis(port=port, socket_timeout=5)
    marker = f"redis-commands-end-{uuid.uuid4().hex}"
    seen: list[tuple[str, str]] = []
    try:
        with client.monitor() as monitor:
            yield seen
            client.echo(marker)
            while marker not in (command := monitor.next_command())["command"]:
                seen.append((command["client_type"], command["command"]))
    finally:
        client.close()
