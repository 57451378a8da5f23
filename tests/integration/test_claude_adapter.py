"""AnthropicGenerator against the fake Messages API over real HTTP on loopback.

The SDK speaks httpx2, which respx cannot intercept, so these tests run a real local server
(pregen_fakes.fake_anthropic) and let the SDK's own retries, parsing and middleware do their work.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import anthropic
import pytest

from pregen.adapters.generators.claude import MAX_TOKENS, AnthropicGenerator
from pregen.adapters.generators.offline import OfflineGenerator
from pregen.adapters.generators.prompts import correction_prompt, handbook, user_prompt
from pregen.domain.errors import ContentInvalid, GenerationFailed
from pregen.domain.models import LANGUAGE_KINDS, ContentRequest, ExamType, Kind, QuestionType, TokenUsage
from pregen.domain.pricing import default_prices
from pregen.domain.schemas import schema_for, validate_content
from pregen_fakes.fake_anthropic import FakeAnthropic, Reply, Usage, running_fake_anthropic

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

API_KEY = "sk-test-fake"
MODELS = {Kind.LESSON: "claude-haiku-5-5", Kind.QUESTION_SET: "claude-sonnet-5-5", Kind.EXAM: "claude-opus-5-5"}
# The handbook (style guide, authoring rules, exam blueprints, output schemas) as one cached block: long enough
# to be cached at all (the style guide alone is under every model's minimum cacheable prompt).
CACHED_SYSTEM = [{"type": "text", "text": handbook(), "cache_control": {"type": "ephemeral"}}]

LESSON = ContentRequest(kind=Kind.LESSON, subject="Maths", topic="Fractions", grade="5")
QUESTION_SET = ContentRequest(
    kind=Kind.QUESTION_SET, subject="Maths", topic="Fractions", question_type=QuestionType.MULTIPLE_CHOICE, count=5
)
EXAM = ContentRequest(kind=Kind.EXAM, subject="Chemistry", exam_type=ExamType.DIAGNOSTIC, count=8)
REQUESTS = {
    Kind.LESSON: LESSON,
    Kind.QUESTION_SET: QUESTION_SET,
    Kind.EXAM: EXAM,
    # The language-learning kinds (library issue) go through the same adapter with their own schemas.
    **{
        kind: ContentRequest(kind=kind, subject="Spanish", topic="Food", grade="a2", language="spanish")
        for kind in LANGUAGE_KINDS
    },
    # Courses' recall cards (issue 18).
    Kind.BRAIN_BYTES: ContentRequest(kind=Kind.BRAIN_BYTES, subject="Biology", topic="Cells", grade="9", count=4),
}
MODELS |= dict.fromkeys([*LANGUAGE_KINDS, Kind.BRAIN_BYTES], "claude-haiku-5-5")


@pytest.fixture(scope="module")
def server() -> Iterator[FakeAnthropic]:
    with running_fake_anthropic() as fake:
        yield fake


@pytest.fixture
def fake(server: FakeAnthropic) -> Iterator[FakeAnthropic]:
    server.reset()
    yield server
    assert server.pending == 0, "every scripted reply should have been used"


@pytest.fixture
def make_generator(fake: FakeAnthropic) -> Callable[..., AnthropicGenerator]:
    def make(*, max_attempts: int = 3, max_retries: int = 2) -> AnthropicGenerator:
        return AnthropicGenerator(
            api_key=API_KEY,
            model_for=MODELS.__getitem__,
            prices=default_prices(),
            max_attempts=max_attempts,
            base_url=fake.base_url,
            max_retries=max_retries,
            timeout_s=10.0,
        )

    return make


def offline_body(request: ContentRequest) -> dict[str, Any]:
    """What the fake answers by default: the offline generator's body."""
    return OfflineGenerator().generate(request).body


