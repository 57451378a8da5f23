"""The course alignment judgement (issue 29 item 1) on moto, through the handlers: each assessment judged once when
the course is assembled, cached for a course reusing it, a misaligned question reported, off by setting, and a
failed judgement leaving the check "not judged" without failing the course."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from pregen import wiring
from pregen.adapters.generators.offline import OfflineGenerator
from pregen.domain.errors import GenerationFailed
from pregen.wiring import worker as worker_wiring
from tests.integration.conftest import api_event, call, run_worker

if TYPE_CHECKING:
    from pregen.domain.models import ContentRequest, Generation
    from tests.integration.conftest import Aws

# Every test runs the worker, whose wiring reads SystemClock: the moved-clock reruns cover them.
pytestmark = pytest.mark.wall_clock

SMALL = {"subject": "biology", "grade": "9", "modules": 2, "lessons_per_module": 2}


class JudgingGenerator(OfflineGenerator):
    """The offline generator and its deterministic judge, counting the judgements; an assessment whose topic is in
    ``off_topic`` gets a first question about something else; ``refuse`` makes the judge refuse."""

    def __init__(self) -> None:
        super().__init__()
        self.judged: list[list[str]] = []  # the objectives of each judgement made
        self.off_topic: set[str] = set()
        self.refuse = False

    def generate(
        self, request: ContentRequest, feedback: str | None = None, *, max_calls: int | None = None
    ) -> Generation:
        generation = super().generate(request, feedback, max_calls=max_calls)
        if request.topic in self.off_topic and "questions" in generation.body:
            generation.body["questions"][0]["prompt"] = "Which planet is closest to the sun?"
        return generation

    def judge_alignment(self, questions: list[dict[str, Any]], objectives: list[str]) -> Generation:
        self.judged.append(objectives)
        if self.refuse:
            raise GenerationFailed("the model refused this judgement", retryable=False)
        return super().judge_alignment(questions, objectives)


@pytest.fixture
def courses() -> Any:
    from functions.courses import app

    return app


def _model() -> JudgingGenerator:
    generator = JudgingGenerator()
    worker_wiring.worker_deps().generator = generator  # before the course worker's deps take it as their judge
    return generator


@pytest.fixture
def model(aws: Aws) -> JudgingGenerator:
    return _model()


def _course(courses: Any, aws: Aws, body: dict[str, Any], *, sub: str = "alice") -> dict[str, Any]:
    status, _, accepted = call(courses, api_event("courses_create.json", sub=sub, body=body))
    assert status == 202, accepted
    run_worker(aws, "InteractiveQueue", max_batches=500)
    course_id = accepted["course_id"]
    path = f"/v1/courses/{course_id}"
    status, _, course = call(
        courses, api_event("courses_get.json", sub=sub, path=path, path_parameters={"course": course_id})
    )
    assert (status, course["status"]) == (200, "ready"), course
    return dict(course)


def _aligned(course: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in course["validation"]["checks"] if c["name"] == "objectives_aligned")


def test_each_assessment_is_judged_once_on_assembly_and_a_course_reusing_them_makes_no_call(
    aws: Aws, courses: Any, model: JudgingGenerator
) -> None:
    # When alice's 2-module course is assembled
    course = _course(courses, aws, SMALL)
    # Then each of its two assessments was judged once, against its module's objectives
    assert len(model.judged) == 2
    # (the two are judged side by side: in either order)
    assert sorted(model.judged)[0] == [
        "explain idea 1.1 of biology",
        "use idea 1.1 in an example",
        "explain idea 1.2 of biology",
        "use idea 1.2 in an example",
    ]
    # ...and the check is shown with the other checks: every question aligned
    assert _aligned(course) == {
        "name": "objectives_aligned",
        "passed": True,
        "detail": "8 of 8 questions examine the objective they name",
        "score": 1.0,
        "misaligned": [],
    }
    assert course["validation"]["score"] == 1.0
    # ...and the judgements are in the course's figures as their own kind, not as parts
    judgement = course["figures"]["by_kind"]["judgement"]
    assert (judgement["generated"], judgement["reused"]) == (2, 0)
    assert (course["figures"]["generated"], course["figures"]["reused"]) == (11, 0)

    # When bob asks for the same course (the same assessments)
    again = _course(courses, aws, SMALL, sub="bob")
    # Then no judgement is made: both come from the cache, with the same verdicts
    assert len(model.judged) == 2
    assert _aligned(again) == _aligned(course)
    assert again["figures"]["by_kind"]["judgement"]["reused"] == 2


def test_a_question_that_does_not_examine_its_objective_is_reported(
    aws: Aws, courses: Any, model: JudgingGenerator
) -> None:
    # Given module 2's assessment asks its first question about something else than the objective it names
    model.off_topic = {"biology unit 2"}
    # When the course is assembled
    course = _course(courses, aws, SMALL)
    # Then the check failed, with the share aligned and the misaligned question listed with the judge's reason
    aligned = _aligned(course)
    assert (aligned["passed"], aligned["score"]) == (False, 0.875)
    assert aligned["misaligned"] == [
        {
            "part_id": "m02-assessment",
            "question": 1,
            "objective": "explain idea 2.1 of biology",
            "why": "it shares no word with its objective",
        }
    ]
    # ...which the course's score counts (one check of six failed), while the course is ready
    assert course["validation"]["score"] == round(5 / 6, 4)


def test_off_by_setting_the_check_says_not_judged_and_no_call_is_made(
    aws: Aws, courses: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the judgement is off
    monkeypatch.setenv("COURSE_ALIGNMENT_JUDGE", "false")
    wiring.reset()
    model = _model()
    # When a course is assembled
    course = _course(courses, aws, SMALL)
    # Then no judgement was made, the check says why, and it is left out of the score
    assert model.judged == []
    assert _aligned(course) == {
        "name": "objectives_aligned",
        "passed": False,
        "detail": "not judged: off by setting (COURSE_ALIGNMENT_JUDGE)",
        "judged": False,
    }
    assert course["validation"]["score"] == 1.0
    assert "judgement" not in course["figures"]["by_kind"]


def test_a_failed_judgement_leaves_the_check_not_judged_and_the_course_ready(
    aws: Aws, courses: Any, model: JudgingGenerator
) -> None:
    # Given the judge refuses
    model.refuse = True
    # When the course is assembled
    course = _course(courses, aws, SMALL)
    # Then the course is ready (the _course helper asserts it) and the check says it was not judged, and why
    aligned = _aligned(course)
    assert aligned["judged"] is False
    assert aligned["detail"].startswith("not judged: m01-assessment: the model refused this judgement")
    assert course["validation"]["score"] == 1.0
    # ...and nothing was cached: the next course judges again
    model.refuse = False
    again = _course(courses, aws, SMALL, sub="bob")
    assert len(model.judged) == 4
    assert _aligned(again)["passed"] is True


def test_claude_judges_through_the_fake_on_the_small_tier_and_a_refusal_raises() -> None:
    from pregen.adapters.generators.claude import AnthropicGenerator
    from pregen.adapters.generators.prompts import JUDGE_SYSTEM
    from pregen.config.settings import ModelSettings
    from pregen.domain.courses import judged_questions
    from pregen.domain.pricing import default_prices
    from pregen_fakes.fake_anthropic import Reply, running_fake_anthropic

    # Given question sets on the large tier (the judgement stays on the small one)
    settings = ModelSettings.model_validate({"MODEL_TIERS": '{"question_set": "large"}'})
    questions = judged_questions(
        {
            "questions": [
                {"prompt": "What does a cell membrane let through?", "objective": "Cell membrane"},
                {"prompt": "Which planet is closest to the sun?", "objective": "Cell membrane"},
            ]
        }
    )
    with running_fake_anthropic() as fake:
        claude = AnthropicGenerator(
            api_key="sk-test-fake",
            model_for=settings.model_for,
            step_model=settings.model_for,
            prices=default_prices(),
            base_url=fake.base_url,
            timeout_s=10.0,
        )
        # When Claude (the fake) judges an assessment
        generation = claude.judge_alignment(questions, ["Cell membrane"])
        # Then the answer is schema-checked verdicts, one a question, on the small tier, and it cost something
        assert [v["aligned"] for v in generation.body["questions"]] == [True, False]
        assert (generation.model, generation.attempts) == (settings.model_small, 1)
        assert generation.cost_usd > 0
        sent = fake.requests[-1].body
        assert sent["model"] == settings.model_small
        assert sent["system"] == [{"type": "text", "text": JUDGE_SYSTEM}]  # a judge is not sent the content handbook
        assert sent["output_config"]["format"]["schema"]["properties"]["questions"]["type"] == "array"
        # When the model refuses, the judgement raises (the course then says not judged)
        fake.script([Reply.refusal()])
        with pytest.raises(GenerationFailed, match="refused this judgement"):
            claude.judge_alignment(questions, ["Cell membrane"])
