"""Spyster through the REST API: dealing, the three ways a round ends, the
refusals, leaving mid-round, and a whole game with its awards."""

from __future__ import annotations

from django.test import TestCase

from lobby.models import Player
from spyster import rules
from spyster.models import Accusation, Location

from .support import NAMES, SpysterSession, location_of, phase, roles_of, run_deadline, spy_of


class SpysterCase(SpysterSession, TestCase):
    rounds = 3

    def start(self):
        status, body = self.api.host(self.code, "start-round", self.host)
        self.assertEqual((status, body.get("event")), (200, "spyster.round_started"), body)
        self.spy = spy_of(self.code)
        self.others = [pid for pid in self.ids.values() if pid != self.spy]
        return body

    def state(self, token=None):
        status, body = self.api.state(self.code, token)
        self.assertEqual(status, 200, body)
        return body

    def scores(self):
        return dict(Player.objects.filter(session__code=self.code).values_list("id", "score"))

    def accuse(self, accuser: int, accused: int):
        status, body = self.api.accuse(self.code, self.by_id[accuser], accused)
        self.assertEqual(status, 200, body)
        return body

    def vote(self, voter: int, agree: bool, expect=201):
        status, body = self.api.vote(self.code, self.by_id[voter], agree)
        self.assertEqual(status, expect, body)
        return body


class DealTests(SpysterCase):
    def test_the_game_is_listed_with_its_settings(self):
        status, body = self.api.call("GET", "/api/games/")
        game = next(g for g in body["games"] if g["game"] == "spyster")
        self.assertEqual((game["min_players"], game["max_players"]), (3, 12))
        defaults = {s["name"]: s["default"] for s in game["settings"]}
        self.assertEqual(defaults["round_minutes"], 8)
        self.assertEqual(
            set(defaults), {"rounds", "round_minutes", "vote_seconds", "final_vote_seconds"}
        )

    def test_settings_are_checked(self):
        for bad in ({"round_minutes": 0}, {"round_minutes": "8"}, {"lie_time_limit": 60}):
            with self.subTest(bad=bad):
                status, body = self.api.call("POST", "/api/sessions/", {"game": "spyster", **bad})
                self.assertEqual(status, 400, body)

    def test_three_players_at_least_and_twelve_at_most(self):
        code, host = self.api.create_spyster()
        self.api.join(code, "Ana")
        self.api.join(code, "Bo")
        status, body = self.api.host(code, "start-round", host)
        self.assertEqual((status, body["error"]["code"]), (409, "NOT_ENOUGH_PLAYERS"))
        for n in range(10):
            self.api.join(code, f"P{n}")
        status, body = self.api.call("POST", f"/api/sessions/{code}/join/", {"name": "Thirteen"})
        self.assertEqual((status, body["error"]["code"]), (409, "SESSION_FULL"))

    def test_the_deck_ships_twenty_locations_or_more_with_several_roles(self):
        locations = Location.objects.filter(deck__builtin=True)
        self.assertGreaterEqual(locations.count(), 20)
        for location in locations:
            self.assertGreaterEqual(len(location.roles), 6, location.name)
        self.assertEqual(self.state()["locations"], sorted(loc.name for loc in locations))

    def test_each_player_gets_a_card_the_spy_only_that_they_are_the_spy(self):
        body = self.start()
        self.assertEqual((body["phase"], body["round"]), ("playing", 1))
        location, roles = location_of(self.code), roles_of(self.code)
        self.assertEqual(set(roles), set(self.others))
        for name, token in self.tokens.items():
            you = self.state(token)["you"]
            pid = self.ids[name]
            card = {k: you[k] for k in ("round", "spy", "location", "role")}
            if pid == self.spy:
                self.assertEqual(card, {"round": 1, "spy": True, "location": None, "role": None})
            else:
                expected = {"round": 1, "spy": False, "location": location, "role": roles[pid]}
                self.assertEqual(card, expected)
            self.assertEqual(you["locations"], self.state()["locations"])
        self.assertIn(roles[self.others[0]], Location.objects.get(name=location).roles)

    def test_no_location_twice_in_a_game(self):
        seen = []
        for _ in range(3):
            self.start()
            seen.append(location_of(self.code))
            self.api.spy_guess(self.code, self.by_id[self.spy], seen[-1])
            self.assertEqual(phase(self.code), "scoreboard")
        self.assertEqual(len(set(seen)), 3)