def parsed(request: ContentRequest, body: dict[str, Any]) -> dict[str, Any]:
    """A body as the generator returns it: parsed by the kind's schema, its defaults filled in."""
    return schema_for(request.kind).model_validate(body).model_dump(mode="json")


# Usage the fake reports, and the literal dollars it costs on each model (prices in pregen/data/prices.json).
# 1,000 input, 2,000 output, 3,000 cache writes of which 1,000 with the 1-hour TTL, 4,000 cache reads.
USAGE = Usage(
    input_tokens=1_000,
    output_tokens=2_000,
    cache_creation_input_tokens=3_000,
    cache_read_input_tokens=4_000,
    cache_write_1h_tokens=1_000,
)
COST = {
    # haiku:  1,000x1 + 2,000x5 + 2,000x1.25 + 1,000x2 + 4,000x0.1 = 15,900 per million
    Kind.LESSON: 0.0159,
    # sonnet: 1,000x3 + 2,000x15 + 2,000x3.75 + 1,000x6 + 4,000x0.3 = 47,700 per million
    Kind.QUESTION_SET: 0.0477,
    # opus:   1,000x5 + 2,000x25 + 2,000x6.25 + 1,000x10 + 4,000x0.5 = 79,500 per million
    Kind.EXAM: 0.0795,
}
COST |= dict.fromkeys([*LANGUAGE_KINDS, Kind.BRAIN_BYTES], COST[Kind.LESSON])  # on haiku too


@pytest.mark.parametrize("kind", list(Kind))
def test_valid_first_answer_is_returned_with_its_usage_cost_and_model(
    kind: Kind, fake: FakeAnthropic, make_generator: Callable[..., AnthropicGenerator]
) -> None:
    # Given a provider that answers the request with valid content and reports all four token kinds
    request = REQUESTS[kind]
    fake.script([Reply.offline(usage=USAGE)])
    generator = make_generator()

    # When the generator generates it
    generation = generator.generate(request)

    # Then the content is the provider's answer, made on the model for that kind, in one attempt
    assert generation.body == parsed(request, offline_body(request))
    validate_content(request, generation.body)
    assert generation.generator == "anthropic"
    assert generation.model == MODELS[kind]
    assert generation.attempts == 1
    # ...with every token kind recorded and priced (the 1-hour cache writes at their own price)
    assert generation.usage == TokenUsage(
        input_tokens=1_000, output_tokens=2_000, cache_creation_input_tokens=3_000, cache_read_input_tokens=4_000
    )
    assert generation.cost_usd == pytest.approx(COST[kind])
    # ...and one request went out: the kind's model and token budget, the handbook as a cached system
    # block, the request as the user prompt, the schema as the output format, the key as the credential
    (sent,) = fake.requests
    assert sent.path == "/v1/messages"
    assert sent.model == MODELS[kind]
    assert sent.body["max_tokens"] == MAX_TOKENS[kind]
    assert sent.body["system"] == CACHED_SYSTEM
    assert sent.messages == [{"role": "user", "content": user_prompt(request)}]
    assert sent.body["output_config"]["format"]["type"] == "json_schema"
    assert API_KEY in (sent.headers.get("x-api-key"), sent.headers.get("authorization", "").removeprefix("Bearer "))


def test_estimated_usage_shows_the_system_block_written_to_the_cache_then_read(
    fake: FakeAnthropic, make_generator: Callable[..., AnthropicGenerator]
) -> None:
    # Given a provider that estimates usage and honours cache_control on the system block
    generator = make_generator()

    # When two requests are generated on the same model
    first = generator.generate(LESSON)
    second = generator.generate(LESSON.model_copy(update={"topic": "decimals"}))

    # Then the first wrote the cached prefix and the second read it, and each cost is that usage priced
    assert first.usage.cache_creation_input_tokens > 0
    assert first.usage.cache_read_input_tokens == 0
    assert second.usage.cache_creation_input_tokens == 0
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    for generation, sent in zip((first, second), fake.requests, strict=True):
        reported = sent.response["usage"]
        assert generation.usage.model_dump() == {k: reported[k] for k in TokenUsage.model_fields}
        assert generation.cost_usd == pytest.approx(default_prices().cost(MODELS[Kind.LESSON], generation.usage))


