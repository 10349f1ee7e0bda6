"""Settings of the server process that the browser tests start.

The same as partyhub.settings, but on the test run's database (the runner
puts its name in PARTYHUB_TEST_DATABASE_NAME: a file for SQLite).
"""

import os

from partyhub.settings import *  # noqa: F403
from partyhub.settings import DATABASES

DATABASES["default"]["NAME"] = os.environ["PARTYHUB_TEST_DATABASE_NAME"]
DATABASES["default"].pop("TEST", None)
