"""Decks of users (issue 19): a deck has an owner, may be published, and its
name is no longer unique; Spyster's part of a preset."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("lobby", "0005_preset"),
        ("spyster", "0002_load_locations"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="deck",
            options={"ordering": ["-builtin", "name", "id"], "verbose_name": "location deck"},
        ),
        migrations.AddField(
            model_name="deck",
            name="created_at",
            field=models.DateTimeField(auto_now_add=True, default=django.utils.timezone.now),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="deck",
            name="deleted_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="deck",
            name="owner",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="%(app_label)s_%(class)s_set",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="deck",
            name="published",
            field=models.BooleanField(
                default=False, help_text="Everyone may use it (only an admin can publish)."
            ),
        ),
        migrations.AlterField(
            model_name="deck",
            name="builtin",
            field=models.BooleanField(
                default=False, help_text="Shipped with the game: its default."
            ),
        ),
        migrations.AlterField(
            model_name="deck",
            name="name",
            field=models.CharField(max_length=60),
        ),
        migrations.CreateModel(
            name="SpysterPreset",
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
                ("round_minutes", models.IntegerField(blank=True, null=True)),
                ("vote_seconds", models.IntegerField(blank=True, null=True)),
                ("final_vote_seconds", models.IntegerField(blank=True, null=True)),
                (
                    "deck",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="spyster.deck",
                    ),
                ),
            ],
            options={"abstract": False},
        ),
    ]
