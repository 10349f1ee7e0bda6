"""Pure platform rules: ranking, session codes and tokens."""

from django.test import SimpleTestCase

from lobby import rules


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
