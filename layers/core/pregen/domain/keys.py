"""The one key builder: a canonical, versioned cache key from a normalised request."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import TYPE_CHECKING

from pregen import KEY_VERSION
from pregen.domain.models import Scope

if TYPE_CHECKING:
    from pregen.domain.courses import CourseRequest
    from pregen.domain.models import Caller, ContentRequest


def _digest(material: dict[str, object]) -> str:
    return hashlib.sha256(json.dumps(material, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:40]


def cache_key(request: ContentRequest, caller: Caller) -> str:
    """``v1-<kind>-<hash>``. Personal content folds the caller's ``sub`` into the hash, so it is theirs alone."""
    material = request.canonical()
    if request.scope is Scope.PERSONAL:
        material["owner"] = caller.sub
    return f"{KEY_VERSION}-{request.kind.value}-{_digest(material)}"


def outline_key(request: CourseRequest) -> str:
    """``v1-course_outline-<hash>``: a course's outline, cached by the normalised course request (in the content
    table, like any content), so the same course asked twice is planned once."""
    return f"{KEY_VERSION}-course_outline-{_digest(request.canonical())}"


def new_job_id() -> str:
    return uuid.uuid4().hex
