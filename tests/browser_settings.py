"""Settings of the server processes that the browser tests start.

The same as partyhub.settings (the test runner puts the test database in
DATABASE_URL, which children inherit), with a channel layer whose receive
loop survives redis-py 8 (tests/browser_layer.py).
"""

from partyhub.settings import *  # noqa: F403
from partyhub.settings import CHANNEL_LAYERS

CHANNEL_LAYERS["default"]["BACKEND"] = "tests.browser_layer.BrowserTestLayer"
# A short step-by-step reveal, so the tests see every step without waiting long.
# The first step shows one step after the host's click: at 0.6 s, the events
# reached the page after the second step's time under ASan on a loaded 2-core
# machine, so two answers appeared at once and "one at a time" failed.
PARTYHUB_REVEAL_STEP = 1.0
