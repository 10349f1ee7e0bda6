"""manage.py purgesessions: delete ended and abandoned sessions with all their data."""

from django.core.management.base import BaseCommand

from lobby.lifecycle import purge_sessions


class Command(BaseCommand):
    help = (
        "Delete sessions that ended more than PARTYHUB_END_GRACE seconds ago or saw no "
        "activity for PARTYHUB_ABANDONED_AFTER seconds: players, tokens, rounds, lies, "
        "guesses and their Redis keys. `make run` runs it periodically (Celery beat)."
    )

    def handle(self, *args, **options):
        codes = purge_sessions()
        self.stdout.write(
            f"{len(codes)} session(s) purged" + (f": {', '.join(codes)}" if codes else ".")
        )
