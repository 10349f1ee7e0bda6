"""manage.py loadquestions: bring the question bank up to date with the JSON file."""

from pathlib import Path

from django.core.management.base import BaseCommand

from weirsoe.models import Question
from weirsoe.question_bank import BANK_PATH, load_bank, sync_bank


class Command(BaseCommand):
    help = "Add new questions from weirsoe/data/questions.json (or --file) to the bank."

    def add_arguments(self, parser):
        parser.add_argument("--file", type=Path, default=BANK_PATH)

    def handle(self, *args, file: Path, **options):
        entries = load_bank(file)
        added = sync_bank(Question, entries)
        self.stdout.write(f"{added} question(s) added; {Question.objects.count()} in the bank.")
