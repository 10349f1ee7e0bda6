"""auto_advance without a worker: early ends, guarded timers, races, deadlines."""

from __future__ import annotations

import threading
from unittest import mock

from asgiref.sync import async_to_sync
from django.db import connection
from django.test import TestCase, TransactionTestCase, override_settings
from kombu.exceptions import OperationalError

from lobby import flow, phases, registry, timers
from lobby.models import GameSession, Player
from realtime.broadcast import current_seq
from tests.helpers import Api, answer_id, truth_of
from weirsoe.models import Answer

SCHEDULE = "lobby.tasks.phase_deadline.apply_async"


def timer_args(code: str) -> tuple:
    """(code, round, stage, token) of the session's current countdown."""
    session = GameSession.objects.get(code=code)
    stage = phases.stage_of(registry.of(session), session)
    return code, session.round_number, stage, session.timer_token


def expire(code: str) -> None:
    """Make the running countdown's deadline pass now."""
    GameSession.objects.filter(code=code).update(deadline_ms=timers.now_ms() - 1)


def phase(code: str) -> str:
    return GameSession.objects.get(code=code).phase


class GameMixin:
    auto = True

    def setUp(self):
        self.api = Api()
        self.code, self.host = self.api.create(auto_advance=self.auto, rounds=2)
        self.tokens = {}
        for name in ("Ana", "Bo", "Cy"):
            self.tokens[name] = self.api.join(self.code, name)[1]

    def host_action(self, action: str):
        status, body = self.api.host(self.code, action, self.host)
        self.assertEqual(status, 200, body)
        return body


