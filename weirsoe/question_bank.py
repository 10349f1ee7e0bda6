"""The bundled question bank (weirsoe/data/questions.json), written by us."""

from __future__ import annotations

import json
from pathlib import Path

BANK_PATH = Path(__file__).resolve().parent / "data" / "questions.json"


def load_bank(path: Path = BANK_PATH) -> list[dict]:
    """Read and check the bank: a list of {prompt, answer, category}."""
    entries = json.loads(path.read_text(encoding="utf-8"))
    for index, entry in enumerate(entries):
        if not entry.get("prompt") or not entry.get("answer"):
            raise ValueError(f"question {index} in {path} lacks a prompt or an answer")
    return entries


def sync_bank(question_model, entries: list[dict]) -> int:
    """Insert new questions and update changed answers; return how many were added."""
    existing = {q.prompt: q for q in question_model.objects.all()}
    added = 0
    for entry in entries:
        fields = {"answer": entry["answer"], "category": entry.get("category", "")}
        current = existing.get(entry["prompt"])
        if current is None:
            question_model.objects.create(prompt=entry["prompt"], **fields)
            added += 1
        elif any(getattr(current, k) != v for k, v in fields.items()):
            question_model.objects.filter(pk=current.pk).update(**fields)
    return added
