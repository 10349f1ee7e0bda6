"""Django settings for partyhub.

Everything a deployment changes comes from the environment. The defaults are
production's (DEBUG off, HTTPS redirect, no secret key); `make run` and
`manage.py test` turn DEBUG on for development (SQLite, Redis on
127.0.0.1:6379). The production environment: deploy/partyhub.env.
"""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


def _env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = _env_bool("DJANGO_DEBUG", False)
# Without DJANGO_SECRET_KEY and with DEBUG off the key is empty: Django then
# refuses whatever would sign with it, and `check --deploy` says so.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or (
    "dev-only-insecure-key-change-me-in-production" if DEBUG else ""
)
ALLOWED_HOSTS = _env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = _env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

# HTTPS behind a TLS proxy (deploy/nginx.conf sets X-Forwarded-Proto). The
# header is believed only from `trusted_proxies`: realtime.proxy drops it
# from anyone else before SecurityMiddleware reads it.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = _env_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = int(_env_float("DJANGO_SECURE_HSTS_SECONDS", 0))
SECURE_HSTS_INCLUDE_SUBDOMAINS = _env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = _env_bool("DJANGO_SECURE_HSTS_PRELOAD", False)
X_FRAME_OPTIONS = "DENY"

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    # Swagger UI's files for /api/docs/ (static files only, no DRF).
    "drf_spectacular_sidecar",
    "lobby",
    "realtime",
    # Accounts: sign-up, sign-in, password change and reset (Django's auth).
    "accounts",
    # Games (each registers its driver with the platform, lobby.registry).
    "weirsoe",
    "spyster",
    "hunch",
]

# Sessions, CSRF and auth serve the account pages, presets, packs and the
# admin. The game API's views are csrf_exempt (bearer tokens); when a call
# carries a signed-in session, lobby.webauth checks its CSRF token.
MIDDLEWARE = [
    # First: who the client is and whether it came over HTTPS (trusted proxies).
    "realtime.proxy.ProxyHeadersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language: the switcher's cookie, else the browser's Accept-Language.
    "django.middleware.locale.LocaleMiddleware",
    "lobby.ratelimit.RateLimitMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "partyhub.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

WSGI_APPLICATION = "partyhub.wsgi.application"
ASGI_APPLICATION = "partyhub.asgi.application"


# Several processes write (Daphne, Celery workers): wait for the lock, and take
# it when a transaction starts so that a transaction never fails half-way.
SQLITE_OPTIONS = {"timeout": 20, "transaction_mode": "IMMEDIATE"}


def _database(url: str) -> dict:
    """DATABASE_URL as dj-database-url reads it (its query string becomes
    OPTIONS, e.g. ?sslmode=require); SQLite gets SQLITE_OPTIONS under them."""
    db = dj_database_url.parse(url)
    if db["ENGINE"] == "django.db.backends.sqlite3":
        db["OPTIONS"] = {**SQLITE_OPTIONS, **db.get("OPTIONS", {})}
    return db


DATABASES = {
    "default": _database(os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Accounts (issue 19). Passwords are checked by Django's validators.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"django.contrib.auth.password_validation.{name}"}
    for name in (
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    )
]
CSRF_FAILURE_VIEW = "lobby.views.csrf_failure"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"
# Cookies only over HTTPS unless DEBUG (development over plain http).
SESSION_COOKIE_SECURE = _env_bool("DJANGO_SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# Sign-in: after LOGIN_FAILURES failed attempts for one username within
# LOGIN_WINDOW seconds, from any address, signing in as them is refused
# until the window ends (accounts.throttle). Per address, sign-in is one
# of the HTTP rate limits (`account`, PARTYHUB_RATE_LIMITS below).
PARTYHUB_LOGIN_FAILURES = int(_env_float("PARTYHUB_LOGIN_FAILURES", 5))
PARTYHUB_LOGIN_WINDOW = _env_float("PARTYHUB_LOGIN_WINDOW", 900)

# Email (password reset). Development prints the emails on the console;
# production sets DJANGO_EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend
# and the EMAIL_* variables (docs/operations.md).
EMAIL_BACKEND = os.environ.get(
    "DJANGO_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend"
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _env_bool("EMAIL_USE_SSL", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "partyhub <webmaster@localhost>")

# What users keep (lobby.presets, lobby.packs).
PARTYHUB_PRESETS_PER_USER = int(_env_float("PARTYHUB_PRESETS_PER_USER", 200))
PARTYHUB_PACKS_PER_USER = int(_env_float("PARTYHUB_PACKS_PER_USER", 50))
PARTYHUB_PACK_MAX_BYTES = int(_env_float("PARTYHUB_PACK_MAX_BYTES", 512 * 1024))
PARTYHUB_PACK_MAX_ITEMS = int(_env_float("PARTYHUB_PACK_MAX_ITEMS", 2000))

# The pages' languages (issue 17): each app's strings are in its locale/
# folder; `make setup` compiles the .po files (compilemessages).
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("da", "Dansk")]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# `manage.py collectstatic` writes here; WhiteNoise serves it (with DEBUG on,
# straight from the apps' static/ folders).
STATIC_ROOT = os.environ.get("DJANGO_STATIC_ROOT") or BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # In production: hashed names (cached for a year) and gzip'd copies.
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "partyhub.storage.StaticStorage"
    },
}
# Read now, not when the middleware starts (the test runner turns DEBUG off
# by then): with DEBUG on, files come from the apps and are re-read on change.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

CHANNEL_REDIS_HOST = os.environ.get("CHANNEL_REDIS_HOST", "127.0.0.1")
CHANNEL_REDIS_PORT = int(os.environ.get("CHANNEL_REDIS_PORT", "6379"))

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [(CHANNEL_REDIS_HOST, CHANNEL_REDIS_PORT)],
            # Messages one channel may hold before sends to it are dropped
            # (channels_redis' default is 100). A sidecar process receives
            # every event of all its games on one channel, so a short stall
            # would overflow 100 (BENCHMARKS.md "Soak").
            "capacity": int(os.environ.get("CHANNEL_LAYER_CAPACITY", "10000")),
        },
    }
}

