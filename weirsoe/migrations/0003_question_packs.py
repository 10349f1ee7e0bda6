"""Question packs (issue 19): every question belongs to a pack, the bank
so far becoming the built-in one; a prompt is unique within its pack; the
quiz's part of a preset."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from weirsoe.question_bank import builtin_pack


def into_builtin_pack(apps, schema_editor):
    pack = builtin_pack(apps.get_model("weirsoe", "QuestionPack"))
    apps.get_model("weirsoe", "Question").objects.filter(pack__isnull=True).update(pack=pack)


class Migration(migrations.Migration):
    dependencies = [
        ("lobby", "0005_preset"),
        ("weirsoe", "0002_load_questions"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="QuestionPack",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=60)),
                (
                    "published",
                    models.BooleanField(
                        default=False, help_text="Everyone may use it (only an admin can publish)."
                    ),
                ),
                (
                    "builtin",
                    models.BooleanField(
                        default=False, help_text="Shipped with the game: its default."
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("deleted_at", models.DateTimeField(blank=True, editable=False, null=True)),
                (
                    "owner",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="%(app_label)s_%(class)s_set",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name": "question pack",
                "ordering": ["-builtin", "name", "id"],
                "abstract": False,
            },
        ),
        migrations.AddField(
            model_name="question",
            name="pack",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="questions",
                to="weirsoe.questionpack",
            ),
        ),
        migrations.RunPython(into_builtin_pack, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="question",
            name="pack",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="questions",
                to="weirsoe.questionpack",
            ),
        ),
        migrations.AlterField(
            model_name="question",
            name="prompt",
            field=models.CharField(max_length=200),
        ),
        migrations.AlterModelOptions(name="question", options={"ordering": ["id"]}),
        migrations.AddConstraint(
            model_name="question",
            constraint=models.UniqueConstraint(
                fields=("pack", "prompt"), name="unique_question_in_pack"
            ),
        ),
        migrations.CreateModel(
            name="QuizPreset",
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
                ("lie_time_limit", models.IntegerField(blank=True, null=True)),
                ("guess_time_limit", models.IntegerField(blank=True, null=True)),
                ("auto_advance", models.BooleanField(blank=True, null=True)),
                ("categories", models.JSONField(blank=True, default=list)),
                (
                    "packs",
                    models.ManyToManyField(blank=True, related_name="+", to="weirsoe.questionpack"),
                ),
            ],
            options={"abstract": False},
        ),
    ]
