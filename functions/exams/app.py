"""exams: claim one of the caller's pre-generated exams, see their inventory, read a claimed exam (owner only;
students without the answers), answer it once and read the graded attempt."""

from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict, Field

from pregen.http.api import answer, build_resolver, current_caller, json_response
from pregen.http.presenters import (
    ExamBody,
    ExamsWarmedBody,
    ExamWaitingBody,
    GradedAttemptBody,
    InventoryBody,
    attempt_body,
    attempt_location,
    exam_body,
    exam_location,
    exam_waiting_body,
    exams_warmed_body,
    inventory_body,
    inventory_location,
)
from pregen.observability import logger, metrics
from pregen.services.exams import (
    Claimed,
    claim_exam,
    claimed_exam,
    graded_attempt,
    inventory_view,
    submit_answers,
    warm_inventory,
)
from pregen.wiring import snapstart
from pregen.wiring.exams import exam_deps
from pregen.wiring.identity import role_claim
from pregen.wiring.priming import prime

app = build_resolver(role_claim)
snapstart.register()  # a restored environment draws its own randomness and opens its own connections
prime(exam_deps)  # in init: settings, clients and service models, not in the first request

_EXAM_TYPE = r"^[a-z0-9_-]+$"
ExamTypeParam = Annotated[str, Path(min_length=1, max_length=40, pattern=_EXAM_TYPE)]
ExamIdParam = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
# One answer per question, in the exam's order; its shape by question type (pregen.domain.attempts): an option's
# index, true/false, a number, a text, a list of texts (one per blank), or null for a question left unanswered.
Blank = Annotated[str, Field(max_length=200)]
Answer = int | bool | float | Annotated[str, Field(max_length=2000)] | list[Blank] | None


class WarmExamsRequest(BaseModel):
    """Which exam types to start; omitted: every exam type of the shipped programs."""

    model_config = ConfigDict(extra="forbid")

    exam_types: list[Annotated[str, Field(min_length=1, max_length=40, pattern=_EXAM_TYPE)]] | None = Field(
        default=None, min_length=1, max_length=20
    )


class AnswersRequest(BaseModel):
    """A student's answers to a claimed exam: one per question, sections in order, their questions in order."""

    model_config = ConfigDict(extra="forbid")

    answers: list[Answer] = Field(min_length=1, max_length=250)


@app.post(
    "/v1/exams/warm",
    responses={202: answer("Accepted: each exam type's inventory, and what this call enqueued", ExamsWarmedBody)},
)
def warm(body: Annotated[WarmExamsRequest | None, Body()] = None) -> Any:
    """Start the caller's exam inventory now (the app calls this on dashboard and exam page loads); idempotent."""
    caller = current_caller(app)
    warmed = warm_inventory(
        caller, (body or WarmExamsRequest()).exam_types, exam_deps(), correlation_id=logger.get_correlation_id()
    )
    enqueued = sum(w.enqueued for w in warmed)
    metrics.add_metric(name="ExamsWarmed", unit=MetricUnit.Count, value=enqueued)
    logger.info("exams warmed", enqueued=enqueued, exam_types=[w.exam_type for w in warmed])
    return json_response(HTTPStatus.ACCEPTED, exams_warmed_body(warmed))


# The path variable is {exam} in all three routes (an exam type here, an exam id below): HTTP APIs refuse sibling
# routes whose variables at the same level have different names.
@app.post(
    "/v1/exams/<exam>/claim",
    responses={
        200: answer("A ready exam, now the caller's (Location: the exam)", ExamBody),
        202: answer("None ready: one is being generated (Location: the inventory, Retry-After)", ExamWaitingBody),
    },
)
def claim(exam: ExamTypeParam) -> Any:
    exam_type = exam
    deps = exam_deps()
    caller = current_caller(app)
    outcome = claim_exam(caller, exam_type, deps, correlation_id=logger.get_correlation_id())
    metrics.add_dimension("exam_type", exam_type)
    if isinstance(outcome, Claimed):
        metrics.add_metric(name="ExamClaimed", unit=MetricUnit.Count, value=1)
        logger.info("exam claimed", exam_id=outcome.exam.exam_id, exam_type=exam_type)
        headers = {"Location": exam_location(outcome.exam.exam_id)}
        return json_response(HTTPStatus.OK, exam_body(outcome.exam, caller.role), headers)
    metrics.add_metric(name="ExamClaimMiss", unit=MetricUnit.Count, value=1)
    logger.info("no exam ready", exam_type=exam_type, enqueued=len(outcome.replenished.created))
    headers = {"Location": inventory_location(exam_type), "Retry-After": str(outcome.retry_after_seconds)}
    body = exam_waiting_body(exam_type, outcome.slot, outcome.retry_after_seconds)
    return json_response(HTTPStatus.ACCEPTED, body, headers)


@app.get("/v1/exams/<exam>/inventory", responses={200: answer("The caller's exams of this type", InventoryBody)})
def inventory(exam: ExamTypeParam) -> Any:
    return json_response(HTTPStatus.OK, inventory_body(inventory_view(current_caller(app), exam, exam_deps())))


@app.get(
    "/v1/exams/<exam>",
    responses={200: answer("A claimed exam (owner only; a student's view has no answers)", ExamBody)},
)
def get_exam(exam: ExamIdParam) -> Any:
    caller = current_caller(app)
    return json_response(HTTPStatus.OK, exam_body(claimed_exam(exam, caller, exam_deps()), caller.role))


@app.post(
    "/v1/exams/<exam>/answers",
    responses={201: answer("Graded and kept (Location: the attempt)", GradedAttemptBody)},
)
def answers(exam: ExamIdParam, body: Annotated[AnswersRequest, Body()]) -> Any:
    """Grade the caller's answers to their claimed exam; the graded attempt is kept and listed with their data.

    400: an answer count that is not the exam's question count, or an answer of the wrong shape (an option index
    out of range); 404: not the caller's claimed exam; 409: the exam was already answered."""
    attempt = submit_answers(exam, current_caller(app), body.answers, exam_deps())
    metrics.add_metric(name="ExamGraded", unit=MetricUnit.Count, value=1)
    return json_response(HTTPStatus.CREATED, attempt_body(attempt), {"Location": attempt_location(exam)})


@app.get("/v1/exams/<exam>/attempt", responses={200: answer("The caller's graded attempt", GradedAttemptBody)})
def attempt(exam: ExamIdParam) -> Any:
    return json_response(HTTPStatus.OK, attempt_body(graded_attempt(exam, current_caller(app), exam_deps())))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
