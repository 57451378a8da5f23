"""A model that reads only the output schema: the fake provider's ``follow="schema"`` mode.

Real models follow the JSON schema of structured outputs by construction, and follow the prompt's prose only as
well as they do. This answers from the schema alone, ignoring the prompt: the kind from the schema's title,
constants (``const``) as given, and list sizes from the ``{maxItems: N, minItems: N}`` descriptions the SDK
writes for constraints structured outputs do not support. Where the schema leaves a choice open it takes one a
schema-following model could take (the first enum value, three items), and the offline generator writes the
text. So a request constraint that is not in the schema is, as with a real model, a matter of luck.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from pregen.domain.courses import CourseRequest
from pregen.domain.models import ContentRequest, Kind
from pregen.domain.programs import SectionSpec

if TYPE_CHECKING:
    from pregen.adapters.generators.offline import OfflineGenerator

# The schemas' titles (pregen.domain.schemas): one per kind, and the exam section.
KINDS = {
    "Lesson": Kind.LESSON,
    "QuestionSet": Kind.QUESTION_SET,
    "Exam": Kind.EXAM,
    "VocabularyDrill": Kind.VOCABULARY_DRILL,
    "GrammarExercise": Kind.GRAMMAR_EXERCISE,
    "CulturalContent": Kind.CULTURAL_CONTENT,
    "PronunciationDrill": Kind.PRONUNCIATION_DRILL,
    "ConversationPractice": Kind.CONVERSATION_PRACTICE,
    "PersonalizedExercise": Kind.PERSONALIZED_EXERCISE,
    "BrainBytes": Kind.BRAIN_BYTES,
}
_LISTS = ("questions", "items", "exercises", "turns", "cards")
_SIZE = re.compile(r"(?:maxItems|minItems): (\d+)")  # a list of 1: minItems stays a keyword, maxItems is said
UNSTATED_COUNT = 3  # what the model writes when the schema does not say how many


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        resolved: dict[str, Any] = schema.get("$defs", {}).get(ref.rsplit("/", 1)[1], {})
        return resolved
    return node


def _const(schema: dict[str, Any], name: str) -> str | None:
    """The property's const, else the first value of its enum (the first choice a model may make)."""
    node = _resolve(schema, schema.get("properties", {}).get(name, {}))
    for option in node.get("anyOf", [node]):
        branch = _resolve(schema, option)
        if "const" in branch:
            return str(branch["const"])
        if branch.get("enum"):
            return str(branch["enum"][0])
    return None


def _size(schema: dict[str, Any]) -> int | None:
    for name in _LISTS:
        node = schema.get("properties", {}).get(name)
        if node is not None:
            found = _SIZE.search(str(node.get("description", "")))
            return int(found.group(1)) if found else None
    return None


def _question_types(schema: dict[str, Any]) -> list[str]:
    """The question types an exam section's schema allows, in the schema's order."""
    items = schema.get("properties", {}).get("questions", {}).get("items", {})
    branches = items.get("oneOf") or items.get("anyOf") or [items]
    types = [_const(_resolve(schema, b), "type") for b in branches]
    return [t for t in types if t]


def request_of(schema: dict[str, Any]) -> ContentRequest:
    """The ContentRequest a schema-following model answers: only what the schema says."""
    kind = KINDS[str(schema.get("title"))]
    count = _size(schema)
    fields: dict[str, Any] = {"kind": kind, "subject": "the schema's subject"}
    if kind is Kind.QUESTION_SET:
        fields["question_type"] = _const(schema, "question_type")
    if kind is Kind.EXAM:
        fields["exam_type"] = _const(schema, "exam_type")
    if kind not in (Kind.LESSON, Kind.CULTURAL_CONTENT, Kind.EXAM):
        fields["count"] = count or UNSTATED_COUNT
    language = _const(schema, "language")
    if language and "language" in schema.get("properties", {}):
        fields["language"] = language
    objectives = _objectives(schema)
    if objectives:
        fields["objectives"] = objectives
    return ContentRequest.model_validate(fields)


def _objectives(schema: dict[str, Any]) -> list[str]:
    """The objectives a course part's schema enumerates: a lesson's list of them, or each question's one."""
    properties = schema.get("properties", {})
    node = _resolve(schema, properties.get("objectives", {}).get("items", {}))
    if not node.get("enum"):
        items = properties.get("questions", {}).get("items", {})
        question = _resolve(schema, (items.get("anyOf") or [items])[0])
        node = _resolve(schema, question.get("properties", {}).get("objective", {}))
    return [str(value) for value in node.get("enum") or []]


