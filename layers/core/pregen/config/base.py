"""The configuration base: one environment-backed pydantic model class, and ``load``, the one cached loader.

Each function's settings class is composed from small mixins and read from the environment once per cold start
(``load(ServeSettings)``), validated, failing loudly when incomplete. Resource names have no defaults: a missing
one is a deployment error, not something to guess.
"""

from __future__ import annotations

import os
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError


class SettingsError(RuntimeError):
    """Raised at cold start when the environment does not describe a complete deployment."""


class Env(BaseModel):
    # defer_build: a function builds the validator of the one settings class it reads, on first use, not the
    # validators of all of them at import (cold start).
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True, defer_build=True)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Any:
        env = dict(os.environ if environ is None else environ)
        try:
            return cls.model_validate(env)
        except ValidationError as exc:
            # a field's error names the field; a rule between fields (a model validator) says itself
            fields = ", ".join(str(err["loc"][0]) if err["loc"] else str(err["msg"]) for err in exc.errors())
            raise SettingsError(f"{cls.__name__}: missing or invalid environment variables: {fields}") from exc


S = TypeVar("S", bound=Env)
_loaded: dict[type[Env], Env] = {}


def load(settings_class: type[S]) -> S:
    """The settings of this process for ``settings_class``, read and validated on first use, then kept."""
    found = _loaded.get(settings_class)
    if found is None:
        found = _loaded[settings_class] = settings_class.from_env()
    return found  # type: ignore[return-value]


def forget() -> None:
    """For tests that change the environment between cases: the next ``load`` reads it again."""
    _loaded.clear()
