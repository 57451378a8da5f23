"""The global cap on generations at once, read from template.yaml: reserved concurrency and the lanes agree."""

from __future__ import annotations

from typing import Any

from aws_emulator.template import Template, load_template
from pregen.config.worker import WorkerSettings
from pregen.domain.limits import DEFAULT_RATE_LIMITS, RateLimits
from pregen.domain.models import Kind, Role

TEMPLATE = load_template()
PARAMETERS: dict[str, Any] = TEMPLATE["Parameters"]
WORKER: dict[str, Any] = TEMPLATE["Resources"]["WorkerFunction"]["Properties"]


def default(value: Any) -> int:
    """A template number: a literal, or a Ref to a parameter's default."""
    if isinstance(value, dict) and "Ref" in value:
        return int(PARAMETERS[value["Ref"]]["Default"])
    return int(value)


def worker(overrides: dict[str, str] | None = None) -> dict[str, Any]:
    """The worker's properties with the template's conditions applied, as CloudFormation would deploy them."""
    return dict(Template(TEMPLATE, overrides=overrides).resolve(WORKER))


def test_the_global_cap_is_the_lanes_100_and_reserved_concurrency_only_when_asked_for() -> None:
    # By default nothing is reserved: a first deploy works in an account with a small concurrency quota
    assert "ReservedConcurrentExecutions" not in worker()
    # Asked for, the reservation is the parameter
    assert worker({"GenerationCap": "100"})["ReservedConcurrentExecutions"] == "100"


def test_every_lane_has_a_maximum_concurrency_and_together_they_make_the_cap() -> None:
    # Every SQS event source of the worker (every lane, including any added later) must be capped...
    lanes = {name: e["Properties"] for name, e in WORKER["Events"].items() if e["Type"] == "SQS"}
    assert set(lanes) >= {"InteractiveLane", "BackgroundLane"}
    caps = {name: default(props["ScalingConfig"]["MaximumConcurrency"]) for name, props in lanes.items()}
    # ...and together they are the documented cap of 100 generations at once. A reservation, when one is asked for,
    # should equal that sum: more is unusable capacity, less throttles the event source mappings (messages bounce
    # back and burn receive counts). The parameter's description says so.
    assert sum(caps.values()) == 100
    assert "InteractiveConcurrency + BackgroundConcurrency" in " ".join(
        PARAMETERS["GenerationCap"]["Description"].split()
    )
    # The interactive lane keeps most of it: a learner who waits never queues behind warming.
    assert caps["InteractiveLane"] > caps["BackgroundLane"]


def test_default_rate_limits_in_the_template_match_the_documented_defaults() -> None:
    import json

    assert json.loads(PARAMETERS["SpendAllowances"]["Default"]) == DEFAULT_RATE_LIMITS
    # Allowances are dollars in the configuration, microdollars in the counters
    limits = RateLimits.model_validate({"student": {"minute": 1.5}})
    assert limits.for_role(Role.STUDENT).windows() == [("minute", 60, 1_500_000)]
    assert limits.for_role(Role.TEACHER).day == DEFAULT_RATE_LIMITS["teacher"]["day"]


def test_model_tiers_pick_a_model_per_kind_and_per_step() -> None:
    import json

    env = {
        "CONTENT_TABLE": "c-t",
        "JOBS_TABLE": "j-t",
        "COUNTERS_TABLE": "n-t",
        "INTERACTIVE_QUEUE_URL": "https://sqs/interactive",
        "BACKGROUND_QUEUE_URL": "https://sqs/background",
        "MODEL_TIERS": PARAMETERS["ModelTiers"]["Default"],
    }
    settings = WorkerSettings.from_env(env)
    # The template's defaults: complex content on the large model, simple on the small one
    assert settings.model_for(Kind.EXAM) == settings.model_large
    assert settings.model_for(Kind.LESSON) == settings.model_small
    assert settings.model_for(Kind.QUESTION_SET) == settings.model_small
    # A step has its own tier when configured, and falls back to its kind's otherwise
    tiers = {"exam": "large", "exam.title": "small", "question_set": "large"}
    settings = WorkerSettings.from_env({**env, "MODEL_TIERS": json.dumps(tiers)})
    assert settings.model_for(Kind.EXAM, "title") == settings.model_small
    assert settings.model_for(Kind.EXAM, "sections") == settings.model_large
    assert settings.model_for(Kind.QUESTION_SET) == settings.model_large
