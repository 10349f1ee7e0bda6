"""Awards of phase.game_over, from every round's guesses and the reactions received.

- best_liar: most players fooled; one per player who picked a lie you wrote
  (a shared lie credits every author).
- truth_seeker: most truths found; one per round you picked the truth.
- crowd_favourite: most reactions received (see lobby.reactions).
- most_gullible: fooled most often; one per round you picked a lie.

Ties: every player with the top count wins, listed in join order; a count of
0 wins nothing (`winners` is empty).
"""

from __future__ import annotations

from realtime import protocol

from .models import GameSession, Guess

TITLES = dict(
    zip(
        protocol.AWARDS,
        ("Best liar", "Truth seeker", "Crowd favourite", "Most gullible"),
        strict=True,
    )
)


def tally(session: GameSession) -> dict[str, dict[int, int]]:
    """Count per award id, per player id, over the whole game."""
    players = list(session.players.values_list("id", "reactions_received"))
    counts = {award: {pid: 0 for pid, _ in players} for award in TITLES}
    for pid, received in players:
        counts["crowd_favourite"][pid] = received
    guesses = Guess.objects.filter(round__session=session).select_related("answer")
    for guess in guesses.prefetch_related("answer__authors"):
        if guess.answer.is_truth:
            counts["truth_seeker"][guess.player_id] += 1
            continue
        counts["most_gullible"][guess.player_id] += 1
        for author in guess.answer.authors.all():
            if author.id != guess.player_id:
                counts["best_liar"][author.id] += 1
    return counts


def pick_awards(counts: dict[str, dict[int, int]], names: dict[int, str]) -> list[dict]:
    """The awards list: one entry per award id, winners by the tie rule above.

    `names` maps player id to name in join order (ids grow with joins).
    """
    awards = []
    for award, title in TITLES.items():
        per_player = counts[award]
        best = max(per_player.values(), default=0)
        winners = [
            {"player_id": pid, "name": names[pid]}
            for pid in sorted(per_player)
            if best > 0 and per_player[pid] == best
        ]
        awards.append({"award": award, "title": title, "count": best, "winners": winners})
    return awards


def game_awards(session: GameSession) -> list[dict]:
    """The `awards` of the session's phase.game_over."""
    names = dict(session.players.order_by("id").values_list("id", "name"))
    return pick_awards(tally(session), names)
