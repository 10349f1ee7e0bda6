"""Host controls: pause and resume keep the time left; exit ends the session at once."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from unittest import mock

from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import TestCase, TransactionTestCase
from django.utils import timezone

from lobby import flow, lifecycle, timers
from lobby.models import GameSession
from partyhub.asgi import application
from realtime import keys, protocol, snapshot
from weirsoe import events as quiz_events
from weirsoe.tests.test_flow import SCHEDULE, expire, timer_args

from .helpers import Api


class PauseTests(TestCase):
    def setUp(self):
        self.api = Api()
        self.code, self.host = self.api.create(auto_advance=True)
        self.ana = self.api.join(self.code, "Ana")[1]
        self.bo = self.api.join(self.code, "Bo")[1]

    def control(self, action: str, token: str | None = None):
        return self.api.host(self.code, action, token or self.host)

    def test_pause_and_resume_keep_the_remaining_time(self):
        self.control("start-round")
        deadline = self.api.state(self.code)[1]["deadline"]
        status, body = self.control("pause")
        paused_at = timers.now_ms()
        self.assertEqual((status, body["paused"], body["event"]), (200, True, "phase.paused"))
        state = self.api.state(self.code)[1]
        self.assertEqual((state["paused"], state["deadline"]), (True, None))
        remaining = state["remaining_ms"]
        self.assertLessEqual(abs(remaining - (deadline - paused_at)), 500)
        time.sleep(1.0)  # frozen: a second passes, the time left does not
        self.assertEqual(self.api.state(self.code)[1]["remaining_ms"], remaining)
        with mock.patch(SCHEDULE) as schedule, self.captureOnCommitCallbacks(execute=True):
            status, body = self.control("resume")
        resumed_at = timers.now_ms()
        self.assertEqual((status, body["paused"], body["event"]), (200, False, "phase.resumed"))
        state = self.api.state(self.code)[1]
        self.assertEqual((state["paused"], state["remaining_ms"]), (False, None))
        self.assertLessEqual(abs((state["deadline"] - resumed_at) - remaining), 500)
        self.assertGreaterEqual(state["deadline"], deadline + 1000)  # pushed back by the pause
        self.assertAlmostEqual(schedule.call_args[1]["countdown"], remaining / 1000, delta=0.5)

    def test_actions_other_than_resume_are_refused_while_paused(self):
        self.control("start-round")
        self.control("pause")
        refused = [
            self.control("show-question"),
            self.control("mix-answers"),
            self.control("calculate-scores"),
            self.control("start-round"),
            self.control("finish"),
            self.control("pause"),
            self.api.lie(self.code, self.ana, "Kettle"),
        ]
        for status, body in refused:
            self.assertEqual((status, body["error"]["code"]), (409, "PAUSED"), body)
        self.assertEqual(self.api.state(self.code)[0], 200)  # reading is fine
        self.assertEqual(self.control("resume")[0], 200)
        self.assertEqual(self.api.lie(self.code, self.ana, "Kettle")[0], 201)

    def test_pausing_stales_the_pending_timer(self):
        self.control("start-round")
        before = timer_args(self.code)
        self.control("pause")
        expire(self.code)
        self.assertFalse(flow.on_deadline(*before))
        self.control("resume")
        self.assertNotEqual(timer_args(self.code)[3], before[3])
        self.assertFalse(flow.on_deadline(*before))
        self.assertEqual(GameSession.objects.get(code=self.code).phase, "lie")

    def test_refusals(self):
        status, body = self.control("pause")
        self.assertEqual((status, body["error"]["code"]), (409, "WRONG_PHASE"))  # lobby
        self.control("start-round")
        status, body = self.control("resume")
        self.assertEqual((status, body["error"]["code"]), (409, "NOT_PAUSED"))
        status, body = self.control("pause", token=self.ana)
        self.assertEqual((status, body["error"]["code"]), (403, "WRONG_ROLE"))

    def test_no_skip_past_the_rules(self):
        self.control("start-round")
        for action in ("calculate-scores", "reveal-scoreboard", "finish"):
            status, body = self.control(action)
            self.assertEqual((status, body["error"]["code"]), (409, "WRONG_PHASE"), action)
        for action in ("skip", "next"):
            self.assertEqual(self.control(action)[0], 404)


class ExitTests(TestCase):
    def setUp(self):
        self.api = Api()
        self.code, self.host = self.api.create()
        self.ana = self.api.join(self.code, "Ana")[1]
        self.api.join(self.code, "Bo")

    def test_exit_answers_410_until_the_purge_then_404(self):
        self.api.host(self.code, "start-round", self.host)
        self.api.host(self.code, "pause", self.host)  # exit works while paused too
        status, body = self.api.host(self.code, "exit", self.host)
        self.assertEqual((status, body["closed"], body["event"]), (200, True, "session.closed"))
        for status, body in (
            self.api.state(self.code),
            self.api.host(self.code, "resume", self.host),
            self.api.host(self.code, "exit", self.host),
            self.api.lie(self.code, self.ana, "Kettle"),
            self.api.call("POST", f"/api/sessions/{self.code}/join/", {"name": "Cy"}),
        ):
            self.assertEqual((status, body["error"]["code"]), (410, "SESSION_CLOSED"), body)
        # WebSocket servers reading Redis learn it too.
        closed = snapshot.client_for(self.code).hget(keys.session_key(self.code), "closed")
        self.assertEqual(closed, b"1")
        self.assertEqual(lifecycle.purge_sessions(), [])  # within the grace period
        later = timezone.now() + timedelta(seconds=601)
        self.assertEqual(lifecycle.purge_sessions(now=later), [self.code])
        status, body = self.api.state(self.code)
        self.assertEqual((status, body["error"]["code"]), (404, "SESSION_NOT_FOUND"))


class ExitSocketTests(TransactionTestCase):
    serialized_rollback = True

    def setUp(self):
        self.api = Api()
        self.code, self.host = self.api.create()
        self.ana_id, self.ana = self.api.join(self.code, "Ana")
        self.api.join(self.code, "Bo")

    async def connect(self, query: str) -> WebsocketCommunicator:
        ws = WebsocketCommunicator(
            application,
            f"/ws/game/{self.code}/?{query}",
            headers=[(b"origin", b"http://localhost")],
        )
        self.assertTrue((await ws.connect(timeout=5))[0])
        return ws

    async def test_exit_closes_every_socket_with_4000(self):
        sockets = [
            await self.connect(f"session_token={self.ana}"),
            await self.connect(f"role=host&session_token={self.host}"),
        ]
        for ws in sockets:
            await ws.receive_from(timeout=5)  # welcome
            await ws.receive_from(timeout=5)  # state
        await sync_to_async(self.api.host)(self.code, "start-round", self.host)
        await sync_to_async(self.api.host)(self.code, "exit", self.host)
        for ws in sockets:
            self.assertEqual(
                json.loads(await ws.receive_from(timeout=5))["type"], quiz_events.LIE_STARTED
            )
            closed = json.loads(await ws.receive_from(timeout=5))
            self.assertEqual(
                (closed["type"], closed["payload"]), ("session.closed", {"reason": "exited"})
            )
            self.assertEqual(
                await ws.receive_output(timeout=5), {"type": "websocket.close", "code": 4000}
            )
            await ws.disconnect()  # let the consumer finish
        late = await self.connect(f"session_token={self.ana}")
        self.assertEqual(
            await late.receive_output(timeout=5), {"type": "websocket.close", "code": 4000}
        )
        await late.disconnect()

    async def test_pause_and_resume_events(self):
        ws = await self.connect(f"role=host&session_token={self.host}")
        await ws.receive_from(timeout=5)
        await ws.receive_from(timeout=5)
        await sync_to_async(self.api.host)(self.code, "start-round", self.host)
        await sync_to_async(self.api.host)(self.code, "pause", self.host)
        await sync_to_async(self.api.host)(self.code, "resume", self.host)
        started, paused, resumed = [json.loads(await ws.receive_from(timeout=5)) for _ in range(3)]
        for event in (started, paused, resumed):
            protocol.check_event(event["type"], event["payload"])
        self.assertEqual([paused["type"], resumed["type"]], ["phase.paused", "phase.resumed"])
        self.assertEqual(paused["payload"]["remaining_ms"], resumed["payload"]["remaining_ms"])
        self.assertEqual((paused["payload"]["phase"], paused["payload"]["round"]), ("lie", 1))
        self.assertLessEqual(
            abs(
                started["payload"]["deadline"] - timers.now_ms() - paused["payload"]["remaining_ms"]
            ),
            1000,
        )
        await ws.disconnect()