def test_rate_limit_is_retried_by_the_sdk_after_retry_after(
    fake: FakeAnthropic, make_generator: Callable[..., AnthropicGenerator]
) -> None:
    # Given a provider that throttles once (429, retry-after 0) and then answers
    fake.script([Reply.rate_limited(retry_after=0), Reply.offline(usage=USAGE)])

    # When the generator generates
    generation = make_generator(max_retries=2).generate(LESSON)

    # Then the SDK retried the same request and the answer counts as one attempt with one call's usage
    assert [r.status for r in fake.requests] == [429, 200]
    assert [r.headers["x-stainless-retry-count"] for r in fake.requests] == ["0", "1"]
    assert fake.requests[0].body == fake.requests[1].body
    assert fake.requests[0].response["error"]["type"] == "rate_limit_error"
    assert generation.attempts == 1
    assert generation.usage.output_tokens == USAGE.output_tokens
    assert generation.cost_usd == pytest.approx(COST[Kind.LESSON])


def test_overload_is_retried_by_the_sdk(fake: FakeAnthropic, make_generator: Callable[..., AnthropicGenerator]) -> None:
    # Given a provider that is overloaded once (529) and then answers
    fake.script([Reply.overloaded(), Reply.offline()])

    # When the generator generates
    generation = make_generator(max_retries=2).generate(QUESTION_SET)

    # Then the SDK retried and the content came back in one attempt
    assert [r.status for r in fake.requests] == [529, 200]
    assert fake.requests[0].response["error"]["type"] == "overloaded_error"
    assert generation.attempts == 1
    assert generation.body == parsed(QUESTION_SET, offline_body(QUESTION_SET))


def test_invalid_answer_is_re_asked_with_its_errors_and_both_calls_are_billed(
    fake: FakeAnthropic, make_generator: Callable[..., AnthropicGenerator]
) -> None:
    # Given a provider whose first answer breaks the schema and whose second is valid, each with its usage
    invalid = offline_body(LESSON) | {"estimated_minutes": 0}
    first_usage = Usage(input_tokens=100, output_tokens=200, cache_creation_input_tokens=300)
    second_usage = Usage(input_tokens=150, output_tokens=250, cache_read_input_tokens=300)
    fake.script([Reply.json(invalid, usage=first_usage), Reply.offline(usage=second_usage)])

    # When the generator generates
    generation = make_generator().generate(LESSON)

    # Then it took two attempts and returned the valid answer
    assert generation.attempts == 2
    assert generation.body == parsed(LESSON, offline_body(LESSON))
    # ...the second request carried the invalid answer back as the assistant's turn, then the errors
    first, second = fake.requests
    assert second.body["system"] == CACHED_SYSTEM
    assert second.messages[0] == first.messages[0] == {"role": "user", "content": user_prompt(LESSON)}
    assert second.messages[1] == {"role": "assistant", "content": json.dumps(invalid)}
    assert second.messages[2]["role"] == "user"
    assert second.messages[2]["content"] == correction_prompt(
        ["estimated_minutes: Input should be greater than or equal to 1"]
    )
    assert len(second.messages) == 3
    # ...and the usage of both calls is summed and priced as a whole (haiku):
    # 250x1 input + 450x5 output + 300x1.25 cache write (5 min) + 300x0.1 cache read = 2,905 per million
    assert generation.usage == TokenUsage(
        input_tokens=250, output_tokens=450, cache_creation_input_tokens=300, cache_read_input_tokens=300
    )
    assert generation.cost_usd == pytest.approx(0.002905)


