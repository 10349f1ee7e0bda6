"""Celery tasks of the game: phase deadlines and the purge (`celery -A partyhub worker`)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from . import flow, lifecycle


@shared_task(name="lobby.tasks.phase_deadline", ignore_result=True)
def phase_deadline(code: str, round_number: int, stage: str, token: str) -> bool:
    """A phase's deadline: advance the game if that phase is still the current one."""
    return flow.on_deadline(code, round_number, stage, token)


@shared_task(name="lobby.tasks.purge_sessions", ignore_result=True)
def purge_sessions() -> list[str]:
    """Delete ended (past the grace period) and abandoned sessions (Celery beat runs it)."""
    return lifecycle.purge_sessions()


@shared_task(name="lobby.tasks.sweep_deadlines", ignore_result=True)
def sweep_deadlines() -> list[str]:
    """End countdowns whose timer task was lost (Celery beat runs it)."""
    return flow.sweep_overdue(int(settings.PARTYHUB_TIMER_SWEEP_GRACE * 1000))
