"""The lesson system's learning styles (issue 17): ``mixed`` and ``hands_on`` are accepted, each style reaches the
model as its own instruction, and different styles are different requests (different cache keys)."""

from __future__ import annotations

import pytest

from pregen.adapters.generators.prompts import STYLE_GUIDE_BY_STYLE, user_prompt
from pregen.domain.keys import cache_key
from pregen.domain.models import Caller, ContentRequest, LearningStyle


@pytest.mark.parametrize("style", ["mixed", "hands_on"])
def test_the_lesson_systems_styles_are_accepted(style: str) -> None:
    request = ContentRequest.model_validate({"kind": "lesson", "subject": "Physics", "learning_style": style})
    assert request.learning_style == LearningStyle(style)


def test_every_style_has_its_own_instruction_in_the_prompt() -> None:
    assert set(STYLE_GUIDE_BY_STYLE) == set(LearningStyle)
    for style in LearningStyle:
        request = ContentRequest(kind="lesson", subject="Physics", topic="Levers", learning_style=style)
        prompt = user_prompt(request)
        assert f"Learning style {style.value}: {STYLE_GUIDE_BY_STYLE[style]}" in prompt
    assert "Learning style" not in user_prompt(ContentRequest(kind="lesson", subject="Physics"))
    assert "step-by-step activity" in STYLE_GUIDE_BY_STYLE[LearningStyle.HANDS_ON]


def test_styles_are_different_requests() -> None:
    caller = Caller(sub="a")
    keys = {
        cache_key(ContentRequest(kind="lesson", subject="Physics", learning_style=style), caller)
        for style in LearningStyle
    }
    assert len(keys) == len(LearningStyle)
