#!/usr/bin/env python
"""Django's command-line utility for partyhub."""

import os
import sys


def main() -> None:
    """Run administrative tasks."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "partyhub.settings")
    if sys.argv[1:2] == ["test"]:
        # The tests (and the servers they start) run the development
        # configuration, as `make run` does; production's is tested by
        # tests/test_deploy.py with deploy/partyhub.env.
        os.environ.setdefault("DJANGO_DEBUG", "1")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
