"""Settings of the server processes that the browser tests start.

The same as partyhub.settings (the test runner puts the test database in
DATABASE_URL, which children inherit), with a channel layer whose receive
loop survives redis-py 8 (tests/browser_layer.py).
"""

from partyhub.settings import *  # noqa: F403
from partyhub.settings import CHANNEL_LAYERS

CHANNEL_LAYERS["default"]["BACKEND"] = "tests.browser_layer.BrowserTestLayer"
