"""Settings of the server processes that the browser tests start.

The same as partyhub.settings, but on the test run's database (the runner
puts its name in PARTYHUB_TEST_DATABASE_NAME: a file for SQLite) and with a
channel layer whose receive loop survives redis-py 8 (tests/browser_layer.py).
"""

import os

from partyhub.settings import *  # noqa: F403
from partyhub.settings import CHANNEL_LAYERS, DATABASES

DATABASES["default"]["NAME"] = os.environ["PARTYHUB_TEST_DATABASE_NAME"]
DATABASES["default"].pop("TEST", None)
CHANNEL_LAYERS["default"]["BACKEND"] = "tests.browser_layer.BrowserTestLayer"
