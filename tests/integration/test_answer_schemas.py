"""The output schema carries the request (issue 16): against a fake provider that reads only the schema it is sent
and ignores the prompt's prose (pregen_fakes.schema_follower), every kind's first answer is valid.

The same fake given only the kind's plain schema answers what the schema allows, and the request's count, question
type or language is missed: that is what happened before, and why these tests can fail.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from pregen.adapters.generators.claude import AnthropicGenerator
from pregen.adapters.generators.claude_sections import ClaudeSectionWriter
from pregen.domain.errors import ContentInvalid
from pregen.domain.models import ContentRequest, ExamType, Kind, QuestionType
from pregen.domain.pricing import default_prices
from pregen.domain.programs import SectionSpec, section_problems
from pregen.domain.schemas import request_problems, schema_for, validate_content
from pregen_fakes.fake_anthropic import FakeAnthropic, running_fake_anthropic

if TYPE_CHECKING:
    from collections.abc import Iterator

REQUESTS = [
    ContentRequest(kind=Kind.LESSON, subject="Maths", topic="Fractions", lesson_number=3),
    *[
        ContentRequest(kind=Kind.QUESTION_SET, subject="Maths", topic="Fractions", question_type=qtype, count=4)
        for qtype in QuestionType
    ],
    ContentRequest(kind=Kind.VOCABULARY_DRILL, subject="Spanish", topic="Food", language="spanish", count=7),
    ContentRequest(kind=Kind.GRAMMAR_EXERCISE, subject="Spanish", language="spanish", count=6),
    ContentRequest(kind=Kind.CULTURAL_CONTENT, subject="Spanish", language="spanish"),
    ContentRequest(kind=Kind.PRONUNCIATION_DRILL, subject="French", language="french", count=5),
    ContentRequest(kind=Kind.CONVERSATION_PRACTICE, subject="German", language="german", count=6),
    ContentRequest(kind=Kind.PERSONALIZED_EXERCISE, subject="Spanish", language="spanish", count=4),
    # A course's parts: written from their objectives, in the course's language (issue 29)
    *[
        ContentRequest(
            kind=kind,
            subject="Biology",
            topic="Osmosis",
            objectives=["Explain osmosis", "Compare osmosis and diffusion"],
            language="spanish",
            **extra,
        )
        for kind, extra in (
            (Kind.LESSON, {"lesson_number": 2}),
            (Kind.BRAIN_BYTES, {"count": 4}),
            (Kind.QUESTION_SET, {"question_type": QuestionType.MULTIPLE_CHOICE, "count": 3}),
        )
    ],
]
SECTION = SectionSpec(
    exam_id="exam-1",
    program="eppp",
    exam_type="practice",
    subject="Psychology",
    index=2,
    domain="Ethical, legal and professional issues",
    count=9,
    offset=20,
    question_types={QuestionType.MULTIPLE_CHOICE: 7, QuestionType.TRUE_FALSE: 2},
    difficulty={"easy": 0.3, "medium": 0.5, "hard": 0.2},
)


@pytest.fixture(scope="module")
def follower() -> Iterator[FakeAnthropic]:
    with running_fake_anthropic(follow="schema") as fake:
        yield fake


def generator(fake: FakeAnthropic) -> AnthropicGenerator:
    return AnthropicGenerator(
        api_key="sk-test-fake",
        model_for=lambda _: "claude-sonnet-5-5",
        prices=default_prices(),
        base_url=fake.base_url,
        max_retries=0,
    )


@pytest.mark.parametrize("request_", REQUESTS, ids=lambda r: f"{r.kind.value}-{r.question_type or ''}")
def test_every_kind_is_valid_on_the_first_call_of_a_model_that_follows_only_the_schema(
    follower: FakeAnthropic, request_: ContentRequest
) -> None:
    follower.reset()
    generation = generator(follower).generate(request_)
    assert generation.attempts == 1
    assert len(follower.requests) == 1
    validate_content(request_, generation.body)  # the validator stays the final word


def test_an_exam_section_is_valid_on_the_first_call(follower: FakeAnthropic) -> None:
    follower.reset()
    generation = ClaudeSectionWriter(generator(follower)).generate_section(SECTION)
    assert generation.attempts == 1
    assert section_problems(SECTION, generation.body) == []


@pytest.mark.parametrize(
    "request_",
    [r for r in REQUESTS if r.kind is Kind.QUESTION_SET and r.question_type is not QuestionType.MULTIPLE_CHOICE]
    + [r for r in REQUESTS if r.kind in (Kind.VOCABULARY_DRILL, Kind.CONVERSATION_PRACTICE)],
    ids=lambda r: f"{r.kind.value}-{r.question_type or ''}",
)
def test_the_kinds_plain_schema_leaves_the_request_to_luck(follower: FakeAnthropic, request_: ContentRequest) -> None:
    follower.reset()
    parsed_problems: list[str] = []
    plain = generator(follower)
    generation = plain.structured(
        model="claude-sonnet-5-5",
        prompt="(ignored by this model)",
        schema=schema_for(request_.kind),
        max_tokens=4000,
        problems=lambda parsed: parsed_problems.extend(request_problems(request_, parsed)) or [],
        noun=("request", "content"),
    )
    assert generation.attempts == 1
    assert parsed_problems, "the plain schema should not carry this request's constraints"


def test_a_whole_exam_says_its_type_in_the_schema(follower: FakeAnthropic) -> None:
    # A whole exam's total across sections cannot be written in JSON Schema; its type can.
    follower.reset()
    request = ContentRequest(kind=Kind.EXAM, subject="Chemistry", exam_type=ExamType.PRACTICE, count=8)
    sent = generator(follower)
    with pytest.raises(ContentInvalid, match="still invalid"):  # the total is luck: re-asked, then given up
        sent.generate(request)
    schema = follower.requests[0].body["output_config"]["format"]["schema"]
    assert schema["properties"]["exam_type"] == {"const": "practice", "title": "Exam Type"}
