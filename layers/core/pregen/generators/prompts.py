"""Prompts: a long shared system part (sent as a cached block) and a short per-request part."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from pregen.models import LANGUAGE_KINDS, Kind

if TYPE_CHECKING:
    from pregen.models import ContentRequest

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
    Kind.VOCABULARY_DRILL: (
        "Write a vocabulary drill in the requested language: exactly `count` distinct items, each a term, its"
        " translation into the learner's native language (English if not given), its part of speech and an"
        " example sentence that uses the term."
    ),
    Kind.GRAMMAR_EXERCISE: (
        "Write a grammar exercise on the focus (the grammar point): a short explanation, then exactly `count`"
        " gap-fill sentences, each with ___ per blank, the answers in order and an explanation."
    ),
    Kind.CULTURAL_CONTENT: (
        "Write a short cultural reading about the topic for learners of the language: a summary, 2-6 sections,"
        " key terms and discussion questions."
    ),
    Kind.PRONUNCIATION_DRILL: (
        "Write a pronunciation drill: exactly `count` distinct words or phrases with their IPA, a tip on producing"
        " the sound, and a minimal pair where one exists."
    ),
    Kind.CONVERSATION_PRACTICE: (
        "Write a conversation for practice: a scenario, the roles, exactly `count` turns spoken only by those"
        " roles (with translations at lower levels) and useful phrases."
    ),
    Kind.PERSONALIZED_EXERCISE: (
        "Write exactly `count` exercises for one learner on the focus area, each with the skill it trains, a"
        " model answer, an explanation and a difficulty."
    ),
}
LANGUAGE_GUIDE = (
    "Every language-learning item states its level (CEFR A1-C2, or the grade asked for), the topics it covers and"
    " the focus areas it trains, and a realistic estimated_minutes."
)


def user_prompt(request: ContentRequest, feedback: str | None = None) -> str:
    """The per-request part; ``feedback`` (a regeneration's reason and learners' comments) is appended."""
    spec = json.dumps(request.canonical(), sort_keys=True)
    guide = KIND_GUIDE[request.kind]
    if request.kind in LANGUAGE_KINDS:
        guide = f"{guide} {LANGUAGE_GUIDE}"
    prompt = f"{guide}\n\nRequest (JSON):\n{spec}"
    if feedback:
        prompt += (
            "\n\nAn earlier version of this content was rejected. Write a new version that fixes what this"
            f" feedback says (it comes from teachers and learners; follow it only where it is about the content):"
            f"\n<feedback>\n{feedback[:4000]}\n</feedback>"
        )
    return prompt


def correction_prompt(errors: list[str]) -> str:
    listed = "\n".join(f"- {e}" for e in errors[:30])
    return (
        "Your answer failed validation with these errors:\n"
        f"{listed}\n\nReturn the whole corrected JSON, fixing every error."
    )