class AccusationTests(SpysterCase):
    def test_a_unanimous_accusation_of_the_spy_catches_them(self):
        self.start()
        accuser = self.others[0]
        body = self.accuse(accuser, self.spy)
        self.assertEqual(body["accused_id"], self.spy)
        state = self.state()
        self.assertEqual(state["phase"], "vote")
        self.assertEqual(state["accusation"]["voted"], [accuser])
        self.assertEqual(state["accusation"]["voters"], sorted(self.others))
        self.assertGreater(state["clock_ms"], 7 * 60_000)
        for voter in self.others[1:]:
            self.vote(voter, True)
        state = self.state()
        self.assertEqual(state["phase"], "scoreboard")
        result = state["result"]
        self.assertEqual((result["winner"], result["how"]), ("players", "caught"))
        self.assertEqual((result["spy_id"], result["accuser_id"]), (self.spy, accuser))
        self.assertEqual(result["location"], location_of(self.code))
        expected = {pid: 100 for pid in self.others}
        expected[accuser] = 200
        expected[self.spy] = 0
        self.assertEqual(self.scores(), expected)
        self.assertEqual({d["player_id"]: d["delta"] for d in result["deltas"]}, expected)

    def test_a_unanimous_accusation_of_an_innocent_lets_the_spy_win(self):
        self.start()
        accuser, accused = self.others[0], self.others[1]
        self.accuse(accuser, accused)
        for voter in self.ids.values():
            if voter not in (accuser, accused):
                self.vote(voter, True)
        result = self.state()["result"]
        self.assertEqual((result["winner"], result["how"]), ("spy", "framed"))
        self.assertEqual(result["accused_id"], accused)
        self.assertEqual(self.scores()[self.spy], 400)

    def test_one_no_ends_the_vote_and_the_clock_goes_on(self):
        self.start()
        before = self.state()["deadline"]
        accuser, accused = self.others[0], self.spy
        self.accuse(accuser, accused)
        voter = self.others[1]
        body = self.vote(voter, False)
        self.assertEqual(body["agree"], False)
        state = self.state()
        self.assertEqual(state["phase"], "playing")
        self.assertIsNone(state["accusation"])
        self.assertEqual(state["accusations_used"], [accuser])
        # The clock stopped during the vote: the new deadline is no earlier.
        self.assertGreaterEqual(state["deadline"], before - 50)
        # Once per round: the same accuser cannot again; someone else can.
        status, body = self.api.accuse(self.code, self.by_id[accuser], accused)
        self.assertEqual((status, body["error"]["code"]), (409, "ALREADY_ACCUSED"))
        self.accuse(voter, accused)

    def test_a_vote_that_times_out_fails(self):
        self.start()
        self.accuse(self.others[0], self.spy)
        self.vote(self.others[1], True)
        self.assertTrue(run_deadline(self.code))
        self.assertEqual(phase(self.code), "playing")
        self.assertEqual(self.scores()[self.spy], 0)

    def test_refusals(self):
        self.start()
        ana = self.ids["Ana"]
        token = self.tokens["Ana"]
        cases = [
            (self.api.accuse, ("x",), 400, "INVALID_FIELD"),
            (self.api.accuse, (True,), 400, "INVALID_FIELD"),
            (self.api.accuse, (ana,), 400, "SELF_ACCUSED"),
            (self.api.accuse, (999999,), 400, "UNKNOWN_PLAYER"),
            (self.api.vote, (True,), 409, "WRONG_PHASE"),
            (self.api.vote, ("yes",), 400, "INVALID_FIELD"),
            (self.api.suspect, (self.ids["Bo"],), 409, "WRONG_PHASE"),
            (self.api.spy_guess, ("",), 400, "INVALID_FIELD"),
            (self.api.spy_guess, (None,), 400, "INVALID_FIELD"),
        ]
        for call, args, status, code in cases:
            with self.subTest(call=call.__name__, args=args):
                got, body = call(self.code, token, *args)
                self.assertEqual((got, body["error"]["code"]), (status, code), body)
        # The host is not a player.
        status, body = self.api.accuse(self.code, self.host, ana)
        self.assertEqual((status, body["error"]["code"]), (403, "WRONG_ROLE"))
        status, body = self.api.accuse(self.code, None, ana)
        self.assertEqual(status, 401)
        # In a vote: the accused cannot vote, the accuser has voted.
        accuser, accused = self.others[0], self.others[1]
        self.accuse(accuser, accused)
        status, body = self.api.vote(self.code, self.by_id[accused], True)
        self.assertEqual((status, body["error"]["code"]), (403, "NOT_A_VOTER"))
        status, body = self.api.vote(self.code, self.by_id[accuser], True)
        self.assertEqual((status, body["error"]["code"]), (409, "ALREADY_VOTED"))
        status, body = self.api.accuse(self.code, self.by_id[self.spy], accuser)
        self.assertEqual((status, body["error"]["code"]), (409, "WRONG_PHASE"))
        self.assertEqual(phase(self.code), "vote")


