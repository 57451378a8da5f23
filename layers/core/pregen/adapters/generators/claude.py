"""The Anthropic (Claude) adapter: structured output with ``messages.parse``, re-asking with the errors when invalid.

Imported only by the worker, when it runs Claude: ``import anthropic`` is the largest import of all (docs/BENCHMARKS.md,
Cold start).
"""

from __future__ import annotations

import time
from contextlib import suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anthropic
from anthropic import Middleware
from pydantic import ValidationError

from pregen import provider_signals
from pregen.adapters.generators.prompts import (
    JUDGE_SYSTEM,
    alignment_prompt,
    correction_prompt,
    course_plan_prompt,
    judge_prompt,
    section_prompt,
    system_blocks,
    user_prompt,
)
from pregen.domain.errors import ContentInvalid, GenerationFailed, ProviderThrottled, SpendingError
from pregen.domain.models import ContentRequest, Generation, Kind, TokenUsage
from pregen.domain.near import SameLesson, Verdict
from pregen.domain.provider_limits import Spend, read_answer
from pregen.domain.records import BatchOutcome
from pregen.domain.schemas import answer_schema, request_problems, section_schema
from pregen.domain.spend import JUDGEMENT_STEP, PLAN_STEP, SECTIONS_STEP
from pregen.domain.work_budget import MAX_TOKENS, SDK_TIMEOUT_S, SECTION_MAX_TOKENS

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from pydantic import BaseModel

    from pregen.domain.courses import CourseRequest, LibraryLesson
    from pregen.domain.pricing import PriceTable
    from pregen.domain.programs import SectionSpec
    from pregen.ports import BatchRequest

# Throttling and overload survive the SDK's own retries only when the provider is really saturated:
# the message goes back to the queue to be tried later.
_RETRYABLE = (anthropic.RateLimitError, anthropic.InternalServerError, anthropic.APIConnectionError)
_OVERLOADED = 529


def _throttled(exc: Exception) -> ProviderThrottled | None:
    """429 (rate limit) and 529 (overloaded) that outlived the SDK's retries: the worker delays the job."""
    if isinstance(exc, anthropic.APIStatusError) and exc.status_code in (429, _OVERLOADED):
        header = exc.response.headers.get("retry-after") if exc.response is not None else None
        try:
            retry_after = float(header) if header else None
        except ValueError:
            retry_after = None
        return ProviderThrottled(f"provider throttled: {exc.status_code}", retry_after=retry_after)
    return None


@dataclass(frozen=True)
class Question:
    """What one structured answer is asked with (a direct call's, or a Message Batch request's)."""

    model: str
    prompt: str
    schema: type[BaseModel]
    max_tokens: int
    problems: Callable[[Any], list[str]]
    noun: tuple[str, str]
    system: list[dict[str, object]] | None = None  # None: the cached handbook


class UsageRecorder(Middleware):
    """Keeps the usage of every successful Messages response, including ones whose JSON then fails validation
    (``messages.parse`` raises before returning them, and their tokens are still billed)."""

    def __init__(self) -> None:
        self.responses: list[dict[str, Any]] = []
        # Messages requests that reached the model (the SDK's retries included): what a job's cap counts. A 429 or
        # 529 is not counted: nothing was generated or billed, and throttling has its own budget (the worker).
        self.calls = 0

    def handle(self, request: Any, call_next: Any) -> Any:
        messages = str(getattr(request, "url", "")).rstrip("/").endswith("/v1/messages")
        try:
            response = call_next(request)
        except Exception:
            self.calls += messages  # a reset or a timeout: the model may have worked on it
            raise
        if messages and response.status_code not in (429, _OVERLOADED):
            self.calls += 1
        # Only Messages answers: batch calls (create, retrieve, streamed JSONL results) carry no usage of their own.
        if response.status_code == 200 and response.http_response.url.path.rstrip("/").endswith("/v1/messages"):
            try:
                self.responses.append(response.http_response.json())
            except ValueError:
                self.responses.append({})
        return response


