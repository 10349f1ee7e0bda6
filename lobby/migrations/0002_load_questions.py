"""Data migration: load the bundled question bank."""

from django.db import migrations


def load(apps, schema_editor):
    from lobby.question_bank import load_bank, sync_bank

    sync_bank(apps.get_model("lobby", "Question"), load_bank())


class Migration(migrations.Migration):
    dependencies = [("lobby", "0001_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
