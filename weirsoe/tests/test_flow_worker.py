"""End to end: a real Celery worker ends phases at their deadlines (auto_advance)."""

from __future__ import annotations

import json

from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import TransactionTestCase, override_settings

from lobby import events as lobby_events
from lobby.models import GameSession
from partyhub.asgi import application
from tests.celery_worker import CeleryWorker
from tests.helpers import Api
from weirsoe import awards as quiz_awards
from weirsoe import events as quiz_events

# Short pauses, the same in this process and in the worker.
FAST = {"PARTYHUB_REVEAL_STEP": 0.1, "PARTYHUB_RESULTS_HOLD": 0.2, "PARTYHUB_SCOREBOARD_PAUSE": 0.3}


@override_settings(**FAST)
class WorkerTimerTests(TransactionTestCase):
    serialized_rollback = True  # keeps the question bank loaded by the migration

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.worker = CeleryWorker({name: str(value) for name, value in FAST.items()}).start()

    @classmethod
    def tearDownClass(cls):
        cls.worker.stop()
        super().tearDownClass()

    def setUp(self):
        self.api = Api()
        self.code, self.host = self.api.create(auto_advance=True, rounds=1)
        self.ana_id, self.ana = self.api.join(self.code, "Ana")
        self.bo_id, self.bo = self.api.join(self.code, "Bo")
        # Below the API's 10 s minimum: tests may set the database directly.
        session = GameSession.objects.get(code=self.code)
        session.settings.update(lie_time_limit=1, guess_time_limit=1)
        session.save(update_fields=["settings"])

    async def test_silent_player_round_ends_at_the_deadlines_through_to_game_over(self):
        path = f"/ws/game/{self.code}/?role=host&session_token={self.host}"
        ws = WebsocketCommunicator(application, path, headers=[(b"origin", b"http://localhost")])
        self.assertTrue((await ws.connect(timeout=5))[0])
        await ws.receive_from(timeout=5)  # welcome
        state = json.loads(await ws.receive_from(timeout=5))
        await sync_to_async(self.api.host)(self.code, "start-round", self.host)
        await sync_to_async(self.api.lie)(self.code, self.ana, "A lighthouse")  # Bo writes nothing
        events = []
        try:
            while not events or events[-1]["type"] != lobby_events.GAME_OVER:
                events.append(json.loads(await ws.receive_from(timeout=8)))
        except TimeoutError:
            self.fail(
                f"stuck after {[e['type'] for e in events]}; worker log:\n{self.worker.log()}"
            )
        finally:
            await ws.disconnect()
        expected = [quiz_events.LIE_STARTED, quiz_events.QUESTION_SHOWN, quiz_events.GUESS_STARTED]
        expected += [quiz_events.REVEAL_STEP] * 2  # Ana's lie, then the truth
        expected += [quiz_events.SCORES_CALCULATED, lobby_events.SCOREBOARD, lobby_events.GAME_OVER]
        self.assertEqual([e["type"] for e in events], expected)
        self.assertEqual(
            [e["seq"] for e in events], list(range(state["seq"] + 1, state["seq"] + 9))
        )
        lie, guess = events[0]["payload"], events[2]["payload"]
        # The guess phase opened at the lie deadline, not before (its own
        # deadline is one time limit after it opened).
        opened = guess["deadline"] - 1000
        self.assertGreaterEqual(opened, lie["deadline"])
        self.assertLess(opened, lie["deadline"] + 1500)
        scores = events[5]["payload"]
        board = events[6]["payload"]
        # The scoreboard came after the reveal and the hold.
        self.assertTrue(board["final_round"])
        self.assertGreaterEqual(board["deadline"] - 300, scores["reveal_at"] + 200 - 5)
        over = events[7]["payload"]
        self.assertEqual([a["award"] for a in over["awards"]], list(quiz_awards.AWARD_IDS))
        session = await GameSession.objects.aget(code=self.code)
        self.assertEqual(session.phase, "finished")
        self.assertIsNotNone(session.ended_at)
