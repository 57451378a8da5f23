"""Exam sections with Claude: the adapter's structured-output loop applied to one section's spec.

Imported only by the worker (it imports the Claude adapter, and so ``anthropic``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pregen.adapters.generators.claude import AnthropicGenerator
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
        return self.generator.answer(self.generator.section_question(spec))