class RateLimitReader(Middleware):
    """Reads every Messages answer's rate-limit figures (``anthropic-ratelimit-*``, a 429's ``retry-after``) and its
    usage, and publishes them (``pregen.provider_signals``) for the provider's budget. Batch calls are not read:
    Message Batches have limits of their own."""

    def handle(self, request: Any, call_next: Any) -> Any:
        response = call_next(request)
        http = response.http_response
        if not http.url.path.rstrip("/").endswith("/v1/messages"):
            return response
        body = getattr(getattr(request, "options", None), "json_data", None)
        model = str(body.get("model") or "") if isinstance(body, dict) else ""
        spent = Spend()
        if response.status_code == 200:
            with suppress(ValueError):
                usage, _ = _usage(http.json())
                read = usage.input_tokens + usage.cache_creation_input_tokens + usage.cache_read_input_tokens
                spent = Spend(output_tokens=usage.output_tokens, input_tokens=read, requests=1)
        headers = {k.lower(): v for k, v in http.headers.items()}
        provider_signals.publish(read_answer(model, response.status_code, headers, spent))
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
        timeout_s: float = SDK_TIMEOUT_S,  # below the worker's timeout (pregen.domain.work_budget)
        cache_prompts: bool = True,
        plan_model: str | None = None,
        step_model: Callable[[Kind, str], str] | None = None,
        judge_model: str | None = None,
    ) -> None:
        self.recorder = UsageRecorder()
        self.client = anthropic.Anthropic(
            api_key=api_key,
            base_url=base_url,
            max_retries=max_retries,
            timeout=timeout_s,
            middleware=[self.recorder, RateLimitReader()],
        )
        self.model_for = model_for
        self.prices = prices
        self.max_attempts = max_attempts
        self.max_retries = max_retries
        # Off only to measure what the replaced systems paid (bench/cost.py): the same prompt, never cached.
        self.cache_prompts = cache_prompts
        # The model of one step of a kind (MODEL_TIERS' "<kind>.<step>": "lesson.plan", "exam.sections"); without
        # it, the kind's model. ``plan_model`` overrides the planner's (the course benchmark compares tiers).
        self.step_model = step_model
        self.plan_model = plan_model
        self.judge_model = judge_model  # near-duplicates' judge (the small tier); None: the kind's model

    def model_of(self, kind: Kind, step: str) -> str:
        """The model one step of a kind is written with: the step's tier when configured, else the kind's."""
        return self.step_model(kind, step) if self.step_model else self.model_for(kind)

    def generate(
        self, request: ContentRequest, feedback: str | None = None, *, max_calls: int | None = None
    ) -> Generation:
        return self.answer(self.content_question(request, feedback), max_calls=max_calls)

    def judge_same(self, wording: ContentRequest, candidate: ContentRequest) -> Verdict:
        """Near-duplicates (issue 33): one structured small-tier judgement, at most two calls."""
        model = self.judge_model or self.model_for(wording.kind)
        answer = self.structured(
            model=model,
            prompt=judge_prompt(wording, candidate),
            schema=SameLesson,
            max_tokens=300,
            problems=lambda parsed: [],
            noun=("judgement", "judgement"),
            max_calls=2,
        )
        body = SameLesson.model_validate(answer.body)
        return Verdict(body.same, body.why, model=model, cost_usd=answer.cost_usd, calls=answer.attempts)

    def judge_alignment(self, questions: list[dict[str, Any]], objectives: list[str]) -> Generation:
        """The course alignment judgement (issue 29): one structured answer on the ``question_set.judgement`` step's
        model (default: the small tier), a verdict per question, at most two calls."""
        return self.answer(self.alignment_question(questions, objectives), max_calls=2)

    def alignment_question(self, questions: list[dict[str, Any]], objectives: list[str]) -> Question:
        """The alignment judgement's prompt, schema and model: asked directly or as a Message Batch entry."""
        from pregen.domain.courses import alignment_problems, alignment_schema

        return Question(
            model=self.model_of(Kind.QUESTION_SET, JUDGEMENT_STEP),
            prompt=alignment_prompt(questions, objectives),
            schema=alignment_schema(len(questions)),
            max_tokens=300 + 80 * len(questions),
            problems=lambda parsed: alignment_problems(len(questions), parsed),
            noun=("judgement", "judgement"),
            system=[{"type": "text", "text": JUDGE_SYSTEM}],  # not the content handbook: a judge writes no content
        )

    def plan_course(
        self, request: CourseRequest, *, offered: list[LibraryLesson] | None = None, max_calls: int | None = None
    ) -> Generation:
        """A course's outline: one structured answer on the ``lesson.plan`` step's model (default: the small tier),
        re-asked when its shape is wrong. Offered library lessons are in the prompt (as data) and their keys in
        the schema (an enum), so a lesson may reuse one by key."""
        from pregen.domain.courses import outline_problems, outline_schema

        return self.structured(
            model=self.plan_model or self.model_of(Kind.LESSON, PLAN_STEP),
            prompt=course_plan_prompt(request, offered),
            schema=outline_schema(request, offered),
            max_tokens=8_000,
            problems=lambda parsed: outline_problems(request, parsed),
            noun=("course", "outline"),
            max_calls=max_calls,
        )

    def _ask(
        self,
        *,
        model: str,
        max_tokens: int,
        messages: list[dict[str, Any]],
        schema: type[BaseModel],
        calls_left: int,
        system: list[dict[str, object]] | None = None,
    ) -> tuple[Any, list[str]]:
        """One call: the parsed answer (or None) and the schema's errors; provider failures become domain errors.
        The SDK retries a failed request only as far as the calls left allow."""
        self.recorder.responses.clear()
        client = self.client.with_options(max_retries=max(0, min(self.max_retries, calls_left - 1)))
        try:
            result = client.messages.parse(
                model=model,
                max_tokens=max_tokens,
                system=system or system_blocks(cached=self.cache_prompts),  # type: ignore[arg-type]
                messages=messages,  # type: ignore[arg-type]
                output_format=schema,
            )
        except ValidationError as exc:
            return None, [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()][:30]
        except _RETRYABLE as exc:
            throttled = _throttled(exc)
            if throttled is not None:
                raise throttled from exc
            raise GenerationFailed(f"provider unavailable: {type(exc).__name__}", retryable=True) from exc
        except anthropic.APIStatusError as exc:
            raise GenerationFailed(f"provider rejected the request: {exc.status_code}", retryable=False) from exc
        return result.parsed_output, []

    def structured(
        self,
        *,
        model: str,
        prompt: str,
        schema: type[BaseModel],
        max_tokens: int,
        problems: Callable[[Any], list[str]],
        noun: tuple[str, str],
        max_calls: int | None = None,
        system: list[dict[str, object]] | None = None,
    ) -> Generation:
        """One structured answer: ``messages.parse`` with the cached handbook, re-asked with the errors (the
        schema's, or ``problems`` of a parsed answer) up to ``max_attempts``, and never more than ``max_calls``
        Messages requests in all (the SDK's retries count). ``noun`` names what was asked for in a refusal and in
        the final error, e.g. ("request", "content"). A failure carries the calls it made (``calls``)."""
        return self.answer(Question(model, prompt, schema, max_tokens, problems, noun, system), max_calls=max_calls)

    def answer(self, ask: Question, *, max_calls: int | None = None) -> Generation:
        """``structured`` for a question already put together (``content_question``, ``section_question``)."""
        budget = max_calls if max_calls is not None else self.max_attempts * (self.max_retries + 1)
        first_call = self.recorder.calls
        try:
            return self._re_ask(ask, last_call=first_call + budget)
        except SpendingError as exc:
            exc.calls = self.recorder.calls - first_call
            raise

    def _re_ask(self, ask: Question, *, last_call: int) -> Generation:
        messages: list[dict[str, Any]] = [{"role": "user", "content": ask.prompt}]
        usage, write_1h = TokenUsage(), 0
        errors: list[str] = []
        started = time.perf_counter()
        first_call = self.recorder.calls
        attempts = 0
        while attempts < self.max_attempts and self.recorder.calls < last_call:
            attempts += 1
            parsed, errors = self._ask(
                model=ask.model,
                max_tokens=ask.max_tokens,
                messages=messages,
                schema=ask.schema,
                calls_left=last_call - self.recorder.calls,
                system=ask.system,
            )
            data = self.recorder.responses[-1] if self.recorder.responses else {}
            call_usage, call_1h = _usage(data)
            usage, write_1h = usage + call_usage, write_1h + call_1h
            if data.get("stop_reason") == "refusal":
                raise self._spent(
                    GenerationFailed(f"the model refused this {ask.noun[0]}", retryable=False),
                    ask.model,
                    usage,
                    write_1h,
                )
            errors = _answer_problems(data, parsed, errors, ask.problems, ask.max_tokens)
            if not errors and parsed is not None:
                return Generation(
                    body=parsed.model_dump(mode="json"),
                    generator="anthropic",
                    model=ask.model,
                    usage=usage,
                    cost_usd=self.prices.cost(ask.model, usage, cache_write_1h_tokens=write_1h),
                    latency_ms=int((time.perf_counter() - started) * 1000),
                    attempts=self.recorder.calls - first_call,
                )
            messages += [
                {"role": "assistant", "content": _text(data) or "{}"},
                {"role": "user", "content": correction_prompt(errors)},
            ]
        raise self._spent(
            ContentInvalid(f"{ask.noun[1]} still invalid after {attempts} attempts", errors),
            ask.model,
            usage,
            write_1h,
        )

    def _spent(self, error: SpendingError, model: str, usage: TokenUsage, write_1h: int) -> SpendingError:
        """Attach what the failed attempts were billed, so failures are counted in the cost too."""
        tokens = (
            usage.input_tokens + usage.output_tokens + usage.cache_creation_input_tokens + usage.cache_read_input_tokens
        )
        return error.spent(self.prices.cost(model, usage, cache_write_1h_tokens=write_1h), tokens)

    # -- Message Batches (the background lane) ----------------------------------------------------------------------

    def batch_question(self, request: BatchRequest) -> Question:
        """What one batch entry asks, as a direct call would: a content request's, an exam section's own prompt,
        schema and model (``claude_sections``), or a course alignment judgement's."""
        from pregen.domain.courses import AlignmentRequest

        if isinstance(request, ContentRequest):
            return self.content_question(request)
        if isinstance(request, AlignmentRequest):
            return self.alignment_question(request.questions, request.objectives)
        return self.section_question(request)

    def content_question(self, request: ContentRequest, feedback: str | None = None) -> Question:
        return Question(
            self.model_for(request.kind),
            user_prompt(request, feedback),
            answer_schema(request),
            MAX_TOKENS[request.kind],
            lambda parsed: request_problems(request, parsed),
            ("request", "content"),
        )

    def section_question(self, spec: SectionSpec) -> Question:
        """One exam section's prompt, schema and model (the ``exam.sections`` tier), checked against its spec:
        asked directly (``claude_sections.ClaudeSectionWriter``) or as a Message Batch entry."""
        from pregen.domain.programs import section_problems  # the exam machinery loads with the first section

        return Question(
            model=self.model_of(Kind.EXAM, SECTIONS_STEP),
            prompt=section_prompt(spec),
            schema=section_schema(spec.domain, spec.count, spec.question_types),
            max_tokens=SECTION_MAX_TOKENS,
            problems=lambda parsed: section_problems(spec, parsed.model_dump(mode="json")),
            noun=("section", "section"),
        )

    def batch_request(self, custom_id: str, request: BatchRequest) -> dict[str, Any]:
        """One entry of ``messages.batches.create``: the same prompt, model and output schema as a direct call,
        with the handbook cached for an hour (a batch's requests are spread over more than 5 minutes); a judge's
        own one-line system prompt instead of the handbook."""
        ask = self.batch_question(request)
        return {
            "custom_id": custom_id,
            "params": {
                "model": ask.model,
                "max_tokens": ask.max_tokens,
                "system": ask.system or system_blocks(ttl="1h", cached=self.cache_prompts),
                "messages": [{"role": "user", "content": ask.prompt}],
                "output_config": {"format": {"type": "json_schema", "schema": _schema(ask.schema)}},
            },
        }

    def submit_batch(self, items: list[tuple[str, BatchRequest]]) -> str:
        """Submit one Message Batch; returns its id. Provider errors surface as GenerationFailed/ProviderThrottled."""
        try:
            batch = self.client.messages.batches.create(
                requests=[self.batch_request(cid, req) for cid, req in items]  # type: ignore[misc]
            )
        except _RETRYABLE as exc:
            unavailable = GenerationFailed(f"provider unavailable: {type(exc).__name__}", retryable=True)
            raise _throttled(exc) or unavailable from exc
        except anthropic.APIStatusError as exc:
            raise GenerationFailed(f"provider rejected the batch: {exc.status_code}", retryable=False) from exc
        return batch.id

    def batch_ended(self, batch_id: str) -> bool:
        return self.client.messages.batches.retrieve(batch_id).processing_status == "ended"

    def batch_results(self, batch_id: str, requests: dict[str, BatchRequest]) -> Iterator[BatchOutcome]:
        """Every result of an ended batch, in the order the provider streams them (not the order submitted)."""
        for line in self.client.messages.batches.results(batch_id):
            request = requests.get(line.custom_id)
            if request is None:
                continue  # not one of ours (or already settled): nothing to match it to
            result = line.result
            if result.type != "succeeded":
                detail = ""
                if result.type == "errored":
                    detail = f": {result.error.error.type}"
                yield BatchOutcome(custom_id=line.custom_id, error=f"batch request {result.type}{detail}")
                continue
            yield self.batch_outcome(line.custom_id, request, result.message.to_dict())

    def batch_outcome(self, custom_id: str, request: BatchRequest, message: dict[str, Any]) -> BatchOutcome:
        """A succeeded batch message checked like a direct answer (a section against its spec:
        ``section_problems``); an invalid one is an error (it falls back to a direct call, which can re-ask), with
        its cost counted at the batch price."""
        ask = self.batch_question(request)
        model = str(message.get("model") or ask.model)
        usage, write_1h = _usage(message)
        cost = self.prices.cost(model, usage, cache_write_1h_tokens=write_1h, batch=True)
        if message.get("stop_reason") != "end_turn":
            return BatchOutcome(custom_id=custom_id, error=f"stop_reason {message.get('stop_reason')}", spent_usd=cost)
        try:
            parsed = ask.schema.model_validate_json(_text(message))
        except ValidationError as exc:
            return BatchOutcome(custom_id=custom_id, error=f"invalid: {exc.error_count()} errors", spent_usd=cost)
        problems = ask.problems(parsed)
        if problems:
            return BatchOutcome(custom_id=custom_id, error=f"invalid: {'; '.join(problems[:3])}", spent_usd=cost)
        generation = Generation(
            body=parsed.model_dump(mode="json"),
            generator="anthropic",
            model=model,
            usage=usage,
            cost_usd=cost,
            attempts=1,
        )
        return BatchOutcome(custom_id=custom_id, generation=generation, spent_usd=cost)


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    """An output schema as ``messages.parse`` sends it (the SDK moves what structured outputs do not support, such
    as exact list sizes, into descriptions)."""
    schema: dict[str, Any] = anthropic.transform_schema(model.model_json_schema())
    return schema


def _answer_problems(
    data: dict[str, Any], parsed: Any, errors: list[str], problems: Callable[[Any], list[str]], max_tokens: int
) -> list[str]:
    """What is wrong with one answer: cut off, the schema's errors, the request's problems, or no JSON at all."""
    if data.get("stop_reason") == "max_tokens":
        return [f"the answer was cut off at {max_tokens} tokens; answer more concisely"]
    if errors:
        return errors
    if parsed is None:
        return ["the answer held no JSON"]
    return problems(parsed)
