"""Pure rules: normalisation, escalating scores, ranking."""

from django.test import SimpleTestCase

from lobby import rules
from lobby.rules import GuessOutcome


class NormalizeTests(SimpleTestCase):
    def test_ignores_case_spaces_and_punctuation(self):
        self.assertEqual(rules.normalize("  The Eiffel-Tower!! "), "theeiffeltower")
        self.assertEqual(rules.normalize("ÉCLAIR"), rules.normalize("éclair"))
        self.assertEqual(rules.normalize("?!"), "")


class ScoreTests(SimpleTestCase):
    def test_truth_and_fooling_escalate_by_round(self):
        outcomes = [GuessOutcome(1, 10, True, ()), GuessOutcome(2, 11, False, (3,))]
        self.assertEqual(rules.score_round(1, outcomes), {1: 1000, 3: 500})
        self.assertEqual(rules.score_round(3, outcomes), {1: 3000, 3: 1500})

    def test_shared_lie_pays_every_author(self):
        outcomes = [GuessOutcome(1, 10, False, (2, 3))]
        self.assertEqual(rules.score_round(2, outcomes), {2: 1000, 3: 1000})

    def test_a_lie_that_fools_two_pays_twice(self):
        outcomes = [GuessOutcome(1, 10, False, (3,)), GuessOutcome(2, 10, False, (3,))]
        self.assertEqual(rules.score_round(1, outcomes), {3: 1000})


class RankTests(SimpleTestCase):
    def test_competition_ranking_with_ties_in_join_order(self):
        ranking = rules.rank([(2, "b", 500), (1, "a", 500), (3, "c", 900), (4, "d", 0)])
        self.assertEqual(
            [(r["player_id"], r["rank"]) for r in ranking], [(3, 1), (1, 2), (2, 2), (4, 4)]
        )


class CodeAndTokenTests(SimpleTestCase):
    def test_code_is_four_unambiguous_letters(self):
        code = rules.new_code()
        self.assertEqual(len(code), 4)
        self.assertTrue(set(code) <= set(rules.CODE_ALPHABET))

    def test_token_has_at_least_128_bits_and_is_url_safe(self):
        token = rules.new_token()
        self.assertGreaterEqual(len(token) * 6, 128)
        self.assertRegex(token, r"^[A-Za-z0-9_-]+$")
