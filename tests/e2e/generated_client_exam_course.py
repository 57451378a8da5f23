"""Run by tests/e2e/test_generated_clients.py in .venv-client, with the generated client importable as
``pregen_client``: a learner warms their diagnostic inventory, claims an exam (202 until one is ready), answers
every question and gets the graded attempt; a teacher asks for a course and follows it until it is ready. Prints what
it saw as JSON; the test judges it. Usage: python generated_client_exam_course.py <stack url> <student> <teacher>
"""

from __future__ import annotations

import json
import sys
import time

from pregen_client import AuthenticatedClient
from pregen_client.api.courses import create_course, get_course
from pregen_client.api.exams import claim_exam, submit_exam_answers, warm_exams
from pregen_client.models import (
    AnswersRequest,
    CourseAcceptedBody,
    CourseBody,
    CourseRequest,
    ExamBody,
    ExamWaitingBody,
    GradedAttemptBody,
    WarmExamsRequest,
)


def exam(url: str, token: str) -> dict[str, object]:
    client = AuthenticatedClient(base_url=url, token=token, timeout=30)  # type: ignore[arg-type]
    warmed = warm_exams.sync_detailed(client=client, body=WarmExamsRequest(exam_types=["diagnostic"]))
    claimed: ExamBody | None = None
    waits = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        answer = claim_exam.sync_detailed("diagnostic", client=client)
        if isinstance(answer.parsed, ExamBody):
            claimed = answer.parsed
            break
        assert isinstance(answer.parsed, ExamWaitingBody), answer.content
        waits += 1
        time.sleep(1)
    assert claimed is not None, "no exam was ready in time"
    questions = [q for section in claimed.exam.to_dict()["sections"] for q in section["questions"]]
    graded = submit_exam_answers.sync_detailed(
        claimed.exam_id, client=client, body=AnswersRequest(answers=[0 for _ in questions])
    )
    attempt = graded.parsed
    assert isinstance(attempt, GradedAttemptBody), graded.content
    return {
        "warm_status": int(warmed.status_code),
        "waits": waits,
        "view": claimed.view.value,
        "questions": len(questions),
        "answer_fields": sorted({k for q in questions for k in q if k in {"answer_index", "explanation"}}),
        "graded": {"status": int(graded.status_code), "total": attempt.total, "results": len(attempt.results)},
    }


def course(url: str, token: str) -> dict[str, object]:
    client = AuthenticatedClient(base_url=url, token=token, timeout=30)  # type: ignore[arg-type]
    body = CourseRequest(subject="Astronomy for the generated client", grade="10", modules=2, lessons_per_module=2)
    asked = create_course.sync_detailed(client=client, body=body)
    accepted = asked.parsed
    assert isinstance(accepted, CourseAcceptedBody), asked.content
    read: CourseBody | None = None
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        got = get_course.sync_detailed(accepted.course_id, client=client)
        assert isinstance(got.parsed, CourseBody), got.content
        read = got.parsed
        if read.status.value in {"ready", "partial", "failed"}:
            break
        time.sleep(1)
    assert read is not None
    return {
        "asked_status": int(asked.status_code),
        "status": read.status.value,
        "modules": len(read.modules),
        "parts": {"total": read.parts.total, "done": read.parts.done},
    }


if __name__ == "__main__":
    url, student, teacher = sys.argv[1:4]
    print(json.dumps({"exam": exam(url, student), "course": course(url, teacher)}))