# Celery (`celery -A partyhub worker`): phase deadlines and the periodic purge.
# The broker is the channel layer's Redis unless CELERY_BROKER_URL is set.
CELERY_BROKER_URL = (
    os.environ.get("CELERY_BROKER_URL") or f"redis://{CHANNEL_REDIS_HOST}:{CHANNEL_REDIS_PORT}/0"
)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# An unacknowledged task (its worker died) is redelivered after this long; it
# must exceed the longest countdown (600 s) or timers would be delivered twice
# (harmless, as every timer is guarded, but wasteful).
# Socket timeouts: a frozen Redis (SIGSTOP, a stalled host) must not hang the
# web request that schedules a timer (kombu's default is to wait forever).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 1800,
    "socket_timeout": 2,
    "socket_connect_timeout": 2,
}
# A web request that schedules a timer must not hang when Redis is down: give
# up quickly, log it, and let the host advance by hand.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"

# Game flow (issue 8). Durations in seconds (fractions allowed).
# A finished or exited session's players, lies, guesses and tokens are deleted
# this long after its end, so that the final screen can still load.
PARTYHUB_END_GRACE = _env_float("PARTYHUB_END_GRACE", 600)
# A session with no activity for this long is abandoned and purged.
PARTYHUB_ABANDONED_AFTER = _env_float("PARTYHUB_ABANDONED_AFTER", 6 * 3600)
# How often `make run` (Celery beat) runs the purge.
PARTYHUB_PURGE_INTERVAL = _env_float("PARTYHUB_PURGE_INTERVAL", 60)
# Time between two answers of the step-by-step reveal.
PARTYHUB_REVEAL_STEP = _env_float("PARTYHUB_REVEAL_STEP", 3)
# With auto_advance: scores stay up this long after the last reveal step, and
# the scoreboard this long before the next round (or game over).
PARTYHUB_RESULTS_HOLD = _env_float("PARTYHUB_RESULTS_HOLD", 4)
PARTYHUB_SCOREBOARD_PAUSE = _env_float("PARTYHUB_SCOREBOARD_PAUSE", 10)
# Reactions: at most LIMIT per player in any WINDOW seconds.
# Check every WebSocket payload sent against its whole schema (realtime.schema),
# not only its required fields: the test suite turns it on.
PARTYHUB_STRICT_EVENTS = _env_bool("PARTYHUB_STRICT_EVENTS", False)
PARTYHUB_REACTION_LIMIT = int(_env_float("PARTYHUB_REACTION_LIMIT", 5))
PARTYHUB_REACTION_WINDOW = _env_float("PARTYHUB_REACTION_WINDOW", 5)