def test_truncated_answer_is_re_asked_to_be_more_concise(
    fake: FakeAnthropic, make_generator: Callable[..., AnthropicGenerator]
) -> None:
    # Given a provider that runs out of tokens part-way once (stop_reason max_tokens), then answers in full
    fake.script([Reply.truncated(), Reply.offline()])

    # When the generator generates
    generation = make_generator().generate(LESSON)

    # Then the second attempt succeeded after being told the answer was cut off
    assert generation.attempts == 2
    assert generation.body == parsed(LESSON, offline_body(LESSON))
    first, second = fake.requests
    assert first.response["stop_reason"] == "max_tokens"
    cut_text = first.response["content"][0]["text"]
    assert second.messages[1] == {"role": "assistant", "content": cut_text}
    assert f"cut off at {MAX_TOKENS[Kind.LESSON]} tokens" in second.messages[2]["content"]


def test_answer_invalid_every_time_fails_as_content_invalid_after_max_attempts(
    fake: FakeAnthropic, make_generator: Callable[..., AnthropicGenerator]
) -> None:
    # Given a provider that never answers with JSON matching the schema
    fake.script([Reply.text("not json"), Reply.invalid_offline(), Reply.invalid_offline()])

    # When the generator generates with three attempts allowed
    with pytest.raises(ContentInvalid) as raised:
        make_generator(max_attempts=3).generate(LESSON)

    # Then it gave up after exactly three calls, reporting the last errors
    assert len(fake.requests) == 3
    assert raised.value.errors == ["title: Field required"]
    # ...each re-ask listing the errors of the answer before it
    assert "Invalid JSON" in fake.requests[1].messages[-1]["content"]
    assert fake.requests[2].messages[-1]["content"] == correction_prompt(["title: Field required"])
    assert len(fake.requests[2].messages) == 5


def test_wrong_number_of_questions_is_re_asked(
    fake: FakeAnthropic, make_generator: Callable[..., AnthropicGenerator]
) -> None:
    # Given a provider whose first question set is schema-valid but has 3 questions where 5 were asked for
    three = offline_body(QUESTION_SET.model_copy(update={"count": 3}))
    fake.script([Reply.json(three), Reply.offline()])

    # When the generator generates
    generation = make_generator().generate(QUESTION_SET)

    # Then the count was corrected on a second attempt, on the question-set model: the request's schema says
    # exactly 5, so the re-ask carries the schema's own error
    assert generation.attempts == 2
    assert len(generation.body["questions"]) == 5
    assert [r.model for r in fake.requests] == [MODELS[Kind.QUESTION_SET]] * 2
    assert fake.requests[1].messages[2]["content"] == correction_prompt(
        ["questions: List should have at least 5 items after validation, not 3"]
    )


def test_refusal_fails_without_retry(fake: FakeAnthropic, make_generator: Callable[..., AnthropicGenerator]) -> None:
    # Given a provider that refuses the request
    fake.script([Reply.refusal()])

    # When the generator generates
    with pytest.raises(GenerationFailed) as raised:
        make_generator().generate(LESSON)

    # Then it fails for good after one call: asking again would not help
    assert raised.value.retryable is False
    assert len(fake.requests) == 1


def test_persistent_rate_limit_fails_as_retryable(
    fake: FakeAnthropic, make_generator: Callable[..., AnthropicGenerator]
) -> None:
    # Given a provider that throttles every call
    fake.script([Reply.rate_limited(retry_after=0), Reply.rate_limited(retry_after=0)])

    # When the generator generates with one SDK retry allowed
    with pytest.raises(GenerationFailed) as raised:
        make_generator(max_retries=1).generate(LESSON)

    # Then the SDK gave up after its retry and the failure is retryable later (the message goes back to the queue)
    assert raised.value.retryable is True
    assert isinstance(raised.value.__cause__, anthropic.RateLimitError)
    assert [r.status for r in fake.requests] == [429, 429]