class SpyGuessTests(SpysterCase):
    def test_a_right_guess_wins_the_round_for_the_spy(self):
        self.start()
        where = location_of(self.code)
        status, body = self.api.spy_guess(self.code, self.by_id[self.spy], f"  {where.upper()} ")
        self.assertEqual((status, body["correct"], body["location"]), (200, True, where))
        result = self.state()["result"]
        self.assertEqual(
            (result["winner"], result["how"], result["guess"]), ("spy", "guessed", where)
        )
        self.assertEqual(self.scores()[self.spy], 400)

    def test_a_wrong_guess_wins_it_for_the_others(self):
        self.start()
        wrong = next(n for n in self.state()["locations"] if n != location_of(self.code))
        status, body = self.api.spy_guess(self.code, self.by_id[self.spy], wrong)
        self.assertEqual((status, body["correct"]), (200, False))
        result = self.state()["result"]
        self.assertEqual((result["winner"], result["how"]), ("players", "misguessed"))
        self.assertEqual(
            self.scores(), {pid: 0 if pid == self.spy else 100 for pid in self.ids.values()}
        )

    def test_only_the_spy_guesses_and_only_known_locations(self):
        self.start()
        where = location_of(self.code)
        status, body = self.api.spy_guess(self.code, self.by_id[self.others[0]], where)
        self.assertEqual((status, body["error"]["code"]), (403, "NOT_THE_SPY"))
        status, body = self.api.spy_guess(self.code, self.by_id[self.spy], "Atlantis")
        self.assertEqual((status, body["error"]["code"]), (400, "UNKNOWN_LOCATION"))
        self.assertEqual(phase(self.code), "playing")  # the guess is not used up


class FinalVoteTests(SpysterCase):
    def final_vote(self):
        self.start()
        self.assertTrue(run_deadline(self.code))
        state = self.state()
        self.assertEqual(state["phase"], "final_vote")
        self.assertEqual(state["final_vote"], {"voted": []})

    def test_a_strict_majority_against_the_spy_catches_them(self):
        self.final_vote()
        for pid in self.others:
            status, body = self.api.suspect(self.code, self.by_id[pid], self.spy)
            self.assertEqual(status, 201, body)
        self.assertEqual(phase(self.code), "final_vote")  # the spy has not voted yet
        status, body = self.api.suspect(self.code, self.by_id[self.spy], self.others[0])
        self.assertEqual(status, 201, body)
        result = self.state()["result"]
        self.assertEqual((result["winner"], result["how"]), ("players", "voted_out"))
        self.assertEqual(len(result["suspects"]), 4)

    def test_half_is_not_a_majority(self):
        self.final_vote()
        a, b, c = self.others
        for voter, named in ((a, self.spy), (b, self.spy), (c, a), (self.spy, a)):
            self.assertEqual(self.api.suspect(self.code, self.by_id[voter], named)[0], 201)
        result = self.state()["result"]
        self.assertEqual((result["winner"], result["how"]), ("spy", "survived"))
        self.assertEqual(self.scores()[self.spy], 200)

    def test_time_runs_out_and_who_did_not_vote_named_nobody(self):
        self.final_vote()
        a, b, _ = self.others
        self.api.suspect(self.code, self.by_id[a], self.spy)
        self.api.suspect(self.code, self.by_id[b], self.spy)
        status, body = self.api.suspect(self.code, self.by_id[a], self.spy)
        self.assertEqual((status, body["error"]["code"]), (409, "ALREADY_VOTED"))
        self.assertTrue(run_deadline(self.code))
        self.assertEqual(self.state()["result"]["how"], "survived")  # 2 of 4

    def test_nobody_votes_and_the_round_still_ends(self):
        self.final_vote()
        self.assertTrue(run_deadline(self.code))
        self.assertEqual(phase(self.code), "scoreboard")
        self.assertEqual(self.state()["result"]["winner"], "spy")


