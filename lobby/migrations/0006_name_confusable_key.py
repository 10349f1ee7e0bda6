"""Player names up to 20 user-perceived characters (lobby.text), and
name_key as the confusable skeleton of the name instead of its case fold."""

from django.db import migrations, models

from lobby import text


def skeleton_keys(apps, schema_editor):
    """Recompute every player's key; a name that now collides with an earlier
    one of its session keeps a key of its own (the player is already in)."""
    Player = apps.get_model("lobby", "Player")
    taken = set()
    for player in Player.objects.order_by("session_id", "id"):
        key = text.confusable_key(player.name)
        if (player.session_id, key) in taken:
            key = f"{key}#{player.id}"
        taken.add((player.session_id, key))
        Player.objects.filter(pk=player.pk).update(name_key=key)


class Migration(migrations.Migration):
    dependencies = [
        ("lobby", "0005_preset"),
    ]

    operations = [
        migrations.AlterField(
            model_name="player",
            name="name",
            field=models.CharField(max_length=160),
        ),
        migrations.AlterField(
            model_name="player",
            name="name_key",
            field=models.CharField(max_length=640),
        ),
        migrations.RunPython(skeleton_keys, migrations.RunPython.noop),
    ]
