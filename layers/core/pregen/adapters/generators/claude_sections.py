"""Exam sections with Claude: the adapter's structured-output loop applied to one section's spec.

Imported only by the worker (it imports the Claude adapter, and so ``anthropic``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pregen.adapters.generators.prompts import section_prompt
from pregen.domain.models import Kind
from pregen.domain.programs import section_problems
from pregen.domain.schemas import section_schema
from pregen.domain.spend import SECTIONS_STEP
from pregen.domain.work_budget import SECTION_MAX_TOKENS

if TYPE_CHECKING:
    from pregen.adapters.generators.claude import AnthropicGenerator, Question
    from pregen.domain.models import ContentRequest, Generation
    from pregen.domain.programs import SectionSpec


class ClaudeSectionWriter:
    """Wraps an AnthropicGenerator (its client, usage recorder, prices and model choice) to write sections."""

    name = "anthropic"

    def __init__(self, generator: AnthropicGenerator) -> None:
        self.generator = generator

    def generate(
        self, request: ContentRequest, feedback: str | None = None, *, max_calls: int | None = None
    ) -> Generation:
        return self.generator.generate(request, feedback, max_calls=max_calls)

    def generate_section(self, spec: SectionSpec) -> Generation:
        """The adapter's structured-output loop, on one section's prompt and schema (the ``exam.sections`` model)."""
        return self.generator.answer(section_question(self.generator, spec))


def section_question(generator: AnthropicGenerator, spec: SectionSpec) -> Question:
    """One section's prompt, schema and model, checked against its spec: asked directly or as a Message Batch
    entry (``AnthropicGenerator.batch_question``)."""
    from pregen.adapters.generators.claude import Question

    return Question(
        model=generator.model_of(Kind.EXAM, SECTIONS_STEP),
        prompt=section_prompt(spec),
        schema=section_schema(spec.domain, spec.count, spec.question_types),
        max_tokens=SECTION_MAX_TOKENS,
        problems=lambda parsed: section_problems(spec, parsed.model_dump(mode="json")),
        noun=("section", "section"),
    )
