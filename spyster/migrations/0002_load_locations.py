"""Data migration: bring the built-in location deck in."""

from django.db import migrations

from spyster.deck import load_deck, sync_deck


def load(apps, schema_editor):
    sync_deck(apps.get_model("spyster", "Deck"), apps.get_model("spyster", "Location"), load_deck())


class Migration(migrations.Migration):
    dependencies = [("spyster", "0001_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
