"""The step-by-step reveal of a round's answers: lies first, the truth last.

Pure: built from the `phase.scores_calculated` payload with the one scoring
rule (weirsoe.rules), so the steps always add up to the scores. Every step
carries `reveal_at` (epoch ms), spaced `step_ms` apart, so every screen
shows the same step at the same moment; the scores follow one step after
the last answer.
"""

from __future__ import annotations

from . import rules


def build_reveal(results: dict, start_ms: int, step_ms: int) -> dict:
    """{"steps": [phase.reveal_step payloads], "reveal_at": ms of the final scores}.

    Lies are revealed in order of how many players they fooled (fewest first,
    then by answer id), so the best lie comes just before the truth. A step's
    `points` are what it awards, with each player's running `score`; the
    running scores start from the scores before this round.
    """
    round_number = results["round"]
    running = {d["player_id"]: d["score"] - d["delta"] for d in results["deltas"]}
    lies = [a for a in results["answers"] if not a["is_truth"]]
    lies.sort(key=lambda a: (len(a["guessed_by"]), a["id"]))
    truth = [a for a in results["answers"] if a["is_truth"]]
    steps = []
    for index, answer in enumerate(lies + truth):
        author_ids = tuple(a["player_id"] for a in answer["authors"])
        outcomes = [
            rules.GuessOutcome(g["player_id"], answer["id"], answer["is_truth"], author_ids)
            for g in answer["guessed_by"]
        ]
        awarded = rules.score_round(round_number, outcomes)
        fooled = [] if answer["is_truth"] else list(answer["guessed_by"])
        names = {p["player_id"]: p["name"] for p in answer["authors"] + answer["guessed_by"]}
        points = []
        for player_id in sorted(awarded):
            running[player_id] = running.get(player_id, 0) + awarded[player_id]
            points.append(
                {
                    "player_id": player_id,
                    "name": names[player_id],
                    "points": awarded[player_id],
                    "score": running[player_id],
                }
            )
        steps.append(
            {
                "round": round_number,
                "index": index,
                "answer": {
                    "id": answer["id"],
                    "text": answer["text"],
                    "is_truth": answer["is_truth"],
                },
                "authors": list(answer["authors"]),
                "fooled": fooled,
                "guessed_by": list(answer["guessed_by"]),
                "points": points,
                "reveal_at": start_ms + index * step_ms,
            }
        )
    return {"steps": steps, "reveal_at": start_ms + len(steps) * step_ms}


def step_at(reveal: dict | None, now_ms: int) -> dict | None:
    """The step on screen at `now_ms`: the last one revealed (None before the first)."""
    current = None
    for step in (reveal or {}).get("steps", []):
        if step["reveal_at"] <= now_ms:
            current = step
    return current
