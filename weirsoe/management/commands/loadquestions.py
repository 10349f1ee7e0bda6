"""manage.py loadquestions: bring the built-in question pack up to date with its JSON file."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from weirsoe.models import Question, QuestionPack
from weirsoe.question_bank import BANK_PATH, builtin_pack, load_bank, sync_bank


class Command(BaseCommand):
    help = "Add new questions from weirsoe/data/questions.json (or --file) to the built-in pack."

    def add_arguments(self, parser):
        parser.add_argument("--file", type=Path, default=BANK_PATH)

    def handle(self, *args, file: Path, **options):
        try:
            entries = load_bank(file)
        except (OSError, ValueError) as exc:  # a missing file, bad JSON, a bad row
            raise CommandError(str(exc)) from exc
        pack = builtin_pack(QuestionPack)
        added = sync_bank(Question, entries, pack)
        total = Question.objects.filter(pack=pack).count()
        self.stdout.write(f"{added} question(s) added; {total} in the built-in pack.")
