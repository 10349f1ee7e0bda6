"""Data migration: bring the bundled question bank in (new questions only)."""

from django.db import migrations

from weirsoe.question_bank import load_bank, sync_bank


def load(apps, schema_editor):
    sync_bank(apps.get_model("weirsoe", "Question"), load_bank())


class Migration(migrations.Migration):
    dependencies = [("weirsoe", "0001_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
