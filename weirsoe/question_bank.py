"""Question packs: what a file of questions looks like (for uploads and for
the bundled bank, weirsoe/data/questions.json, written by us), and keeping
the built-in pack in step with that file."""

from __future__ import annotations

from pathlib import Path

from django.utils.translation import gettext_lazy as _

from lobby import packs
from lobby.driver import Column, Packs

BANK_PATH = Path(__file__).resolve().parent / "data" / "questions.json"
BUILTIN_NAME = "Built-in questions"

# A row of a question file: CSV with the header `prompt,answer,category`, or
# JSON objects with those keys (a list, or {"name": ..., "questions": [...]}).
PACKS = Packs(
    model="weirsoe.QuestionPack",
    item_model="weirsoe.Question",
    label=_("question pack"),
    item_label=_("question"),
    items_key="questions",
    columns=(
        Column("prompt", 200),
        Column("answer", 40),
        Column("category", 20, required=False),
    ),
)


def load_bank(path: Path = BANK_PATH) -> list[dict]:
    """Read and check a bank file: its questions as {prompt, answer, category}.

    ValueError names every problem with its line (lobby.packs).
    """
    try:
        _, items = packs.read(PACKS, path.read_bytes(), path.name, limited=False)
    except packs.PackError as exc:
        raise ValueError(f"{path}: {exc}") from None
    return items


def sync_bank(question_model, entries: list[dict], pack=None) -> int:
    """Insert new questions into `pack` (None: the migration that predates
    packs) and update changed answers; return how many were added."""
    rows = (
        question_model.objects.all() if pack is None else question_model.objects.filter(pack=pack)
    )
    existing = {q.prompt: q for q in rows}
    added = 0
    for entry in entries:
        fields = {"answer": entry["answer"], "category": entry.get("category", "")}
        current = existing.get(entry["prompt"])
        if current is None:
            link = {} if pack is None else {"pack": pack}
            question_model.objects.create(prompt=entry["prompt"], **link, **fields)
            added += 1
        elif any(getattr(current, k) != v for k, v in fields.items()):
            question_model.objects.filter(pk=current.pk).update(**fields)
    return added


def builtin_pack(pack_model):
    """The built-in pack (created when missing)."""
    pack = pack_model.objects.filter(builtin=True).order_by("id").first()
    return pack or pack_model.objects.create(name=BUILTIN_NAME, builtin=True)
