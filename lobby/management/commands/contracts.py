"""`manage.py contracts`: write what is generated from the typed message table.

- realtime/static/realtime/partyhub-transport.d.ts (the transport's
  TypeScript declarations, realtime.typescript);
- lobby/static/lobby/partyhub-games.d.ts (the platform's and every
  registered game's, lobby.typescript, in the transport's shapes);
- the marked tables of docs/protocol.md.

`--check` writes nothing and fails when any is not current (a test runs
the same comparison). `make contracts` runs it.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from lobby import contracts, typescript
from realtime import typescript as transport_typescript

PROTOCOL_MD = Path("docs/protocol.md")


def generated() -> dict[Path, str]:
    """Each generated file's path (from the repository root) and its current text."""
    root = Path(settings.BASE_DIR)
    protocol_md = (root / PROTOCOL_MD).read_text(encoding="utf-8")
    return {
        transport_typescript.DTS: transport_typescript.declarations(),
        typescript.DTS: typescript.declarations(),
        PROTOCOL_MD: contracts.fill_markers(protocol_md, contracts.docs_tables()),
    }


def stale() -> list[Path]:
    """The generated files whose checked-in text differs from what they should be."""
    root = Path(settings.BASE_DIR)
    out = []
    for path, text in generated().items():
        current = (root / path).read_text(encoding="utf-8") if (root / path).exists() else None
        if current != text:
            out.append(path)
    return out


class Command(BaseCommand):
    help = "Write the TypeScript declarations and docs/protocol.md's message tables."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--check", action="store_true", help="fail if anything is stale")

    def handle(self, *args, check: bool = False, **options) -> None:
        if check:
            old = stale()
            if old:
                names = ", ".join(str(p) for p in old)
                raise CommandError(f"not current: {names} (run `make contracts`)")
            self.stdout.write("contracts are current")
            return
        root = Path(settings.BASE_DIR)
        for path, text in generated().items():
            (root / path).write_text(text, encoding="utf-8")
            self.stdout.write(f"wrote {path}")