def section_of(schema: dict[str, Any]) -> SectionSpec:
    """The exam section a schema-following model writes: its domain, size and types from the schema."""
    count = _size(schema) or UNSTATED_COUNT
    types = _question_types(schema) or ["multiple_choice"]
    mix = {t: count // len(types) for t in types}
    mix[types[0]] += count - sum(mix.values())
    return SectionSpec.model_validate(
        {
            "exam_id": "schema",
            "program": "schema",
            "exam_type": "practice",
            "subject": "the schema's subject",
            "index": 0,
            "domain": _const(schema, "domain") or "General",
            "count": count,
            "offset": 0,
            "question_types": {t: n for t, n in mix.items() if n},
            "difficulty": {"medium": 1.0},
        }
    )


def _list_size(node: dict[str, Any]) -> int | None:
    found = _SIZE.search(str(node.get("description", "")))
    return int(found.group(1)) if found else None


def course_of(schema: dict[str, Any]) -> CourseRequest:
    """The course a schema-following planner outlines: its modules and lessons per module from the schema."""
    modules = _list_size(schema.get("properties", {}).get("modules", {})) or UNSTATED_COUNT
    module = schema.get("$defs", {}).get("OutlineModule", {})
    lessons = _list_size(module.get("properties", {}).get("lessons", {})) or UNSTATED_COUNT
    return CourseRequest(subject="the schema's subject", grade="any", modules=modules, lessons_per_module=lessons)


def offered_of(schema: dict[str, Any]) -> dict[str, tuple[str, list[str]]]:
    """The library lessons a planner's schema offers for reuse: key -> (title, objectives), read from the
    ``reuse_key`` property: its enum (a const when one is offered), and the JSON array its description ends with
    (``[{"key", "title", "objectives"}]``)."""
    lesson = schema.get("$defs", {}).get("OutlineLesson", {})
    node = lesson.get("properties", {}).get("reuse_key", {})
    keys: set[str] = set()
    for option in node.get("anyOf", [node]):
        branch = _resolve(schema, option)
        keys |= {str(k) for k in branch.get("enum") or []} | ({str(branch["const"])} if "const" in branch else set())
    description = str(node.get("description", ""))
    start = description.find("[")
    # raw_decode: the adapter may have said a constraint after it (a list's size) on lines of their own
    listed = json.JSONDecoder().raw_decode(description[start:])[0] if start >= 0 else []
    return {e["key"]: (e["title"], list(e["objectives"])) for e in listed if e["key"] in keys}


def outline_of(schema: dict[str, Any], offline: OfflineGenerator) -> dict[str, Any]:
    """A schema-following planner's outline. Like a real planner it words a lesson for the module it is in (the
    offline title and the module's size: a 4- and an 8-lesson module title their lessons differently), so two
    courses share a lesson only by choosing it: offered a library lesson (an enum of keys in the schema) whose
    title or objectives are the ones it would write for a place, it names that key as the lesson's ``reuse_key``."""
    body = offline.plan_course(course_of(schema)).body
    offered = offered_of(schema)
    chosen: set[str] = set()
    for module in body["modules"]:
        size = len(module["lessons"])
        for lesson in module["lessons"]:
            key = next(
                (
                    k
                    for k, (title, objectives) in offered.items()
                    if k not in chosen
                    and (
                        _folded(title) == _folded(lesson["title"])
                        or list(map(_folded, objectives)) == list(map(_folded, lesson["objectives"]))
                    )
                ),
                None,
            )
            lesson["title"] = f"{lesson['title']} ({size}-lesson module)"
            if key is not None:
                chosen.add(key)
                lesson["reuse_key"] = key
    return body


def answer(schema: dict[str, Any], offline: OfflineGenerator) -> dict[str, Any]:
    if schema.get("title") == "CourseOutline":
        return outline_of(schema, offline)
    if schema.get("title") == "ExamSection":
        return offline.generate_section(section_of(schema)).body
    return offline.generate(request_of(schema)).body


def _folded(text: str) -> str:
    return " ".join(text.split()).casefold()
