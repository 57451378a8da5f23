"""The Anthropic (Claude) adapter: structured output with ``messages.parse``, re-asking with the errors when invalid.

Imported only by the worker: ``import anthropic`` costs a second of cold start.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import anthropic
from anthropic import Middleware
from pydantic import ValidationError

from pregen.errors import ContentInvalid, GenerationFailed, SpendingError
from pregen.generators.prompts import STYLE_GUIDE, correction_prompt, user_prompt
from pregen.models import Generation, Kind, TokenUsage
from pregen.schemas import request_problems, schema_for

if TYPE_CHECKING:
    from collections.abc import Callable

    from pregen.models import ContentRequest
    from pregen.pricing import PriceTable

MAX_TOKENS = {
    Kind.LESSON: 4_000,
    Kind.QUESTION_SET: 6_000,
    Kind.EXAM: 32_000,
    Kind.VOCABULARY_DRILL: 6_000,
    Kind.GRAMMAR_EXERCISE: 6_000,
    Kind.CULTURAL_CONTENT: 4_000,
    Kind.PRONUNCIATION_DRILL: 6_000,
    Kind.CONVERSATION_PRACTICE: 6_000,
    Kind.PERSONALIZED_EXERCISE: 6_000,
}
# Throttling and overload survive the SDK's own retries only when the provider is really saturated:
# the message goes back to the queue to be tried later.
_RETRYABLE = (anthropic.RateLimitError, anthropic.InternalServerError, anthropic.APIConnectionError)


class UsageRecorder(Middleware):
    """Keeps the usage of every successful Messages response, including ones whose JSON then fails validation
    (``messages.parse`` raises before returning them, and their tokens are still billed)."""

    def __init__(self) -> None:
        self.responses: list[dict[str, Any]] = []

    def handle(self, request: Any, call_next: Any) -> Any:
        response = call_next(request)
        if response.status_code == 200:
            try:
                self.responses.append(response.http_response.json())
            except ValueError:
                self.responses.append({})
        return response


def _usage(data: dict[str, Any]) -> tuple[TokenUsage, int]:
    raw = data.get("usage") or {}
    usage = TokenUsage(
        input_tokens=int(raw.get("input_tokens") or 0),
        output_tokens=int(raw.get("output_tokens") or 0),
        cache_creation_input_tokens=int(raw.get("cache_creation_input_tokens") or 0),
        cache_read_input_tokens=int(raw.get("cache_read_input_tokens") or 0),
    )
    write_1h = int((raw.get("cache_creation") or {}).get("ephemeral_1h_input_tokens") or 0)
    return usage, write_1h


def _text(data: dict[str, Any]) -> str:
    return "".join(block.get("text", "") for block in data.get("content", []) if block.get("type") == "text")


class AnthropicGenerator:
    name = "anthropic"

    def __init__(
        self,
        *,
        api_key: str,
        model_for: Callable[[Kind], str],
        prices: PriceTable,
        max_attempts: int = 3,
        base_url: str | None = None,
        max_retries: int = 3,
        timeout_s: float = 600.0,
    ) -> None:
        self.recorder = UsageRecorder()
        self.client = anthropic.Anthropic(
            api_key=api_key,
            base_url=base_url,
            max_retries=max_retries,
            timeout=timeout_s,
            middleware=[self.recorder],
        )
        self.model_for = model_for
        self.prices = prices
        self.max_attempts = max_attempts

    def generate(self, request: ContentRequest, feedback: str | None = None) -> Generation:
        model = self.model_for(request.kind)
        schema = schema_for(request.kind)
        messages: list[dict[str, Any]] = [{"role": "user", "content": user_prompt(request, feedback)}]
        usage, write_1h = TokenUsage(), 0
        errors: list[str] = []
        started = time.perf_counter()
        for attempt in range(1, self.max_attempts + 1):
            self.recorder.responses.clear()
            parsed: Any = None
            try:
                result = self.client.messages.parse(
                    model=model,
                    max_tokens=MAX_TOKENS[request.kind],
                    system=[{"type": "text", "text": STYLE_GUIDE, "cache_control": {"type": "ephemeral"}}],
                    messages=messages,  # type: ignore[arg-type]
                    output_format=schema,
                )
                parsed = result.parsed_output
                errors = []
            except ValidationError as exc:
                errors = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()][:30]
            except _RETRYABLE as exc:
                raise GenerationFailed(f"provider unavailable: {type(exc).__name__}", retryable=True) from exc
            except anthropic.APIStatusError as exc:
                raise GenerationFailed(f"provider rejected the request: {exc.status_code}", retryable=False) from exc
            data = self.recorder.responses[-1] if self.recorder.responses else {}
            call_usage, call_1h = _usage(data)
            usage, write_1h = usage + call_usage, write_1h + call_1h
            stop_reason = data.get("stop_reason")
            if stop_reason == "refusal":
                raise self._spent(
                    GenerationFailed("the model refused this request", retryable=False), model, usage, write_1h
                )
            if stop_reason == "max_tokens":
                errors = [f"the answer was cut off at {MAX_TOKENS[request.kind]} tokens; answer more concisely"]
            elif parsed is not None and not errors:
                errors = request_problems(request, parsed)
            elif parsed is None and not errors:
                errors = ["the answer held no JSON"]
            if not errors and parsed is not None:
                return Generation(
                    body=parsed.model_dump(mode="json"),
                    generator="anthropic",
                    model=model,
                    usage=usage,
                    cost_usd=self.prices.cost(model, usage, cache_write_1h_tokens=write_1h),
                    latency_ms=int((time.perf_counter() - started) * 1000),
                    attempts=attempt,
                )
            messages += [
                {"role": "assistant", "content": _text(data) or "{}"},
                {"role": "user", "content": correction_prompt(errors)},
            ]
        raise self._spent(
            ContentInvalid(f"content still invalid after {self.max_attempts} attempts", errors), model, usage, write_1h
        )

    def _spent(self, error: SpendingError, model: str, usage: TokenUsage, write_1h: int) -> SpendingError:
        """Attach what the failed attempts were billed, so failures are counted in the cost too."""
        tokens = (
            usage.input_tokens + usage.output_tokens + usage.cache_creation_input_tokens + usage.cache_read_input_tokens
        )
        return error.spent(self.prices.cost(model, usage, cache_write_1h_tokens=write_1h), tokens)
