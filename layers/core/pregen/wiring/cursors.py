"""The key that signs the listings' cursors (``pregen.domain.cursors``), read once per container: the stack's
Secrets Manager secret on AWS, ``CURSOR_KEY`` locally and in tests."""

from __future__ import annotations

from pregen.config.base import SettingsError, load
from pregen.config.functions import CursorKeySettings
from pregen.wiring.cache import once


@once
def cursor_key() -> bytes:
    settings = load(CursorKeySettings)  # neither source set: a SettingsError at cold start, naming both
    if settings.cursor_key:
        return settings.cursor_key.encode()
    from aws_lambda_powertools.utilities.parameters import get_secret

    secret = str(settings.cursor_key_secret)
    try:
        value = get_secret(secret)
    except Exception as exc:  # denied, deleted, another region: nothing can be listed, say why at cold start
        raise SettingsError(f"the cursor key secret {secret} cannot be read: {exc}") from exc
    key = value.encode() if isinstance(value, str) else value if isinstance(value, bytes) else b""
    if not key:
        raise SettingsError(f"the cursor key secret {secret} is empty")
    return key
