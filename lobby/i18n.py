"""Languages: which apps' translations the pages' scripts get.

Each of the project's apps (the platform, the transport's client, every
game) keeps its strings in its own `locale/` folder; the JavaScript catalog
(/jsi18n/) merges the `djangojs` ones of every app that has such a folder.
"""

from __future__ import annotations

from pathlib import Path

from django.apps import apps


def script_packages() -> list[str]:
    """The installed apps (not Django's own) with a locale/ folder."""
    return [
        config.name
        for config in apps.get_app_configs()
        if not config.name.startswith("django.") and (Path(config.path) / "locale").is_dir()
    ]