class LeavingTests(SpysterCase):
    players = NAMES + ("Eve",)

    def leave(self, pid):
        status, body = self.api.call(
            "POST", f"/api/sessions/{self.code}/leave/", {}, self.by_id[pid]
        )
        self.assertEqual(status, 200, body)

    def test_the_spy_leaving_ends_the_round_without_points(self):
        self.start()
        self.leave(self.spy)
        result = self.state()["result"]
        self.assertEqual(result["how"], rules.SPY_LEFT)
        self.assertEqual(set(self.scores().values()), {0})

    def test_the_accused_leaving_cancels_the_vote(self):
        self.start()
        accused = self.others[1]
        self.accuse(self.others[0], accused)
        self.leave(accused)
        state = self.state()
        self.assertEqual(state["phase"], "playing")

    def test_leaving_while_paused_waits_for_the_deadline_after_resume(self):
        self.start()
        accused = self.others[1]
        self.accuse(self.others[0], accused)
        self.assertEqual(self.api.host(self.code, "pause", self.host)[0], 200)
        self.leave(accused)
        state = self.state()
        self.assertEqual((state["phase"], state["paused"]), ("vote", True))
        self.assertEqual(self.api.host(self.code, "resume", self.host)[0], 200)
        self.assertTrue(run_deadline(self.code))
        state = self.state()
        self.assertEqual((state["phase"], state["paused"]), ("playing", False))
        self.assertEqual(state["accusations_used"], [self.others[0]])
        self.assertEqual(Accusation.objects.get(accused_id=accused).result, "cancelled")

    def test_a_voter_leaving_can_complete_the_vote(self):
        self.start()
        accuser, *rest = self.others
        self.accuse(accuser, self.spy)
        for voter in rest[:-1]:
            self.vote(voter, True)
        self.leave(rest[-1])
        self.assertEqual(self.state()["result"]["how"], rules.CAUGHT)


class WholeGameTests(SpysterCase):
    def test_rounds_scoreboard_game_over_with_awards(self):
        sleuths = set()
        for number in (1, 2, 3):
            self.start()
            if number < 3:
                accuser = self.others[0]
                self.accuse(accuser, self.spy)
                for voter in self.others[1:]:
                    self.vote(voter, True)
                sleuths.add(accuser)
            else:
                self.api.spy_guess(self.code, self.by_id[self.spy], location_of(self.code))
                last_spy = self.spy
            state = self.state()
            self.assertEqual((state["phase"], state["round"]), ("scoreboard", number))
            self.assertEqual(
                [r["score"] for r in state["ranking"]], sorted(self.scores().values(), reverse=True)
            )
        status, body = self.api.host(self.code, "start-round", self.host)
        self.assertEqual((status, body["error"]["code"]), (409, "NO_MORE_ROUNDS"))
        status, body = self.api.host(self.code, "finish", self.host)
        self.assertEqual((status, body["event"]), (200, "phase.game_over"))
        state = self.state()
        awards = {a["award"]: a for a in state["awards"]}
        self.assertEqual(
            list(awards), ["master_spy", "sleuth", "crowd_favourite", "most_suspected"]
        )
        self.assertIn(last_spy, [w["player_id"] for w in awards["master_spy"]["winners"]])
        self.assertLessEqual({w["player_id"] for w in awards["sleuth"]["winners"]}, sleuths)
        self.assertGreater(awards["sleuth"]["count"], 0)
        self.assertGreater(awards["most_suspected"]["count"], 0)
        self.assertIsNone(state["result"])
        self.assertIsNone(self.state(self.tokens["Ana"])["you"]["spy"])
