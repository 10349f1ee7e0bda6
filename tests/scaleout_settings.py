"""Settings of the server processes tests/test_scaleout.py starts.

The same as partyhub.settings (the test runner puts the test database in
DATABASE_URL, which children inherit), with the channel layer's `hosts` taken
from PARTYHUB_TEST_CHANNEL_HOSTS (JSON), so Daphne, `runsidecar` and the test
process share one several-host layer.
"""

import json
import os

from partyhub.settings import *  # noqa: F403
from partyhub.settings import CHANNEL_LAYERS

CHANNEL_LAYERS["default"]["CONFIG"]["hosts"] = json.loads(os.environ["PARTYHUB_TEST_CHANNEL_HOSTS"])
