"""Pure rules of Spyster: endings, the scoring rule, votes, dealing; examples,
then properties over every outcome and vote (Hypothesis)."""

from django.test import SimpleTestCase
from hypothesis import given
from hypothesis import strategies as st

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


class RuleProperties(SimpleTestCase):
    """The rules hold for every outcome and every vote, not just the examples."""

    @given(
        how=st.sampled_from(sorted(rules.ENDINGS)),
        others=st.lists(st.integers(2, 50), min_size=2, max_size=11, unique=True),
        accuser=st.one_of(st.none(), st.integers(2, 50)),
    )
    def test_only_the_winning_side_scores(self, how, others, accuser):
        if accuser is not None and accuser not in others:
            accuser = None
        outcome = Outcome(how, 1, tuple(others), accuser)
        won = rules.score(outcome)
        self.assertTrue(all(points > 0 for points in won.values()))
        if how == rules.SPY_LEFT:
            self.assertEqual(won, {})
        elif outcome.winner == rules.SPY:
            self.assertEqual(list(won), [1])
        else:
            self.assertNotIn(1, won)
            self.assertEqual(set(won), set(others))
            bonus = {pid for pid, points in won.items() if points > rules.POINTS[rules.CATCH]}
            self.assertEqual(bonus, {accuser} if how == rules.CAUGHT and accuser else set())
        self.assertEqual(
            sum(won.values()), sum(rules.POINTS[c.kind] for c in rules.credits(outcome))
        )

    @given(
        voters=st.lists(st.integers(1, 30), min_size=1, max_size=11, unique=True),
        data=st.data(),
    )
    def test_an_accusation_passes_exactly_when_every_voter_says_yes(self, voters, data):
        cast = data.draw(st.dictionaries(st.sampled_from(voters), st.booleans()))
        result = rules.accusation_result(cast, voters)
        if any(agree is False for agree in cast.values()):
            self.assertEqual(result, rules.REJECTED)
        elif len(cast) == len(voters):
            self.assertEqual(result, rules.PASSED)
        else:
            self.assertIsNone(result)  # still open: someone may yet say no

    @given(
        players=st.integers(3, 12),
        data=st.data(),
    )
    def test_the_final_vote_catches_exactly_on_a_strict_majority(self, players, data):
        ids = list(range(1, players + 1))
        spy = data.draw(st.sampled_from(ids))
        voters = data.draw(st.lists(st.sampled_from(ids), unique=True))
        suspects = {v: data.draw(st.sampled_from([i for i in ids if i != v])) for v in voters}
        against = sum(1 for s in suspects.values() if s == spy)
        self.assertEqual(rules.final_vote_catches(suspects, spy, players), against > players / 2)
