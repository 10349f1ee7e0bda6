"""Spyster's awards, counted over every ended round.

- master_spy: most rounds won as the spy; one per spy credit of the
  scoring rule (spyster.rules.credits: a guess, a framing, a survival).
- sleuth: most spies caught by an accusation one started; one per
  ACCUSER_BONUS credit.
- crowd_favourite: most reactions received (the platform's, lobby.awards).
- most_suspected: named most often by the others, in accusations and in
  final votes (not scoring: who drew the table's suspicion).

Winners and ties follow the platform's rule (lobby.awards.pick_awards).
"""

from __future__ import annotations

from django.utils.translation import gettext_noop

from lobby import awards as platform_awards
from lobby.driver import Award
from lobby.models import GameSession

from . import rules, state
from .models import Accusation, Suspicion

AWARDS = (
    Award(
        "master_spy", gettext_noop("Master spy"), gettext_noop("Won the most rounds as the spy.")
    ),
    Award(
        "sleuth",
        gettext_noop("Sleuth"),
        gettext_noop("Unmasked the spy with an accusation most often."),
    ),
    platform_awards.CROWD_FAVOURITE,
    Award(
        "most_suspected",
        gettext_noop("Most suspected"),
        gettext_noop("Named by the others most often."),
    ),
)
CREDIT_AWARD = {
    rules.SPY_GUESS: "master_spy",
    rules.SPY_FRAME: "master_spy",
    rules.SPY_SURVIVE: "master_spy",
    rules.ACCUSER_BONUS: "sleuth",
}


def tally(session: GameSession) -> dict[str, dict[int, int]]:
    """Count per award id (Spyster's own), per player id, over the whole game."""
    players = list(session.players.values_list("id", flat=True))
    counts = {award: {pid: 0 for pid in players} for award in ("master_spy", "sleuth")}
    counts["most_suspected"] = {pid: 0 for pid in players}
    for game_round in session.spyster_rounds.exclude(how=""):
        for credit in rules.credits(state.outcome(game_round)):
            award = CREDIT_AWARD.get(credit.kind)
            if award is not None:
                counts[award][credit.player_id] += 1
    named = [
        *Accusation.objects.filter(round__session=session).values_list("accused_id", flat=True),
        *Suspicion.objects.filter(round__session=session).values_list("suspect_id", flat=True),
    ]
    for pid in named:
        counts["most_suspected"][pid] = counts["most_suspected"].get(pid, 0) + 1
    return counts
