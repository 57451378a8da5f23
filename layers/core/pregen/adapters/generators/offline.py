"""A deterministic offline generator: schema-valid content from the request alone, for local runs without a key.

Its output is marked ``"generator": "offline"`` so nobody mistakes it for real teaching material.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import TYPE_CHECKING, Any

from pregen.adapters.generators.offline_language import language_content
from pregen.domain.model_time import INSTANT, ModelLatency, estimate_tokens
from pregen.domain.models import DEFAULT_LESSON_NUMBER, LANGUAGE_KINDS, Generation, Kind, QuestionType

if TYPE_CHECKING:
    from collections.abc import Callable

    from pregen.domain.courses import CourseRequest, LibraryLesson
    from pregen.domain.models import ContentRequest
    from pregen.domain.near import Verdict
    from pregen.domain.programs import SectionSpec

_DIFFICULTIES = ("easy", "medium", "medium", "hard")
EXAM_DOMAINS = (
    "Foundations",
    "Procedures",
    "Analysis",
    "Application",
    "Safety and ethics",
    "Communication",
    "Planning",
    "Evaluation",
)


class OfflineGenerator:
    """Deterministic: the same request always yields the same content. ``latency`` (the run's ``MODEL_LATENCY``)
    makes each call take as long as the model would for an answer of that length, on the tier ``model_for`` names
    for it (the worker's settings; without it, the small tier)."""

    name = "offline"

    def __init__(self, latency: ModelLatency = INSTANT, model_for: Callable[[Kind], str] | None = None) -> None:
        self.latency = latency
        self.model_for = model_for

    def _take_time(self, body: dict[str, Any], kind: Kind, seed: str, started: float) -> None:
        """Sleep what is left, since ``started``, of the time the latency model says a call answering ``body`` takes
        (nothing when instant): building the body is part of that time."""
        if self.latency.instant:
            return
        model = self.model_for(kind) if self.model_for else "haiku"
        elapsed = time.perf_counter() - started
        time.sleep(self.latency.remaining(model, estimate_tokens(json.dumps(body)), seed, elapsed))

    def generate(
        self, request: ContentRequest, feedback: str | None = None, *, max_calls: int | None = None
    ) -> Generation:
        """``feedback`` (a regeneration's reason and comments) changes the seed, so a new version differs. One call,
        within any ``max_calls``."""
        started = time.perf_counter()
        material = repr(sorted(request.canonical().items())) + (f"|feedback:{feedback}" if feedback else "")
        seed = int(hashlib.sha256(material.encode()).hexdigest()[:8], 16)
        topic = request.topic or request.subject
        if request.kind in LANGUAGE_KINDS:
            body = language_content(request, topic, seed, revised=feedback is not None)
        elif request.kind is Kind.LESSON:
            body = _lesson(request, topic)
        elif request.kind is Kind.BRAIN_BYTES:
            body = _brain_bytes(topic, request.count or 5, request.objectives)
        elif request.kind is Kind.QUESTION_SET:
            qtype = request.question_type or QuestionType.MULTIPLE_CHOICE
            questions = [_question(qtype, topic, i, seed) for i in range(request.count or 1)]
            aims = request.objectives or []
            for i, question in enumerate(questions if aims else []):
                question["objective"] = aims[i % len(aims)]
                question["prompt"] += f": {question['objective']}"  # what it examines (the alignment judge reads it)
            body = {"title": f"{topic.title()} practice", "question_type": qtype.value, "questions": questions}
        else:
            body = _exam(request, topic, seed)
        if request.language and request.kind in {Kind.LESSON, Kind.BRAIN_BYTES, Kind.QUESTION_SET}:
            body["language"] = request.language  # the text stays English: offline content is a placeholder
        if feedback and request.kind not in LANGUAGE_KINDS:
            body["title"] = f"{body['title']} (revised)"  # a regenerated version differs from the one it replaces
        self._take_time(body, request.kind, material, started)
        return Generation(
            body=body,
            generator="offline",
            model="offline",
            latency_ms=int((time.perf_counter() - started) * 1000),
        )

    def judge_same(self, wording: ContentRequest, candidate: ContentRequest) -> Verdict:
        """The offline judge: ``pregen.domain.near.offline_verdict``, a deterministic stand-in for the model's."""
        from pregen.domain.near import offline_verdict

        return offline_verdict(wording, candidate)

    def judge_alignment(self, questions: list[dict[str, Any]], objectives: list[str]) -> Generation:
        """The offline judge of a course's assessments: ``pregen.domain.courses.offline_alignment``, a deterministic
        stand-in for the model's (aligned when a question shares a word with the objective it names)."""
        from pregen.domain.courses import offline_alignment

        started = time.perf_counter()
        body = offline_alignment(questions)
        self._take_time(body, Kind.QUESTION_SET, json.dumps(questions, sort_keys=True), started)
        return Generation(
            body=body, generator="offline", model="offline", latency_ms=int((time.perf_counter() - started) * 1000)
        )

    def plan_course(
        self, request: CourseRequest, *, offered: list[LibraryLesson] | None = None, max_calls: int | None = None
    ) -> Generation:
        """A course's outline from the request alone: module m, lesson n of the subject. The titles depend on the
        subject, grade and place only, so two courses on one subject share the lessons at the same places. It
        never reuses an offered library lesson by key (the schema-following fake does: pregen_fakes)."""
        started = time.perf_counter()
        subject = request.subject.title()
        modules = []
        for m in range(1, request.modules + 1):
            lessons = [
                {
                    "title": f"{subject} {m}.{n}",
                    "objectives": [f"Explain idea {m}.{n} of {request.subject}", f"Use idea {m}.{n} in an example"],
                }
                for n in range(1, request.lessons_per_module + 1)
            ]
            modules.append(
                {
                    "title": f"{subject} unit {m}",
                    "summary": f"Unit {m} of {request.subject} for grade {request.grade} (offline placeholder).",
                    "lessons": lessons,
                }
            )
        body = {
            "title": request.title or f"{subject} for grade {request.grade}",
            "description": request.description or f"An offline placeholder course on {request.subject}.",
            "modules": modules,
        }
        self._take_time(body, Kind.LESSON, repr(body["title"]) + repr(request), started)
        return Generation(
            body=body, generator="offline", model="offline", latency_ms=int((time.perf_counter() - started) * 1000)
        )

    def generate_section(self, spec: SectionSpec) -> Generation:
        """One exam section: the spec's domain, count and question-type mix, numbered from its offset so
        prompts never repeat across the exam's sections."""
        started = time.perf_counter()
        seed = int(hashlib.sha256(f"{spec.exam_id}:{spec.index}".encode()).hexdigest()[:8], 16)
        types = [qtype for qtype, n in spec.question_types.items() for _ in range(n)]
        questions = [
            _question(qtype, spec.domain.lower(), spec.offset + i, seed, spec.domain) for i, qtype in enumerate(types)
        ]
        body = {"domain": spec.domain, "questions": questions}
        self._take_time(body, Kind.EXAM, f"{spec.exam_id}:{spec.index}", started)
        return Generation(
            body=body,
            generator="offline",
            model="offline",
            latency_ms=int((time.perf_counter() - started) * 1000),
        )


def _lesson(request: ContentRequest, topic: str) -> dict[str, Any]:
    number = request.lesson_number or DEFAULT_LESSON_NUMBER
    level = f"grade {request.grade}" if request.grade else "all levels"
    return {
        "title": f"{topic.title()}: lesson {number}",
        "summary": f"An offline placeholder lesson on {topic} in {request.subject} for {level}.",
        "objectives": list(
            request.objectives or [f"Describe the core idea of {topic}", f"Apply {topic} to a simple example"]
        ),
        "sections": [
            {"heading": "Introduction", "body": f"What {topic} is and why it matters in {request.subject}."},
            {"heading": "Worked example", "body": f"A step-by-step example of {topic}."},
            {"heading": "Check yourself", "body": f"Three quick questions about {topic}."},
        ],
        "key_terms": [topic],
        "estimated_minutes": 10 + number % 20,
    }


def _brain_bytes(topic: str, count: int, objectives: list[str] | None = None) -> dict[str, Any]:
    cues = ("Define", "Give an example of", "Why does it matter:", "A common mistake with", "How to check", "Recall")
    aims = objectives or [topic]
    cards = [
        {
            "front": f"{cues[i % len(cues)]} {topic} ({i + 1})"[:200],
            "back": f"An offline placeholder answer: {aims[i % len(aims)]}."[:400],
        }
        for i in range(count)
    ]
    return {"title": f"{topic.title()}: brain bytes", "cards": cards}


def _question(qtype: QuestionType, topic: str, index: int, seed: int, domain: str | None = None) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": qtype.value,
        "prompt": f"Question {index + 1} about {topic} ({seed % 997}-{index})",
        "explanation": f"Offline placeholder explanation for question {index + 1} about {topic}.",
        "difficulty": _DIFFICULTIES[(seed + index) % len(_DIFFICULTIES)],
    }
    if domain is not None:
        base["domain"] = domain
    if qtype is QuestionType.MULTIPLE_CHOICE:
        base |= {"options": [f"Option {c}" for c in "ABCD"], "answer_index": (seed + index) % 4}
    elif qtype is QuestionType.TRUE_FALSE:
        base |= {"answer": (seed + index) % 2 == 0}
    elif qtype is QuestionType.NUMERIC:
        base |= {"answer": float((seed + index) % 100), "tolerance": 0.5}
    elif qtype is QuestionType.SHORT_ANSWER:
        base |= {"sample_answer": f"A short answer about {topic}.", "keywords": [topic]}
    else:
        base["prompt"] = f"Question {index + 1}: {topic} is ___ ({seed % 997}-{index})"
        base |= {"answers": [topic]}
    return base


def _exam(request: ContentRequest, topic: str, seed: int) -> dict[str, Any]:
    total = request.count or 1
    domains = EXAM_DOMAINS[: min(len(EXAM_DOMAINS), total)]
    per_domain = [total // len(domains) + (1 if i < total % len(domains) else 0) for i in range(len(domains))]
    sections, index = [], 0
    for domain, size in zip(domains, per_domain, strict=True):
        questions = []
        for _ in range(size):
            questions.append(_question(QuestionType.MULTIPLE_CHOICE, topic, index, seed, domain))
            index += 1
        sections.append({"domain": domain, "questions": questions})
    return {
        "title": f"{(request.exam_type or 'practice').title()} exam: {topic}",
        "exam_type": (request.exam_type or "practice").lower(),
        "instructions": "Answer every question. Offline placeholder exam.",
        "sections": sections,
    }
