"""A course's lane (issue 29 item 4): chosen by the caller within the role's cap, not part of the outline's key, and
a batched part's saving counted in the course's figures from its billed cost."""

from __future__ import annotations

import pytest

from pregen.config.functions import CoursePolicy
from pregen.domain.courses import CourseRequest, PartKind, PartRecord, PartStatus, course_figures
from pregen.domain.errors import Forbidden
from pregen.domain.keys import outline_key
from pregen.domain.models import Caller, Lane, Priority, Role
from pregen.domain.pricing import default_prices
from pregen.services.courses import course_priority

POLICY = CoursePolicy.model_validate({"COURSE_STUDENT_INTERACTIVE_PARTS": 50})
SMALL = {"subject": "biology", "grade": "9", "modules": 2, "lessons_per_module": 2}  # 10 parts
LARGE = {"subject": "biology", "grade": "9", "modules": 12, "lessons_per_module": 8}  # 204 parts


def _lane(body: dict[str, object], role: Role) -> Lane:
    return Priority.lane(course_priority(CourseRequest.model_validate(body), Caller(sub="s", role=role), POLICY))


@pytest.mark.parametrize(
    ("body", "role", "lane"),
    [
        (SMALL, Role.STUDENT, Lane.INTERACTIVE),  # not said, within the cap: interactive
        (LARGE, Role.STUDENT, Lane.BACKGROUND),  # not said, past the cap: background
        (LARGE, Role.TEACHER, Lane.INTERACTIVE),  # teachers have no cap
        ({**SMALL, "lane": "background"}, Role.STUDENT, Lane.BACKGROUND),
        ({**LARGE, "lane": "background"}, Role.TEACHER, Lane.BACKGROUND),
        ({**LARGE, "lane": "interactive"}, Role.ADMIN, Lane.INTERACTIVE),
    ],
)
def test_the_lane_is_the_callers_within_the_roles_cap(body: dict[str, object], role: Role, lane: Lane) -> None:
    assert _lane(body, role) is lane


def test_a_student_asking_the_interactive_lane_past_the_cap_is_refused_with_the_way_out() -> None:
    with pytest.raises(Forbidden, match=r"at most 50 parts \(this one has 204\): ask for the background lane"):
        _lane({**LARGE, "lane": "interactive"}, Role.STUDENT)
    # ...and exactly at the cap it is allowed
    at_cap = CoursePolicy.model_validate({"COURSE_STUDENT_INTERACTIVE_PARTS": 10})
    request = CourseRequest.model_validate({**SMALL, "lane": "interactive"})
    assert Priority.lane(course_priority(request, Caller(sub="s"), at_cap)) is Lane.INTERACTIVE


def test_the_lane_is_not_part_of_the_outline_key_and_an_unknown_lane_is_refused() -> None:
    plain = CourseRequest.model_validate(SMALL)
    batched = CourseRequest.model_validate({**SMALL, "lane": "background"})
    assert outline_key(plain) == outline_key(batched)
    assert "lane" not in batched.canonical()
    with pytest.raises(ValueError, match="lane"):
        CourseRequest.model_validate({**SMALL, "lane": "express"})


def test_a_batched_parts_saving_is_its_billed_cost_at_the_direct_price_less_the_batch_price() -> None:
    def part(part_id: str, cost: float, *, batch: bool) -> PartRecord:
        meta = {"cost_usd": cost, "model": "m", "usage": {"output_tokens": 10}, **({"batch": True} if batch else {})}
        return PartRecord(
            part_id, PartKind.LESSON, 1, 1, key=part_id, job_id="j", request={}, status=PartStatus.DONE, meta=meta
        )

    figures = course_figures(
        {"cost_usd": 0.01, "reused": False}, [part("a", 0.02, batch=True), part("b", 0.04, batch=False)]
    )
    discount = default_prices().batch_discount
    assert figures["batched"] == 1
    assert figures["batch_saved_usd"] == pytest.approx(0.02 / discount - 0.02)
    assert figures["cost_usd"] == pytest.approx(0.07)