class AutoAdvanceTests(GameMixin, TestCase):
    def test_everyone_submitting_early_advances_at_once(self):
        self.host_action("start-round")
        self.api.lie(self.code, self.tokens["Ana"], "Kettle")
        self.api.lie(self.code, self.tokens["Bo"], "Lantern")
        self.assertEqual(phase(self.code), "lie")
        status, body = self.api.lie(self.code, self.tokens["Cy"], "Marble")
        self.assertEqual(status, 201, body)
        self.assertEqual(len(body["broadcast"]["seq"]), 2)  # question shown, guesses open
        self.assertEqual(phase(self.code), "guess")
        answers = self.api.state(self.code)[1]["answers"]
        truth = answer_id(answers, truth_of(self.code, 1))
        self.api.guess(self.code, self.tokens["Ana"], truth)
        self.api.guess(self.code, self.tokens["Bo"], truth)
        self.assertEqual(phase(self.code), "guess")
        status, body = self.api.guess(self.code, self.tokens["Cy"], truth)
        self.assertEqual(status, 201, body)
        self.assertEqual(len(body["broadcast"]["seq"]), 5)  # 4 reveal steps + scores
        self.assertEqual(phase(self.code), "scores")

    def test_the_question_phase_also_ends_when_everyone_is_in(self):
        self.host_action("start-round")
        self.host_action("show-question")
        for name, text in (("Ana", "Kettle"), ("Bo", "Lantern"), ("Cy", "Marble")):
            self.api.lie(self.code, self.tokens[name], text)
        self.assertEqual(phase(self.code), "guess")

    def test_timer_is_scheduled_after_commit_with_its_guard(self):
        with mock.patch(SCHEDULE) as schedule:
            self.host_action("start-round")
            schedule.assert_not_called()  # nothing before the commit
            with self.captureOnCommitCallbacks(execute=True):
                self.host_action("show-question")  # same countdown: nothing new
                before = timers.now_ms()
                self.host_action("mix-answers")
        schedule.assert_called_once()
        args, kwargs = schedule.call_args
        self.assertEqual(args[0], timer_args(self.code))
        self.assertEqual(args[0][1:3], (1, "guess"))
        self.assertAlmostEqual(
            kwargs["countdown"], 30, delta=(timers.now_ms() - before) / 1000 + 0.1
        )

    def test_stale_duplicate_and_early_timers_change_nothing(self):
        self.host_action("start-round")
        code, number, stage, token = timer_args(self.code)
        seq = async_to_sync(current_seq)(self.code)
        with mock.patch(SCHEDULE) as schedule, self.captureOnCommitCallbacks(execute=True):
            # Early (deadline not reached): waits again with the same guard.
            self.assertFalse(flow.on_deadline(code, number, stage, token))
        self.assertEqual(schedule.call_args[0][0], (code, number, stage, token))
        expire(self.code)
        for stale in (
            (code, number, stage, "0" * 16),  # a token of an earlier countdown
            (code, number + 1, stage, token),  # another round
            (code, number, "guess", token),  # another phase
            ("ZZZZ", number, stage, token),  # no such session
        ):
            self.assertFalse(flow.on_deadline(*stale), stale)
        self.assertEqual((phase(self.code), async_to_sync(current_seq)(self.code)), ("lie", seq))
        self.assertTrue(flow.on_deadline(code, number, stage, token))
        self.assertEqual(phase(self.code), "guess")
        answers = Answer.objects.filter(round__session__code=self.code).count()
        self.assertEqual(async_to_sync(current_seq)(self.code), seq + 2)
        # The same task delivered twice, or late: nothing more happens.
        self.assertFalse(flow.on_deadline(code, number, stage, token))
        self.assertEqual(phase(self.code), "guess")
        self.assertEqual(Answer.objects.filter(round__session__code=self.code).count(), answers)
        self.assertEqual(async_to_sync(current_seq)(self.code), seq + 2)

    def test_host_action_before_a_late_timer_wins(self):
        self.host_action("start-round")
        lie_timer = timer_args(self.code)
        self.host_action("show-question")
        self.host_action("mix-answers")
        expire(self.code)
        self.assertFalse(flow.on_deadline(*lie_timer))
        self.assertEqual(phase(self.code), "guess")

    def test_every_deadline_in_turn_runs_the_game_to_the_end(self):
        self.host_action("start-round")
        seen = []
        while phase(self.code) != "finished":
            args = timer_args(self.code)
            seen.append(args[1:3])
            expire(self.code)
            self.assertTrue(flow.on_deadline(*args))
        self.assertEqual(
            seen,
            [(1, "lie"), (1, "guess"), (1, "scores"), (1, "scoreboard")]
            + [(2, "lie"), (2, "guess"), (2, "scores"), (2, "scoreboard")],
        )
        state = self.api.state(self.code)[1]
        self.assertEqual((state["round"], state["deadline"]), (2, None))
        self.assertEqual(len(state["awards"]), 4)

    def test_deadlines_in_events_and_state(self):
        before = timers.now_ms()
        self.host_action("start-round")
        state = self.api.state(self.code)[1]
        self.assertEqual(state["time_limit"], 60)
        self.assertGreaterEqual(state["deadline"], before + 60_000)
        self.assertLessEqual(state["deadline"], timers.now_ms() + 60_000)
        self.assertLessEqual(abs(state["server_time"] - timers.now_ms()), 1000)  # REST only
        self.assertEqual((state["paused"], state["remaining_ms"]), (False, None))
        self.assertTrue(state["settings"]["auto_advance"])

    def test_worker_down_host_still_advances_by_hand(self):
        with (
            self.assertLogs("lobby.timers", "ERROR") as logs,
            mock.patch(SCHEDULE, side_effect=OperationalError("broker down")),
            self.captureOnCommitCallbacks(execute=True),
        ):
            self.host_action("start-round")
        self.assertIn("could not schedule", logs.output[0])
        for action in ("show-question", "mix-answers", "calculate-scores", "reveal-scoreboard"):
            self.host_action(action)
        self.assertEqual(phase(self.code), "scoreboard")

    def test_sweeper_ends_countdowns_whose_timer_was_lost(self):
        with (
            self.assertLogs("lobby.timers", "ERROR"),
            mock.patch(SCHEDULE, side_effect=OperationalError("broker down")),
            self.captureOnCommitCallbacks(execute=True),
        ):
            self.host_action("start-round")
        # Not yet overdue by the grace: the sweep leaves it alone.
        GameSession.objects.filter(code=self.code).update(deadline_ms=timers.now_ms() - 1000)
        self.assertEqual(flow.sweep_overdue(grace_ms=5000), [])
        self.assertEqual(phase(self.code), "lie")
        # A paused game is not swept, whatever its stale deadline says.
        GameSession.objects.filter(code=self.code).update(
            deadline_ms=timers.now_ms() - 10_000, paused=True
        )
        self.assertEqual(flow.sweep_overdue(grace_ms=5000), [])
        GameSession.objects.filter(code=self.code).update(paused=False)
        with self.assertLogs("lobby.flow", "WARNING") as logs:
            self.assertEqual(flow.sweep_overdue(grace_ms=5000), [self.code])
        self.assertIn("timer was lost", logs.output[0])
        self.assertIn(phase(self.code), ("question", "guess"))
        # The new phase's own timer is not overdue: a second sweep does nothing.
        self.assertEqual(flow.sweep_overdue(grace_ms=5000), [])

    def test_beat_schedules_the_sweeper(self):
        from django.conf import settings

        from lobby import tasks

        entry = settings.CELERY_BEAT_SCHEDULE["sweep-deadlines"]
        self.assertEqual(entry["task"], tasks.sweep_deadlines.name)
        self.assertGreater(entry["schedule"], 0)


