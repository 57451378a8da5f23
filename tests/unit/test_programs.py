"""Exam programs as data: the shipped blueprint, section planning, and the checks an assembled exam must pass."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

import pregen.domain.programs
from pregen.adapters.generators.offline import OfflineGenerator
from pregen.domain.codec import compress, decompress
from pregen.domain.errors import ContentInvalid, NotFound
from pregen.domain.programs import (
    Catalogue,
    Program,
    apportion,
    default_catalogue,
    plan_sections,
    section_problems,
    validate_exam,
)


def _offline_exam(program: Program, exam_type: str, exam_id: str = "e1") -> dict[str, Any]:
    generator = OfflineGenerator()
    sections = [generator.generate_section(spec).body for spec in plan_sections(program, exam_type, exam_id)]
    spec = program.exam_types[exam_type]
    return {"title": "t", "exam_type": spec.style, "instructions": spec.instructions, "sections": sections}


def test_default_program_has_eight_weighted_domains_and_both_exam_types() -> None:
    # Given the shipped catalogue
    catalogue = default_catalogue()
    # Then the EPPP program defines diagnostic (71, as the original) and practice (225) over 8 weighted domains
    program = catalogue.program_for("practice")
    assert program is catalogue.program_for("diagnostic")
    assert len(program.domains) == 8
    assert program.program == "eppp"
    assert program.exam_types["diagnostic"].questions == 71
    assert program.exam_types["practice"].questions == 225


def test_unknown_exam_type_is_not_found() -> None:
    with pytest.raises(NotFound, match="known: diagnostic, practice"):
        default_catalogue().program_for("final")


@pytest.mark.parametrize(("exam_type", "total"), [("diagnostic", 71), ("practice", 225)])
def test_sections_cover_the_blueprint_within_tolerance(exam_type: str, total: int) -> None:
    # Given the default program
    program = default_catalogue().program_for(exam_type)
    # When an exam is planned in sections
    sections = plan_sections(program, exam_type, "exam-1")
    # Then the sections add up to the count, none is larger than the section maximum, numbering runs on
    assert sum(s.count for s in sections) == total
    assert max(s.count for s in sections) <= program.exam_types[exam_type].section_max_questions
    assert [s.offset for s in sections] == [sum(x.count for x in sections[:i]) for i in range(len(sections))]
    # And every domain's share is within one question of its weight
    for domain in program.domains:
        count = sum(s.count for s in sections if s.domain == domain.name)
        assert abs(count - domain.weight * total) < 1


def test_apportion_sums_exactly() -> None:
    counts = apportion(10, {"a": 1 / 3, "b": 1 / 3, "c": 1 / 3})
    assert sum(counts.values()) == 10
    assert sorted(counts.values()) == [3, 3, 4]


@pytest.mark.parametrize("exam_type", ["diagnostic", "practice"])
def test_offline_sections_assemble_into_a_valid_exam(exam_type: str) -> None:
    # Given every section of an exam generated offline
    program = default_catalogue().program_for(exam_type)
    for spec in plan_sections(program, exam_type, "x"):
        assert section_problems(spec, OfflineGenerator().generate_section(spec).body) == []
    body = _offline_exam(program, exam_type)
    # Then the assembled exam passes the blueprint's checks
    exam = validate_exam(program, exam_type, body)
    assert sum(len(s.questions) for s in exam.sections) == program.exam_types[exam_type].questions


def _realistic(body: dict[str, Any]) -> dict[str, Any]:
    """Offline questions are short and repetitive; give each one ~1.2 KB of varied prose, like a real question
    with a vignette and an explanation, so the size check means something."""
    rng = random.Random(7)
    words = [
        w
        for w in (Path(__file__).read_text() + Path(pregen.domain.programs.__file__).read_text()).split()
        if w.isalpha()
    ]
    for section in body["sections"]:
        for question in section["questions"]:
            question["prompt"] += " " + " ".join(rng.choices(words, k=60))
            question["explanation"] = " ".join(rng.choices(words, k=140))
    return body


def test_a_225_question_exam_compresses_well_under_the_item_limit() -> None:
    # Given a full practice exam of realistic size
    program = default_catalogue().program_for("practice")
    body = _realistic(_offline_exam(program, "practice"))
    raw = len(json.dumps(body).encode())
    # When it is compressed as the store does
    packed = compress(body)
    # Then it is far below DynamoDB's 400 KB item limit and round-trips exactly
    assert raw > 250_000
    assert len(packed) < 200_000
    assert decompress(packed) == body
    validate_exam(program, "practice", body)


def test_exam_with_a_repeated_question_is_rejected() -> None:
    # Given a valid exam where one question is copied over another in a different section
    program = default_catalogue().program_for("diagnostic")
    body = _offline_exam(program, "diagnostic")
    body["sections"][1]["questions"][0] = dict(
        body["sections"][0]["questions"][0], domain=body["sections"][1]["domain"]
    )
    # Then it is not claimable
    with pytest.raises(ContentInvalid) as info:
        validate_exam(program, "diagnostic", body)
    assert any("repeat" in p for p in info.value.errors)


def test_exam_missing_questions_or_off_weight_is_rejected() -> None:
    program = default_catalogue().program_for("practice")
    body = _offline_exam(program, "practice")
    # Given a section dropped: the count and that domain's weight are off
    body["sections"].pop(0)
    with pytest.raises(ContentInvalid) as info:
        validate_exam(program, "practice", body)
    assert any("expected exactly 225" in p for p in info.value.errors)
    assert any("Biological bases of behavior" in p for p in info.value.errors)


def test_a_schema_invalid_question_is_rejected() -> None:
    program = default_catalogue().program_for("diagnostic")
    body = _offline_exam(program, "diagnostic")
    body["sections"][0]["questions"][0]["answer_index"] = 9
    with pytest.raises(ContentInvalid, match="schema"):
        validate_exam(program, "diagnostic", body)


def test_adding_a_program_is_a_data_change() -> None:
    # Given a second program, as a JSON document like the files in pregen/data/programs
    extra = Program.model_validate(
        {
            "program": "driving",
            "title": "Driving theory",
            "subject": "road safety",
            "domains": [{"name": "Signs", "weight": 0.5}, {"name": "Rules", "weight": 0.5}],
            "question_types": {"multiple_choice": 1.0},
            "difficulty": {"easy": 0.5, "medium": 0.5},
            "exam_types": {"driving_mock": {"style": "practice", "questions": 50, "instructions": "Go."}},
        }
    )
    catalogue = Catalogue([*default_catalogue().programs.values(), extra])
    # Then its exam type is known, plannable and validated like the others
    assert catalogue.program_for("driving_mock") is extra
    validate_exam(extra, "driving_mock", _offline_exam(extra, "driving_mock"))


def test_bad_programs_are_refused() -> None:
    base = json.loads((default_catalogue().program_for("practice")).model_dump_json())
    with pytest.raises(ValueError, match="domain weights"):
        Program.model_validate({**base, "domains": [{"name": "A", "weight": 0.5}]})
    with pytest.raises(ValueError, match="two programs"):
        program = Program.model_validate(base)
        Catalogue([program, program.model_copy(update={"program": "copy"})])
