"""Keys kept in Secrets Manager and read once per container (the cursor key, the webhook's signing key)."""

from __future__ import annotations

from pregen.config.base import SettingsError


def read_secret(arn: str, what: str) -> bytes:
    """The secret's value as bytes; a SettingsError at cold start, naming ``what``, if it cannot be read or is
    empty (denied, deleted, another region)."""
    from aws_lambda_powertools.utilities.parameters import get_secret

    try:
        value = get_secret(arn)
    except Exception as exc:
        raise SettingsError(f"the {what} secret {arn} cannot be read: {exc}") from exc
    key = value.encode() if isinstance(value, str) else value if isinstance(value, bytes) else b""
    if not key:
        raise SettingsError(f"the {what} secret {arn} is empty")
    return key
