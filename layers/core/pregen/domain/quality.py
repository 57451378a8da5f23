"""Quality figures of validated content: a validation score from real checks, and an estimated completion time.

The schema decides *valid or not*; the score says *how good*, from checks a schema cannot express: does the text
talk about what was asked, are the items distinct, do explanations teach, is the difficulty mixed, does the
stated level match the request. Each applicable check scores 0-1; the score is their mean.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel

    from pregen.domain.models import ContentRequest

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_READING_WPM = 180
_MINUTES_PER_QUESTION = 1.0


def _strings(value: Any) -> list[str]:
    """Every string in a body, in order."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _items(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The body's repeated units: questions (also inside exam sections), words, exercises, turns."""
    found: list[dict[str, Any]] = []
    for name in ("questions", "items", "exercises", "turns"):
        found += [i for i in body.get(name, []) if isinstance(i, dict)]
    for section in body.get("sections", []):
        if isinstance(section, dict):
            found += [q for q in section.get("questions", []) if isinstance(q, dict)]
    return found


def _item_key(item: dict[str, Any]) -> str:
    for name in ("prompt", "term", "text"):
        if isinstance(item.get(name), str):
            return " ".join(_WORD.findall(item[name].casefold()))
    return repr(sorted(item.items()))


def quality_checks(request: ContentRequest, body: dict[str, Any]) -> dict[str, float]:
    """Each applicable check's score (0-1), by name: the text's, the repeated items', then the stated figures'."""
    return {**_text_checks(request, _strings(body)), **_item_checks(_items(body)), **_stated_checks(request, body)}


def _text_checks(request: ContentRequest, texts: list[str]) -> dict[str, float]:
    checks: dict[str, float] = {}
    words = [w for t in texts for w in _WORD.findall(t.casefold())]
    # On topic: the words of the topic (or subject) appear in the content.
    wanted = {w for w in _WORD.findall(f"{request.topic or request.subject}".casefold()) if len(w) > 2}
    if wanted:
        checks["on_topic"] = len(wanted & set(words)) / len(wanted)
    # Substance: text fields are not near-empty placeholders.
    if texts:
        checks["substance"] = sum(1 for t in texts if len(_WORD.findall(t)) >= 2 or len(t) >= 12) / len(texts)
    # Lexical variety: a body that repeats the same few words is suspect.
    if len(words) >= 20:
        checks["variety"] = min(1.0, len(set(words)) / (0.25 * len(words)))
    return checks


def _item_checks(items: list[dict[str, Any]]) -> dict[str, float]:
    """Distinct items, explanations that teach, and a mix of difficulties."""
    if not items:
        return {}
    keys = [_item_key(i) for i in items]
    checks = {"distinct_items": len(set(keys)) / len(keys)}
    explained = [i for i in items if "explanation" in i or "tip" in i]
    if explained:
        teaching = [str(i.get("explanation") or i.get("tip") or "") for i in explained]
        checks["explanations_teach"] = sum(1 for t in teaching if len(_WORD.findall(t)) >= 6) / len(teaching)
    levels = [i.get("difficulty") for i in items if i.get("difficulty")]
    if len(levels) >= 3:
        checks["difficulty_mix"] = min(1.0, (len(set(levels)) - 1) / 2)
    return checks


def _stated_checks(request: ContentRequest, body: dict[str, Any]) -> dict[str, float]:
    """What the content says of itself: its level against the request, its minutes against an estimate."""
    checks: dict[str, float] = {}
    level = body.get("level")
    if isinstance(level, str) and request.grade:
        checks["level_matches"] = 1.0 if level.strip().casefold() == request.grade else 0.0
    minutes = body.get("estimated_minutes")
    if isinstance(minutes, int):
        estimate = estimate_minutes(body, use_stated=False)
        checks["time_plausible"] = min(minutes, estimate) / max(minutes, estimate) if minutes and estimate else 0.0
    return checks


def validation_score(request: ContentRequest, content: BaseModel | dict[str, Any]) -> float:
    """The mean of the applicable checks, rounded to 3 places: 1.0 is content with no flaw these checks see."""
    body = content if isinstance(content, dict) else content.model_dump(mode="json")
    return score_of(quality_checks(request, body))


def score_of(checks: dict[str, float]) -> float:
    return round(sum(checks.values()) / len(checks), 3) if checks else 0.0


def estimate_minutes(body: dict[str, Any], *, use_stated: bool = True) -> int:
    """The content's own estimate when it gives one, else reading time plus a minute per question or item."""
    stated = body.get("estimated_minutes")
    if use_stated and isinstance(stated, int) and stated > 0:
        return stated
    words = sum(len(_WORD.findall(t)) for t in _strings(body))
    return max(1, round(words / _READING_WPM + _MINUTES_PER_QUESTION * len(_items(body))))
