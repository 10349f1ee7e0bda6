"""partyhub: real-time party games on Django, with the hot path in C."""

__version__ = "0.1.0"