class ManualFlowTests(GameMixin, TestCase):
    auto = False

    def test_no_timer_and_no_early_end_without_auto_advance(self):
        with mock.patch(SCHEDULE) as schedule, self.captureOnCommitCallbacks(execute=True):
            self.host_action("start-round")
            for name, text in (("Ana", "Kettle"), ("Bo", "Lantern"), ("Cy", "Marble")):
                self.api.lie(self.code, self.tokens[name], text)
        schedule.assert_not_called()
        state = self.api.state(self.code)[1]
        self.assertEqual(state["phase"], "lie")
        self.assertIsNotNone(state["deadline"])  # clients still count down
        expire(self.code)
        self.assertFalse(flow.on_deadline(*timer_args(self.code)))  # nothing runs it anyway
        self.assertEqual(phase(self.code), "lie")
        self.host_action("show-question")
        self.host_action("mix-answers")
        self.host_action("calculate-scores")
        self.assertIsNone(self.api.state(self.code)[1]["deadline"])  # no auto scoreboard


@override_settings(PARTYHUB_REVEAL_STEP=0.01)
class RaceTests(GameMixin, TransactionTestCase):
    serialized_rollback = True

    def test_host_action_racing_the_timer_gives_one_transition(self):
        self.host_action("start-round")
        for name in ("Ana", "Bo"):  # Cy never writes: the deadline ends the phase
            self.api.lie(self.code, self.tokens[name], f"{name}'s lie")
        self.host_action("show-question")
        lie_timer = timer_args(self.code)
        expire(self.code)
        seq = async_to_sync(current_seq)(self.code)
        barrier = threading.Barrier(2)
        results = {}

        def by_timer():
            barrier.wait()
            results["timer"] = flow.on_deadline(*lie_timer)
            connection.close()

        def by_host():
            barrier.wait()
            results["host"] = self.api.host(self.code, "mix-answers", self.host)[0]
            connection.close()

        threads = [threading.Thread(target=by_timer), threading.Thread(target=by_host)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        self.assertIn(results, ({"timer": True, "host": 409}, {"timer": False, "host": 200}))
        self.assertEqual(phase(self.code), "guess")
        self.assertEqual(Answer.objects.filter(round__session__code=self.code).count(), 3)
        self.assertEqual(async_to_sync(current_seq)(self.code), seq + 1)  # one guess_started
        self.assertEqual(list(Player.objects.values_list("score", flat=True)), [0, 0, 0])
