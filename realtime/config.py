"""Settings the Daphne consumer and the sidecar share.

`PARTYHUB_SIDECAR[name]` overrides a row of realtime/settings_table.py
(message rate limits, trusted proxies, the inbound channel, and the
sidecar's own limits); `setting()` reads one, checked against its type and
range. `allowed_origins()` is the Origin rule of both servers.
"""

from __future__ import annotations

import math

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .settings_table import BY_NAME, SETTINGS, Setting

DEFAULTS = {s.name: s.default for s in SETTINGS}
_NUMBER = {"int": (int,), "bytes": (int,), "count": (int,), "float": (int, float)}


def check(name: str, value):
    """`value` for setting `name` if it has the table's type and range;
    ImproperlyConfigured naming the setting otherwise."""
    spec: Setting | None = BY_NAME.get(name)
    if spec is None:
        known = ", ".join(sorted(BY_NAME))
        raise ImproperlyConfigured(f"PARTYHUB_SIDECAR has no setting {name!r} (known: {known})")
    if spec.type == "str":
        if not isinstance(value, str) or not spec.low <= len(value) <= spec.high:
            raise ImproperlyConfigured(
                f"PARTYHUB_SIDECAR[{name!r}] must be a string of {spec.low}..{spec.high} "
                f"characters, not {value!r}"
            )
        return value
    if (
        isinstance(value, bool)
        or not isinstance(value, _NUMBER[spec.type])
        or not math.isfinite(value)
        or not spec.low <= value <= spec.high
    ):
        kind = "a number" if spec.type == "float" else "an integer"
        raise ImproperlyConfigured(
            f"PARTYHUB_SIDECAR[{name!r}] must be {kind} in {spec.low:g}..{spec.high:g}, "
            f"not {value!r}"
        )
    return float(value) if spec.type == "float" else value


def setting(name: str):
    """One setting: PARTYHUB_SIDECAR[name] or its default, checked."""
    return check(name, getattr(settings, "PARTYHUB_SIDECAR", {}).get(name, DEFAULTS[name]))


def all_settings() -> dict:
    """Every setting, checked; an unknown name in PARTYHUB_SIDECAR is refused."""
    overrides = getattr(settings, "PARTYHUB_SIDECAR", {})
    for name in overrides:
        check(name, overrides[name])
    return {name: setting(name) for name in DEFAULTS}


def allowed_origins() -> str:
    """Both servers' Origin patterns: ALLOWED_HOSTS (Channels' rules) and
    CSRF_TRUSTED_ORIGINS (full origins; Django's `https://*.example.com`
    becomes the pattern `https://.example.com`)."""
    hosts = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not hosts:
        hosts = ["localhost", "127.0.0.1", "[::1]"]
    trusted = [o.replace("://*.", "://.", 1) for o in settings.CSRF_TRUSTED_ORIGINS]
    return ",".join(hosts + trusted)
