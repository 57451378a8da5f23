"""The one key builder: a canonical, versioned cache key from a normalised request."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import TYPE_CHECKING

from pregen import KEY_VERSION
from pregen.domain.models import Scope

if TYPE_CHECKING:
    from pregen.domain.models import Caller, ContentRequest


def cache_key(request: ContentRequest, caller: Caller) -> str:
    """``v1-<kind>-<hash>``. Personal content folds the caller's ``sub`` into the hash, so it is theirs alone."""
    material = request.canonical()
    if request.scope is Scope.PERSONAL:
        material["owner"] = caller.sub
    digest = hashlib.sha256(json.dumps(material, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    return f"{KEY_VERSION}-{request.kind.value}-{digest[:40]}"


def new_job_id() -> str:
    return uuid.uuid4().hex
