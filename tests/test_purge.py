"""Ephemeral state: the purge deletes everything of an ended session, nothing of a live one."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

from asgiref.sync import async_to_sync
from django.core.management import call_command
from django.test import TestCase, override_settings
from django.utils import timezone

from lobby import lifecycle
from lobby.models import GameSession, Player
from lobby.publish import KEY_MARGIN
from realtime import keys
from realtime.broadcast import current_seq
from weirsoe.models import Answer, Guess, Lie, Round

from .helpers import Api, answer_id, truth_of
from .runner import PartyhubTestRunner

MODELS = (Player, Round, Lie, Answer, Guess)


def rows(code: str) -> dict:
    """How many rows of each kind belong to session `code`."""
    counts = {"GameSession": GameSession.objects.filter(code=code).count()}
    for model in MODELS:
        field = "session__code" if model in (Player, Round) else "round__session__code"
        counts[model.__name__] = model.objects.filter(**{field: code}).count()
    return counts


def redis_ttl(key: str) -> int:
    """TTL of a key in the test Redis (-2: no key, -1: no expiry)."""
    return int(PartyhubTestRunner.redis.command("TTL", key).strip()[1:])


@override_settings(PARTYHUB_END_GRACE=600, PARTYHUB_ABANDONED_AFTER=3600)
class PurgeTests(TestCase):
    def setUp(self):
        self.api = Api()

    def game(self, finish: bool) -> str:
        """A session with one round played (and finished if asked)."""
        code, host = self.api.create(rounds=1)
        ana = self.api.join(code, "Ana")[1]
        bo = self.api.join(code, "Bo")[1]
        for action in ("start-round", "show-question"):
            self.api.host(code, action, host)
        self.api.lie(code, ana, "Kettle")
        self.api.host(code, "mix-answers", host)
        answers = self.api.state(code)[1]["answers"]
        self.api.guess(code, bo, answer_id(answers, truth_of(code, 1)))
        if finish:
            for action in ("calculate-scores", "reveal-scoreboard"):
                self.api.host(code, action, host)
            with self.captureOnCommitCallbacks(execute=True):
                status, body = self.api.host(code, "finish", host)
            self.assertEqual(status, 200, body)
        return code

    def test_finished_session_is_kept_for_the_grace_period_then_deleted_whole(self):
        done, live = self.game(finish=True), self.game(finish=False)
        live_rows = rows(live)
        self.assertEqual(
            rows(done),
            {"GameSession": 1, "Player": 2, "Round": 1, "Lie": 1, "Answer": 2, "Guess": 1},
        )
        # Its Redis keys now expire (grace period + margin); the live game's do not.
        for key in keys.of_session(done):
            self.assertGreater(redis_ttl(key), 600, key)
            self.assertLessEqual(redis_ttl(key), 600 + KEY_MARGIN, key)
        self.assertEqual(redis_ttl(keys.seq_key(live)), 7 * 24 * 3600)
        # Within the grace period the final screen still loads.
        self.assertEqual(lifecycle.purge_sessions(), [])
        self.assertEqual(self.api.state(done)[1]["phase"], "finished")
        later = GameSession.objects.get(code=done).ended_at + timedelta(seconds=601)
        self.assertEqual(lifecycle.purge_sessions(now=later), [done])
        self.assertEqual(set(rows(done).values()), {0})
        for key in keys.of_session(done):
            self.assertEqual(redis_ttl(key), -2, key)
        self.assertEqual(rows(live), live_rows)
        self.assertGreater(async_to_sync(current_seq)(live), 0)
        self.assertEqual(self.api.state(done)[0], 404)

    def test_abandoned_session_is_purged_by_the_command(self):
        idle, live = self.game(finish=False), self.game(finish=False)
        live_rows = rows(live)
        GameSession.objects.filter(code=idle).update(
            updated_at=timezone.now() - timedelta(seconds=3601)
        )
        out = StringIO()
        call_command("purgesessions", stdout=out)
        self.assertEqual(out.getvalue().strip(), f"1 session(s) purged: {idle}")
        self.assertEqual(set(rows(idle).values()), {0})
        self.assertEqual(rows(live), live_rows)

    def test_player_actions_count_as_activity(self):
        code, host = self.api.create()
        ana = self.api.join(code, "Ana")[1]
        self.api.join(code, "Bo")
        self.api.host(code, "start-round", host)
        GameSession.objects.filter(code=code).update(
            updated_at=timezone.now() - timedelta(seconds=3601)
        )
        self.assertEqual(self.api.lie(code, ana, "Kettle")[0], 201)
        self.assertEqual(lifecycle.purge_sessions(), [])
        self.assertEqual(rows(code)["Player"], 2)
