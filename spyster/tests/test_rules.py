"""Pure rules of Spyster: endings, the scoring rule, votes, dealing."""

from django.test import SimpleTestCase

from spyster import rules
from spyster.rules import Outcome


class ScoringTests(SimpleTestCase):
    def test_every_ending_has_a_winner_and_the_points_of_the_rule(self):
        others = (2, 3, 4)
        expected = {
            rules.CAUGHT: {1: 0, 2: 200, 3: 100, 4: 100},  # 2 accused the spy
            rules.FRAMED: {1: 400},
            rules.GUESSED: {1: 400},
            rules.MISGUESSED: {2: 100, 3: 100, 4: 100},
            rules.VOTED_OUT: {2: 100, 3: 100, 4: 100},
            rules.SURVIVED: {1: 200},
            rules.SPY_LEFT: {},
        }
        self.assertEqual(set(expected), set(rules.ENDINGS))
        for how, points in expected.items():
            with self.subTest(how=how):
                accuser = 2 if how in (rules.CAUGHT, rules.FRAMED) else None
                won = rules.score(Outcome(how, 1, others, accuser))
                self.assertEqual(won, {pid: p for pid, p in points.items() if p})
                self.assertIn(rules.ENDINGS[how], (rules.SPY, rules.PLAYERS))

    def test_the_spy_scores_more_for_the_location_than_for_surviving(self):
        guessed = rules.score(Outcome(rules.GUESSED, 1, (2, 3)))[1]
        survived = rules.score(Outcome(rules.SURVIVED, 1, (2, 3)))[1]
        self.assertGreater(guessed, survived)

    def test_the_accuser_bonus_is_only_for_catching_the_spy(self):
        framed = rules.credits(Outcome(rules.FRAMED, 1, (2, 3), accuser_id=2))
        self.assertEqual(framed, [rules.Credit(1, rules.SPY_FRAME)])
        caught = rules.credits(Outcome(rules.CAUGHT, 1, (2, 3), accuser_id=3))
        self.assertIn(rules.Credit(3, rules.ACCUSER_BONUS), caught)
        self.assertEqual(rules.Outcome(rules.CAUGHT, 1, (2, 3)).winner, rules.PLAYERS)


class VoteTests(SimpleTestCase):
    def test_an_accusation_needs_every_voter_to_say_yes(self):
        voters = [1, 2, 3]
        self.assertIsNone(rules.accusation_result({1: True}, voters))
        self.assertIsNone(rules.accusation_result({1: True, 2: True}, voters))
        self.assertEqual(rules.accusation_result({1: True, 2: True, 3: True}, voters), "passed")
        self.assertEqual(rules.accusation_result({1: True, 2: False}, voters), "rejected")

    def test_the_final_vote_needs_a_strict_majority_of_all_players(self):
        spy = 9
        # 4 players: 2 of 4 is not a majority, 3 is.
        self.assertFalse(rules.final_vote_catches({1: 9, 2: 9, 3: 1, 9: 1}, spy, 4))
        self.assertTrue(rules.final_vote_catches({1: 9, 2: 9, 3: 9, 9: 1}, spy, 4))
        # Who did not vote names nobody: 2 of 5 named the spy.
        self.assertFalse(rules.final_vote_catches({1: 9, 2: 9}, spy, 5))
        self.assertTrue(rules.final_vote_catches({1: 9, 2: 9, 3: 9}, spy, 5))
        self.assertFalse(rules.final_vote_catches({}, spy, 3))


class DealTests(SimpleTestCase):
    def test_roles_go_round_when_there_are_more_players_than_roles(self):
        dealt = rules.deal_roles(["a", "b", "c"], [10, 11, 12, 13, 14])
        self.assertEqual(dealt, {10: "a", 11: "b", 12: "c", 13: "a", 14: "b"})
        with self.assertRaises(ValueError):
            rules.deal_roles([], [1])

    def test_location_names_compare_without_case_or_extra_spaces(self):
        self.assertEqual(
            rules.normalize("  farmers'   MARKET "), rules.normalize("Farmers' Market")
        )
        self.assertNotEqual(rules.normalize("Zoo"), rules.normalize("Zo o"))