# Lost timers: every SWEEP_INTERVAL s, Celery beat ends countdowns that are
# more than SWEEP_GRACE s past their deadline (a timer task normally ends them
# on time; this catches the ones lost with the broker or a killed worker).
PARTYHUB_TIMER_SWEEP_INTERVAL = _env_float("PARTYHUB_TIMER_SWEEP_INTERVAL", 5)
PARTYHUB_TIMER_SWEEP_GRACE = _env_float("PARTYHUB_TIMER_SWEEP_GRACE", 5)

CELERY_BEAT_SCHEDULE = {
    "purge-sessions": {"task": "lobby.tasks.purge_sessions", "schedule": PARTYHUB_PURGE_INTERVAL},
    "sweep-deadlines": {
        "task": "lobby.tasks.sweep_deadlines",
        "schedule": PARTYHUB_TIMER_SWEEP_INTERVAL,
    },
}

# The sidecar (realtime/settings_table.py, docs/operations.md): the
# connection caps may also come from the environment.
PARTYHUB_SIDECAR = {
    name: int(os.environ[f"PARTYHUB_{name.upper()}"])
    for name in ("max_conns_per_ip", "max_connections")
    if os.environ.get(f"PARTYHUB_{name.upper()}")
}

# HTTP rate limits per client address (lobby/ratelimit.py): "N/S" = at most N
# requests at once, refilled at N per S seconds; "0" = no limit. `create`
# (new games), `join`, `account` (sign-in, sign-up, password reset, deleting
# an account), `action` (every other POST).
PARTYHUB_RATE_LIMITS = {
    kind: os.environ[f"PARTYHUB_RATE_LIMIT_{kind.upper()}"]
    for kind in ("create", "join", "account", "action")
    if os.environ.get(f"PARTYHUB_RATE_LIMIT_{kind.upper()}")
}

# Where browsers open their WebSocket: PARTYHUB_WS_URL (e.g.
# wss://play.example.com) if set; else the page's own host, on
# PARTYHUB_WS_PORT if set (`make run` serves the sidecar on port + 1), else
# on the page's port.
PARTYHUB_WS_URL = os.environ.get("PARTYHUB_WS_URL") or None
PARTYHUB_WS_PORT = (
    int(os.environ["PARTYHUB_WS_PORT"]) if os.environ.get("PARTYHUB_WS_PORT") else None
)

# The join link on the big screen and its QR code (lobby/joinlink.py): the
# public origin when set (e.g. https://play.example.com); else the request's
# own, with PARTYHUB_LAN_ADDRESS (runparty sets it under PARTYHUB_HOST=0.0.0.0)
# in place of a loopback name.
PARTYHUB_PUBLIC_URL = os.environ.get("PARTYHUB_PUBLIC_URL") or None
PARTYHUB_LAN_ADDRESS = os.environ.get("PARTYHUB_LAN_ADDRESS") or None

TEST_RUNNER = "tests.runner.PartyhubTestRunner"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        name: {
            "handlers": ["console"],
            "level": os.environ.get("PARTYHUB_LOG_LEVEL", "INFO"),
            "propagate": False,  # Daphne's root handler would print them twice
        }
        # django.channels: runworker's start line is INFO (quiet `make run`).
        for name in ("lobby", "realtime", "weirsoe", "hunch", "accounts", "django.channels")
    },
}
