"""Settings of the Daphne that tests/test_sentinel.py starts: partyhub.settings
with the test's Sentinel CHANNEL_LAYERS, given as JSON in
PARTYHUB_TEST_CHANNEL_LAYERS, each host passed through sentinel_host() as the
README says (the test database comes through DATABASE_URL, as for every
child process)."""

import json
import os

from partyhub.settings import *  # noqa: F403
from realtime.redis_sentinel import sentinel_host

CHANNEL_LAYERS = json.loads(os.environ["PARTYHUB_TEST_CHANNEL_LAYERS"])
for _alias in CHANNEL_LAYERS.values():
    _alias["CONFIG"]["hosts"] = [sentinel_host(**h) for h in _alias["CONFIG"]["hosts"]]