def test_persistent_overload_fails_as_retryable(
    fake: FakeAnthropic, make_generator: Callable[..., AnthropicGenerator]
) -> None:
    # Given a provider that is overloaded
    fake.script([Reply.overloaded()])

    # When the generator generates with no SDK retries
    with pytest.raises(GenerationFailed) as raised:
        make_generator(max_retries=0).generate(EXAM)

    # Then the failure is retryable
    assert raised.value.retryable is True
    assert isinstance(raised.value.__cause__, anthropic.OverloadedError)


def test_rejected_request_fails_without_retry(
    fake: FakeAnthropic, make_generator: Callable[..., AnthropicGenerator]
) -> None:
    # Given a provider that rejects the request as malformed (400)
    fake.script([Reply.error(400, "invalid_request_error", "max_tokens: too large")])

    # When the generator generates
    with pytest.raises(GenerationFailed) as raised:
        make_generator(max_retries=2).generate(LESSON)

    # Then neither the SDK nor the queue should try again
    assert raised.value.retryable is False
    assert len(fake.requests) == 1


@pytest.mark.parametrize("follow", ["prompt", "schema"])
def test_a_course_outline_is_one_structured_answer_on_the_small_tier(
    follow: str, fake: FakeAnthropic, make_generator: Callable[..., AnthropicGenerator]
) -> None:
    from pregen.domain.courses import CourseRequest, validate_outline

    # Given a course of 3 modules of 2 lessons, and a provider that answers from the prompt or the schema alone
    request = CourseRequest(subject="Biology", grade="9", modules=3, lessons_per_module=2)
    fake.follow = follow
    try:
        # When the generator plans it
        generation = make_generator().plan_course(request)
    finally:
        fake.follow = "prompt"
    # Then the outline has exactly the asked shape, from one call on the lessons' (small) model
    outline = validate_outline(request, generation.body)
    assert [len(m.lessons) for m in outline.modules] == [2, 2, 2]
    assert generation.model == MODELS[Kind.LESSON]
    (sent,) = fake.requests
    assert sent.model == MODELS[Kind.LESSON]


def test_the_planner_uses_the_lesson_plan_step_tier_when_model_tiers_names_it(
    fake: FakeAnthropic, make_generator: Callable[..., AnthropicGenerator]
) -> None:
    from pregen.config.settings import ModelSettings
    from pregen.domain.courses import CourseRequest

    # Given MODEL_TIERS that puts the course plan (and only it) on the large tier
    settings = ModelSettings.model_validate({"MODEL_TIERS": '{"lesson.plan": "large"}'})
    generator = make_generator()
    generator.step_model = settings.model_for
    # When the generator plans a course
    generation = generator.plan_course(CourseRequest(subject="Biology", grade="9", modules=1, lessons_per_module=1))
    # Then the one call went to the large model, while a lesson stays on the small one
    (sent,) = fake.requests
    assert sent.model == generation.model == settings.model_large
    assert settings.model_for(Kind.LESSON) == settings.model_small


def test_a_client_that_dies_mid_request_is_recorded_as_gone_and_not_answered(
    fake: FakeAnthropic, make_generator: Callable[..., AnthropicGenerator]
) -> None:
    # Given the fake's hook says the client died while its request was open (bench.faults --stack SIGKILLs it there)
    clients: list[tuple[str, int]] = []

    def gone(client: tuple[str, int]) -> bool:
        clients.append(client)
        return True

    fake.before_answer = gone
    try:
        # When a request comes in, Then it is not answered (the connection is dropped)
        with pytest.raises(GenerationFailed, match="provider unavailable"):
            make_generator(max_attempts=1, max_retries=0).generate(LESSON)
    finally:
        fake.before_answer = None
    # And it is recorded as gone, not as an answer, with the client's address given to the hook
    assert [(r.status, r.fault) for r in fake.requests] == [(0, "client_gone")]
    assert clients[0][0] == "127.0.0.1"
