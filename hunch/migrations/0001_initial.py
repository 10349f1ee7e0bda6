"""Hunch's preset model: a column per setting (lobby.models.preset_columns)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [("lobby", "0005_preset")]

    operations = [
        migrations.CreateModel(
            name="HunchPreset",
            fields=[
                (
                    "preset",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="%(app_label)s_%(class)s",
                        serialize=False,
                        to="lobby.preset",
                    ),
                ),
                ("rounds", models.IntegerField(blank=True, null=True)),
                ("guess_time", models.IntegerField(blank=True, null=True)),
            ],
            options={"abstract": False},
        ),
    ]
