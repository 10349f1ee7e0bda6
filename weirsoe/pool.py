"""The questions a quiz session draws from: its packs (none chosen: the
built-in bank), narrowed to its categories when it names any."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import ngettext

from lobby import packs
from lobby.errors import bad_request

from .models import Question
from .question_bank import PACKS


def questions(settings: dict) -> QuerySet[Question]:
    """Every question a session with these settings may ask.

    The packs were checked when the game was created; a pack deleted since
    still serves the games that use it (lobby.packs).
    """
    chosen = settings.get("packs") or []
    pool = (
        Question.objects.filter(pack_id__in=chosen)
        if chosen
        else Question.objects.filter(pack__builtin=True)
    )
    if settings.get("categories"):
        pool = pool.filter(category__in=settings["categories"])
    return pool


def check(settings: dict) -> None:
    """400 NOT_ENOUGH_QUESTIONS when the packs and categories chosen hold
    fewer questions than the game has rounds."""
    have = questions(settings).count()
    if have < settings["rounds"]:
        message = ngettext(
            "A game of %(rounds)s round needs %(rounds)s question: "
            "the packs and categories chosen have %(have)s.",
            "A game of %(rounds)s rounds needs %(rounds)s questions: "
            "the packs and categories chosen have %(have)s.",
            settings["rounds"],
        )
        message %= {"have": have, "rounds": settings["rounds"]}
        raise bad_request("NOT_ENOUGH_QUESTIONS", message)


def categories(user) -> list[str]:
    """The categories `user` may pick: those of every pack they may use."""
    usable = packs.usable(PACKS, user)
    names = Question.objects.filter(pack__in=usable).exclude(category="")
    return sorted(set(names.values_list("category", flat=True)))
