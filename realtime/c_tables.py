"""Write the C headers generated from the sidecar's tables (never committed).

`python3 -m realtime.c_tables build/gen` (mk/gen.mk) or setup.py writes
`ph_settings.def` (realtime/settings_table.py) and `ph_counters.def`
(realtime/counters_table.py) into the directory, each only when its text
changed. Standard library only: it runs before anything is installed.
"""

from __future__ import annotations

import os
import sys

from realtime import counters_table, settings_table

HEADERS = {
    "ph_settings.def": settings_table.c_def,
    "ph_counters.def": counters_table.c_def,
}


def write_defs(directory: str) -> None:
    """Write every generated header into `directory` unless it is up to date."""
    os.makedirs(directory, exist_ok=True)
    for name, render in HEADERS.items():
        path = os.path.join(directory, name)
        text = render()
        try:
            with open(path) as f:
                if f.read() == text:
                    continue
        except FileNotFoundError:
            pass
        with open(path, "w") as f:
            f.write(text)


if __name__ == "__main__":
    write_defs(sys.argv[1])
