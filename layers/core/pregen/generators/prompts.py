"""Prompts: a long shared system part (sent as a cached block) and a short per-request part."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from pregen.models import Kind

if TYPE_CHECKING:
    from pregen.models import ContentRequest
    from pregen.programs import SectionSpec

STYLE_GUIDE = """You write learning content for an education platform used by school and adult learners.

Rules that hold for every piece of content:
- Be accurate. Never invent facts, formulas, dates or quotations; prefer well-established material.
- Match the learner's grade or level: vocabulary, sentence length and examples fit that level.
- Each item stands alone: no references to "the previous lesson" or to images that are not there.
- Questions test one idea each, have exactly one defensible answer, and an explanation that teaches.
- Distractors in multiple choice are plausible misconceptions, not jokes; options are distinct.
- Fill-in-the-blank prompts mark each blank with ___ (three underscores) and list one answer per blank.
- Mix difficulty: roughly a third easy, half medium, the rest hard, unless asked otherwise.
- Adapt to the learning style when one is given: visual (describe diagrams, tables, spatial layouts),
  auditory (rhythm, spoken explanation, mnemonics), reading_writing (definitions, lists, note-taking),
  kinesthetic (hands-on activities, real objects, movement).
- Answer with JSON only, exactly matching the schema you are given. No prose outside the JSON.
"""

KIND_GUIDE = {
    Kind.LESSON: "Write one lesson: a title, a short summary, 2-5 objectives, 3-6 sections and key terms.",
    Kind.QUESTION_SET: "Write a set of practice questions, all of the requested question type.",
    Kind.EXAM: (
        "Write an exam grouped in sections by content domain. Every question is distinct. The total number of"
        " questions across all sections must equal the requested count exactly."
    ),
}


def user_prompt(request: ContentRequest) -> str:
    spec = json.dumps(request.canonical(), sort_keys=True)
    return f"{KIND_GUIDE[request.kind]}\n\nRequest (JSON):\n{spec}"


def correction_prompt(errors: list[str]) -> str:
    listed = "\n".join(f"- {e}" for e in errors[:30])
    return (
        "Your answer failed validation with these errors:\n"
        f"{listed}\n\nReturn the whole corrected JSON, fixing every error."
    )


def section_prompt(spec: SectionSpec) -> str:
    """One section of a larger exam: its domain, exact count and question-type mix, and where its numbering starts
    (other sections of the same exam are written in parallel, so each is told to stay inside its own domain)."""
    mix = ", ".join(f"{count} {qtype.value}" for qtype, count in spec.question_types.items())
    difficulty = ", ".join(f"{name} {share:.0%}" for name, share in spec.difficulty.items())
    return (
        f"Write one section of a {spec.exam_type} exam in {spec.subject}.\n"
        f"Domain: {spec.domain}. Set the section's domain to exactly this text and every question's domain too.\n"
        f"Exactly {spec.count} questions: {mix}. Difficulty mix: {difficulty}.\n"
        f"Other sections cover other domains; keep every question inside this domain and distinct from one another."
    )
