"""Exam sections are written through the SectionGenerator port: the worker's wiring picks the writer by the content
generator it built, and a generator without one is refused when the worker is wired, not at the first section."""

from __future__ import annotations

import pytest

from pregen.adapters.generators.claude import AnthropicGenerator
from pregen.adapters.generators.claude_sections import ClaudeSectionWriter
from pregen.adapters.generators.offline import OfflineGenerator
from pregen.domain.models import Generation, Kind
from pregen.domain.pricing import default_prices
from pregen.wiring.worker import section_writer


def test_the_offline_generator_writes_its_own_sections() -> None:
    offline = OfflineGenerator()
    assert section_writer(offline) is offline


def test_claude_writes_sections_through_their_own_prompt_and_schema() -> None:
    claude = AnthropicGenerator(
        api_key="sk-test-fake",
        model_for={Kind.EXAM: "claude-sonnet-5-5"}.__getitem__,
        prices=default_prices(),
        max_attempts=1,
        base_url="http://127.0.0.1:9",  # never called
    )
    writer = section_writer(claude)
    assert isinstance(writer, ClaudeSectionWriter)
    assert writer.generator is claude


def test_a_generator_that_cannot_write_sections_is_refused() -> None:
    class ContentOnly:
        name = "content-only"

        def generate(self, request: object, feedback: str | None = None, *, max_calls: int | None = None) -> Generation:
            raise AssertionError("not called")

    with pytest.raises(TypeError, match="content-only generator cannot write exam sections"):
        section_writer(ContentOnly())  # type: ignore[arg-type]
