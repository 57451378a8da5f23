"""Near-duplicate requests (issue 33): which library items a new wording may share, and the offline judge.

Exact keys (``pregen.domain.keys``) already fold spelling; this module starts where they end: two wordings of one
lesson ("Intro to photosynthesis", "Photosynthesis basics") are two keys. A miss looks for *candidates* among the
published items of its **bucket**: the request's canonical form without its subject and topic, hashed. Everything
else (kind, grade, language, learning style, scope, count, question type, objectives, ...) is a hard filter by
construction: a candidate differs from the wording in its subject and topic texts only. Personal content and exams
(whose subject names the exam program) have no bucket: never shared, never matched.

Candidates are ranked by the Jaccard similarity of their subject-and-topic word sets (after stop words and light
stemming, ``words``); those at or above ``CANDIDATE_SIMILARITY`` are judged. A candidate is only a guess: the
*judge* decides (``pregen.ports.Judge``; Claude's small tier in production). ``offline_verdict`` is the judge the
offline generator uses in tests and local runs: a deterministic stand-in, deliberately strict -- the same word set
after stop words and stemming, and the same negation words (a negation on one side only is a hard no).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from pregen.domain.models import Kind, Scope

if TYPE_CHECKING:
    from pregen.domain.models import ContentRequest

# Kinds never matched: an exam's subject is its program (a hard filter), personalised exercises are one learner's.
UNMATCHED_KINDS = frozenset({Kind.EXAM, Kind.PERSONALIZED_EXERCISE})
# The least word-set similarity (Jaccard) at which a published item is a candidate worth judging.
CANDIDATE_SIMILARITY = 0.5
# At most this many candidates are judged for one miss (each judgement is a model call the caller's job pays).
MAX_CANDIDATES = 2
# At most this many index entries of a bucket are read for one miss (one Query page, ~100 B each).
BUCKET_READ_LIMIT = 200

# Words that frame a request without changing the lesson it asks for ("an introduction to", "basics of").
STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "to",
        "of",
        "for",
        "and",
        "in",
        "on",
        "with",
        "about",
        "into",
        "from",
        "by",
        "at",
        "as",
        "its",
        "it",
        "is",
        "are",
        "how",
        "what",
        "why",
        "intro",
        "introduction",
        "introductory",
        "basic",
        "basics",
        "beginner",
        "beginners",
        "fundamental",
        "fundamentals",
        "overview",
        "foundation",
        "foundations",
        "essential",
        "essentials",
        "primer",
        "101",
        "guide",
        "understanding",
        "learning",
        "learn",
        "lesson",
        "lessons",
        "topic",
        "simple",
        "simply",
        "explained",
        "explaining",
        "explain",
        "getting",
        "started",
    ]
)
# Words that turn a request into its opposite: on one side only, a hard no (the trap of similarity caches).
NEGATIONS = frozenset(
    [
        "not",
        "no",
        "without",
        "never",
        "non",
        "none",
        "nor",
        "neither",
        "cannot",
        "cant",
        "can't",
        "isn't",
        "aren't",
        "don't",
        "doesn't",
        "won't",
        "except",
        "excluding",
        "against",
        "un",
        "anti",
    ]
)
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")


def _stem(word: str) -> str:
    """Light stemming: plurals and -ing (``photosynthesis`` stays whole: a word ending in -sis is no plural)."""
    if word in NEGATIONS or len(word) <= 3:
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "sses")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "sis", "us")):
        return word[:-1]
    if word.endswith("ing") and len(word) > 5:
        return word[:-3]
    return word


def words(text: str) -> frozenset[str]:
    """A text's content words: folded, without stop words, lightly stemmed; possessives dropped (``newton's``)."""
    found = set()
    for raw in _WORD.findall(text.casefold().replace("\u2019", "'")):
        word = raw if raw in NEGATIONS else raw.removesuffix("'s")
        if word not in STOP_WORDS:
            found.add(_stem(word))
    return frozenset(found)


def request_words(request: ContentRequest) -> frozenset[str]:
    """The words of a request's subject and topic together (the part a near-duplicate may word differently)."""
    return words(f"{request.subject} {request.topic or ''}")


def bucket(request: ContentRequest) -> str | None:
    """The hard filters as one value: the canonical form without subject and topic, hashed; None for a request
    never matched (personal scope, an exam, a personalised exercise)."""
    if request.scope is Scope.PERSONAL or request.kind in UNMATCHED_KINDS:
        return None
    form = {k: v for k, v in request.canonical().items() if k not in {"subject", "topic"}}
    digest = hashlib.sha256(json.dumps(form, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:32]
    return f"{request.kind.value}-{digest}"


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    """Jaccard similarity of two word sets (0 when either is empty)."""
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


@dataclass(frozen=True)
class IndexEntry:
    """One published item of a bucket, as the candidate index holds it."""

    key: str
    subject: str
    topic: str | None


def rank(wording: ContentRequest, entries: list[IndexEntry], own_key: str) -> list[IndexEntry]:
    """The entries worth judging for a wording, best first: at least ``CANDIDATE_SIMILARITY``, at most
    ``MAX_CANDIDATES``, never the wording's own key."""
    mine = request_words(wording)
    scored = []
    for entry in entries:
        if entry.key == own_key:
            continue
        score = similarity(mine, words(f"{entry.subject} {entry.topic or ''}"))
        if score >= CANDIDATE_SIMILARITY:
            scored.append((score, entry.key, entry))
    scored.sort(key=lambda item: (-item[0], item[1]))
    return [entry for _, _, entry in scored[:MAX_CANDIDATES]]


@dataclass(frozen=True)
class Verdict:
    """A judge's answer: the same lesson for this learner or not, why, and what the judgement cost."""

    same: bool
    why: str
    model: str = "offline"
    cost_usd: float = 0.0
    calls: int = 0


class SameLesson(BaseModel):
    """The judge's structured answer (Claude's output schema)."""

    same: bool = Field(description="true only if the library's content fully serves the learner who asked")
    why: str = Field(max_length=300, description="one sentence")


def offline_verdict(wording: ContentRequest, candidate: ContentRequest) -> Verdict:
    """The offline judge: a deterministic stand-in for the model's judgement, stricter than it (see the module)."""
    if bucket(wording) is None or bucket(wording) != bucket(candidate):
        return Verdict(False, "not the same kind, grade, language, style, scope or program")
    mine, theirs = request_words(wording), request_words(candidate)
    if (mine & NEGATIONS) != (theirs & NEGATIONS):
        return Verdict(False, "a negation on one side only")
    if mine != theirs:
        return Verdict(False, f"different words: {sorted(mine ^ theirs)[:6]}")
    return Verdict(True, "the same words after stop words and stemming")
