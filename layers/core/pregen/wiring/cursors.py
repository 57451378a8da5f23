"""The key that signs the listings' cursors (``pregen.domain.cursors``), read once per container: the stack's
Secrets Manager secret on AWS, ``CURSOR_KEY`` locally and in tests."""

from __future__ import annotations

from pregen.config.base import load
from pregen.config.functions import CursorKeySettings
from pregen.wiring.cache import once
from pregen.wiring.secrets import read_secret


@once
def cursor_key() -> bytes:
    settings = load(CursorKeySettings)  # neither source set: a SettingsError at cold start, naming both
    if settings.cursor_key:
        return settings.cursor_key.encode()
    return read_secret(str(settings.cursor_key_secret), "cursor key")
