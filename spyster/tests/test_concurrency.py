"""Concurrent accusations, votes, guesses and deadlines make exactly one
transition each.

Real concurrent requests: each race sends its requests at once (a barrier)
from threads, spread over two Daphne processes and this process (Django's
test client, one database connection per thread), all on the one test
database. Whatever the order the session row lock gives them, one request
makes the transition, the others are counted or refused, and the events
(counted by `seq`) and scores show it happened once.
"""

from __future__ import annotations

import json
import threading

from asgiref.sync import async_to_sync
from django.db import connection
from django.test import TransactionTestCase

from lobby import flow
from lobby.models import GameSession, Player
from realtime.broadcast import current_seq
from spyster.models import Accusation, Round
from tests import servers
from tests.helpers import http

from .support import SpysterSession, run_deadline, secrets_of

NAMES = ("Ana", "Bo", "Cy", "Dee", "Eve", "Fay", "Gus")


class Races(SpysterSession, TransactionTestCase):
    serialized_rollback = True
    players = NAMES

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.daphnes = [servers.Daphne(), servers.Daphne()]

    @classmethod
    def tearDownClass(cls):
        try:
            for daphne in cls.daphnes:
                daphne.close()
        finally:
            super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.assertEqual(self.api.host(self.code, "start-round", self.host)[0], 200)
        self.secrets = secrets_of(self.code)
        self.spy = self.secrets["spy"]
        self.others = [pid for pid in self.ids.values() if pid != self.spy]

    def seq(self) -> int:
        return async_to_sync(current_seq)(self.code)

    def post(self, n: int, action: str, body: dict, token: str):
        """Request n of a race: to Daphne 1, Daphne 2 or this process, in turn."""
        path = f"/api/sessions/{self.code}/{action}/"
        if n % 3 < 2:
            status, text = http(
                self.daphnes[n % 3].port, "POST", path, json.dumps(body).encode(), token
            )
            return status, json.loads(text)
        try:
            return self.api.call("POST", path, body, token)
        finally:
            connection.close()  # this thread's own connection

    def race(self, calls: list) -> list:
        """Run every call at the same moment, each in a thread; their results in order."""
        barrier = threading.Barrier(len(calls))
        results: list = [None] * len(calls)

        def run(i, call):
            barrier.wait()
            try:
                results[i] = call()
            except Exception as exc:  # reported by the assertion below
                results[i] = exc

        threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60 * servers.SLOW)
        for result in results:
            self.assertNotIsInstance(result, Exception)
        return results

    def scores(self) -> dict[int, int]:
        return dict(Player.objects.filter(session__code=self.code).values_list("id", "score"))

    def phase(self) -> str:
        return GameSession.objects.get(code=self.code).phase

    def test_everyone_accusing_at_once_opens_one_vote(self):
        seq = self.seq()
        pids = list(self.ids.values())
        calls = [
            (
                lambda n=n, pid=pid: self.post(
                    n, "accuse", {"suspect_id": pids[n - 1]}, self.by_id[pid]
                )
            )
            for n, pid in enumerate(pids)
        ]
        results = self.race(calls)
        statuses = sorted(status for status, _ in results)
        self.assertEqual(statuses.count(200), 1, results)
        self.assertEqual(set(statuses) - {200}, {409}, results)
        self.assertEqual({b["error"]["code"] for s, b in results if s == 409}, {"WRONG_PHASE"})
        self.assertEqual(Accusation.objects.filter(round__session__code=self.code).count(), 1)
        self.assertEqual(self.seq(), seq + 1)  # one spyster.vote_started
        self.assertEqual(self.phase(), "vote")

    def test_the_last_yes_votes_at_once_end_the_round_once(self):
        accuser, *voters = self.others
        self.assertEqual(self.api.accuse(self.code, self.by_id[accuser], self.spy)[0], 200)
        seq = self.seq()
        calls = [
            (lambda n=n, pid=pid: self.post(n, "votes", {"agree": True}, self.by_id[pid]))
            for n, pid in enumerate(voters)
        ]
        results = self.race(calls)
        self.assertEqual([status for status, _ in results], [201] * len(voters), results)
        # One spyster.voted each, then one vote_result, round_over, scoreboard.
        self.assertEqual(self.seq(), seq + len(voters) + 3)
        self.assertEqual(self.phase(), "scoreboard")
        expected = {pid: 100 for pid in self.others}
        expected[accuser] = 200
        expected[self.spy] = 0
        self.assertEqual(self.scores(), expected)

    def test_yes_and_no_at_once_give_one_result(self):
        accuser, *voters = self.others
        self.assertEqual(self.api.accuse(self.code, self.by_id[accuser], self.spy)[0], 200)
        seq = self.seq()
        calls = [
            (lambda n=n, pid=pid: self.post(n, "votes", {"agree": n % 2 == 0}, self.by_id[pid]))
            for n, pid in enumerate(voters)
        ]
        results = self.race(calls)
        counted = [status for status, _ in results if status == 201]
        refused = [body["error"]["code"] for status, body in results if status != 201]
        self.assertEqual(set(refused) | {"WRONG_PHASE"}, {"WRONG_PHASE"}, results)
        self.assertEqual(self.seq(), seq + len(counted) + 1)  # voted each, one vote_result
        self.assertEqual(self.phase(), "playing")
        accusation = Accusation.objects.get(round__session__code=self.code)
        self.assertEqual(accusation.result, "rejected")
        self.assertEqual(set(self.scores().values()), {0})

    def test_the_spy_guessing_while_someone_accuses_makes_one_transition(self):
        seq = self.seq()
        calls = [
            lambda: self.post(
                0, "spy-guess", {"location": self.secrets["location"]}, self.by_id[self.spy]
            ),
            lambda: self.post(1, "accuse", {"suspect_id": self.spy}, self.by_id[self.others[0]]),
            lambda: self.post(2, "accuse", {"suspect_id": self.spy}, self.by_id[self.others[1]]),
        ]
        results = self.race(calls)
        self.assertEqual(sorted(status for status, _ in results), [200, 409, 409], results)
        if results[0][0] == 200:
            self.assertEqual((self.phase(), self.seq()), ("scoreboard", seq + 2))
            self.assertEqual(self.scores()[self.spy], 400)
        else:
            self.assertEqual((self.phase(), self.seq()), ("vote", seq + 1))

    def test_final_votes_racing_the_deadline_end_the_round_once(self):
        self.assertTrue(run_deadline(self.code))  # the round's clock ran out
        session = GameSession.objects.get(code=self.code)
        GameSession.objects.filter(code=self.code).update(deadline_ms=0)
        timer = (self.code, session.round_number, "final_vote", session.timer_token)
        seq = self.seq()

        def deadline():
            try:
                return flow.on_deadline(*timer)
            finally:
                connection.close()

        calls = [deadline]
        for n, pid in enumerate(self.others, start=1):
            calls.append(
                lambda n=n, pid=pid: self.post(
                    n, "suspect", {"suspect_id": self.spy}, self.by_id[pid]
                )
            )
        calls.append(
            lambda: self.post(0, "suspect", {"suspect_id": self.others[0]}, self.by_id[self.spy])
        )
        results = self.race(calls)
        votes = results[1:]
        counted = sum(1 for status, _ in votes if status == 201)
        against = sum(1 for status, _ in votes[:-1] if status == 201)
        refused = {body["error"]["code"] for status, body in votes if status != 201}
        self.assertLessEqual(refused, {"WRONG_PHASE"}, results)
        self.assertEqual(self.seq(), seq + counted + 2)  # voted each, round_over, scoreboard
        # The deadline ended it unless all seven votes came first.
        self.assertEqual(results[0], counted < len(NAMES))
        game_round = Round.objects.get(session__code=self.code, number=1)
        self.assertEqual(game_round.how, "voted_out" if against * 2 > len(NAMES) else "survived")
        total = sum(self.scores().values())
        self.assertEqual(total, 600 if game_round.how == "voted_out" else 200)
