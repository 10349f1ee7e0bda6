"""The quiz's awards, counted from every round's guesses by the scoring rule.

- best_liar: most players fooled; one per FOOL credit (weirsoe.rules.credits:
  a player who picked a lie you wrote; a shared lie credits every author).
- truth_seeker: most truths found; one per TRUTH credit.
- crowd_favourite: most reactions received (the platform's, lobby.awards).
- most_gullible: fooled most often; one per round you picked a lie.

Winners and ties follow the platform's rule (lobby.awards.pick_awards).
"""

from __future__ import annotations

from django.utils.translation import gettext_noop

from lobby import awards as platform_awards
from lobby.driver import Award
from lobby.models import GameSession

from . import rules
from .models import Guess

AWARDS = (
    Award("best_liar", gettext_noop("Best liar"), gettext_noop("Fooled the most players.")),
    Award(
        "truth_seeker", gettext_noop("Truth seeker"), gettext_noop("Found the truth most often.")
    ),
    platform_awards.CROWD_FAVOURITE,
    Award(
        "most_gullible", gettext_noop("Most gullible"), gettext_noop("Fell for a lie most often.")
    ),
)
AWARD_IDS = tuple(a.id for a in AWARDS)
CREDIT_AWARD = {rules.FOOL: "best_liar", rules.TRUTH: "truth_seeker"}


def tally(session: GameSession) -> dict[str, dict[int, int]]:
    """Count per award id (the quiz's own), per player id, over the whole game."""
    players = list(session.players.values_list("id", flat=True))
    counts = {
        award: {pid: 0 for pid in players} for award in (*CREDIT_AWARD.values(), "most_gullible")
    }
    guesses = Guess.objects.filter(round__session=session).select_related("answer")
    for guess in guesses.prefetch_related("answer__authors"):
        answer = guess.answer
        authors = tuple(a.id for a in answer.authors.all())
        outcome = rules.GuessOutcome(guess.player_id, answer.number, answer.is_truth, authors)
        for credit in rules.credits(outcome):
            counts[CREDIT_AWARD[credit.kind]][credit.player_id] += 1
        if not answer.is_truth:
            counts["most_gullible"][guess.player_id] += 1
    return counts


def pick_awards(counts: dict[str, dict[int, int]], names: dict[int, str]) -> list[dict]:
    """The quiz's awards list from counts (the platform's tie rule)."""
    return platform_awards.pick_awards(AWARDS, counts, names)
