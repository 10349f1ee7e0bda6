"""Django settings of a soak run: the project's, with the channel layer's
`capacity` (messages per channel key, default 100) from SOAK_CAPACITY when
set (`bench/soak.py --capacity N`)."""

import os

from partyhub.settings import *  # noqa: F403
from partyhub.settings import CHANNEL_LAYERS

if os.environ.get("SOAK_CAPACITY"):
    CHANNEL_LAYERS["default"]["CONFIG"]["capacity"] = int(os.environ["SOAK_CAPACITY"])
