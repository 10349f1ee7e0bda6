"""Pure rules of the quiz: normalisation, escalating scores."""

from django.test import SimpleTestCase

from weirsoe import rules
from weirsoe.rules import GuessOutcome


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
