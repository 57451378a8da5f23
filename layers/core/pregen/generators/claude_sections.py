"""Exam sections with Claude: the adapter's structured-output loop applied to one section's spec.

Imported only by the worker (it imports the Claude adapter, and so ``anthropic``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import anthropic
from pydantic import ValidationError

from pregen.errors import ContentInvalid, GenerationFailed
from pregen.generators.claude import _RETRYABLE, _text, _usage
from pregen.generators.prompts import correction_prompt, section_prompt, system_blocks
from pregen.models import Generation, Kind, TokenUsage
from pregen.programs import section_problems
from pregen.schemas import ExamSection

if TYPE_CHECKING:
    from pregen.generators.claude import AnthropicGenerator
    from pregen.models import ContentRequest
    from pregen.programs import SectionSpec

# A 30-question section is about a seventh of a whole practice exam's output.
SECTION_MAX_TOKENS = 16_000


class ClaudeSectionWriter:
    """Wraps an AnthropicGenerator (its client, usage recorder, prices and model choice) to write sections."""

    name = "anthropic"

    def __init__(self, generator: AnthropicGenerator) -> None:
        self.generator = generator

    def generate(self, request: ContentRequest) -> Generation:
        return self.generator.generate(request)

    def generate_section(self, spec: SectionSpec) -> Generation:
        gen = self.generator
        model = gen.model_for(Kind.EXAM)
        messages: list[dict[str, Any]] = [{"role": "user", "content": section_prompt(spec)}]
        usage, write_1h = TokenUsage(), 0
        errors: list[str] = []
        started = time.perf_counter()
        for attempt in range(1, gen.max_attempts + 1):
            gen.recorder.responses.clear()
            parsed: Any = None
            try:
                result = gen.client.messages.parse(
                    model=model,
                    max_tokens=SECTION_MAX_TOKENS,
                    system=system_blocks(),  # type: ignore[arg-type]  # the shared cached handbook
                    messages=messages,  # type: ignore[arg-type]
                    output_format=ExamSection,
                )
                parsed = result.parsed_output
                errors = []
            except ValidationError as exc:
                errors = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()][:30]
            except _RETRYABLE as exc:
                raise GenerationFailed(f"provider unavailable: {type(exc).__name__}", retryable=True) from exc
            except anthropic.APIStatusError as exc:
                raise GenerationFailed(f"provider rejected the request: {exc.status_code}", retryable=False) from exc
            data = gen.recorder.responses[-1] if gen.recorder.responses else {}
            call_usage, call_1h = _usage(data)
            usage, write_1h = usage + call_usage, write_1h + call_1h
            stop_reason = data.get("stop_reason")
            if stop_reason == "refusal":
                raise gen._spent(
                    GenerationFailed("the model refused this section", retryable=False), model, usage, write_1h
                )
            body = parsed.model_dump(mode="json") if parsed is not None else None
            if stop_reason == "max_tokens":
                errors = [f"the answer was cut off at {SECTION_MAX_TOKENS} tokens; answer more concisely"]
            elif body is not None and not errors:
                errors = section_problems(spec, body)
            elif body is None and not errors:
                errors = ["the answer held no JSON"]
            if not errors and body is not None:
                return Generation(
                    body=body,
                    generator="anthropic",
                    model=model,
                    usage=usage,
                    cost_usd=gen.prices.cost(model, usage, cache_write_1h_tokens=write_1h),
                    latency_ms=int((time.perf_counter() - started) * 1000),
                    attempts=attempt,
                )
            messages += [
                {"role": "assistant", "content": _text(data) or "{}"},
                {"role": "user", "content": correction_prompt(errors)},
            ]
        raise gen._spent(
            ContentInvalid(f"section still invalid after {gen.max_attempts} attempts", errors), model, usage, write_1h
        )
