"""Who the caller is: the deployment's role claim (``ROLE_CLAIM``), for the API functions' resolvers."""

from __future__ import annotations

from pregen.config.base import load
from pregen.config.settings import IdentitySettings


def role_claim() -> str:
    return load(IdentitySettings).role_claim
