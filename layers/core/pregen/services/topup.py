"""The cron's inventory top-up: every learner active in the last N days gets each exam type they use topped up,
and the exam counts their record still holds folded into the analytics counters.

Bounded and resumable: the activity index is read one page (``topup_page_size`` learners) at a time, and after
every page the run's cursor and running totals are saved. When the time budget (under the Lambda timeout) is
spent the run stops cleanly with ``complete: false``; the next invocation (the resume schedule, the 6-hourly
schedule or the ops trigger) continues from the cursor. Top-ups are idempotent, so a page done twice after a
crash only costs reads, and a second full run in a row enqueues nothing.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from pregen.domain.errors import OverAllowance, RateLimited
from pregen.domain.keys import new_job_id
from pregen.domain.models import Caller, Priority, Role
from pregen.observability import logger
from pregen.services.activity import partitions
from pregen.services.exams import replenish

if TYPE_CHECKING:
    from pregen.ports import RunState
    from pregen.services.exams import ExamDeps

TASK = "inventory_topup"
RESUME_TASK = "inventory_topup_resume"
_TOTALS = ("learners_seen", "exams_enqueued", "skipped", "not_charged", "failed")


def topup_inventory(deps: ExamDeps, runs: RunState, *, resume_only: bool = False) -> dict[str, Any]:
    started = time.monotonic()
    now = deps.clock.now()
    state = runs.get(TASK)
    version = int(state["version"]) if state else 0
    unfinished = (
        state is not None
        and not state.get("finished")
        and now - float(state["started_at"]) < (deps.policy.topup_interval_hours * 3600)
    )
    if not unfinished:
        if resume_only:
            return {"task": RESUME_TASK, "resumed": False, "reason": "no unfinished run"}
        state = {
            "run_id": new_job_id(),
            "started_at": now,
            "days": deps.policy.activity_days,
            "shards": deps.activity.shards(),
            "position": 0,
            "start_key": None,
            "finished": False,
            **dict.fromkeys(_TOTALS, 0),
        }
        if not runs.save(TASK, state, version, now):
            return {"task": TASK, "started": False, "reason": "another run is starting"}
        version += 1
    assert state is not None
    for name in _TOTALS:  # a run saved by an earlier release lacks the totals added since
        state.setdefault(name, 0)
    parts = list(partitions(float(state["started_at"]), int(state["days"]), int(state["shards"])))
    seen: set[str] = set()
    pages = 0
    # At least one page per invocation, so even a budget spent before the first page makes progress.
    while state["position"] < len(parts) and (
        pages == 0 or time.monotonic() - started < deps.policy.topup_budget_seconds
    ):
        pages += 1
        day, shard = parts[state["position"]]
        page = deps.activity.page(day, shard, state["start_key"], deps.policy.topup_page_size)
        for sub, exam_types in page.learners:
            if sub in seen:  # active on several days of the window: once per invocation is enough
                continue
            seen.add(sub)
            state["learners_seen"] += 1
            _top_up_learner(sub, exam_types, deps, state)
        state["start_key"] = page.next_key
        if page.next_key is None:
            state["position"] += 1
        state["finished"] = state["position"] >= len(parts)
        if not runs.save(TASK, state, version, deps.clock.now()):
            logger.warning("top-up run taken over by another invocation", run_id=state["run_id"])
            return _summary(state, parts, interrupted=True)
        version += 1
    summary = _summary(state, parts)
    logger.info("inventory top-up", **summary)
    return summary


def _top_up_learner(sub: str, exam_types: list[str], deps: ExamDeps, state: dict[str, Any]) -> None:
    try:
        # The exam counters a learner's last changes left in their record (a claim folds them only once they are a
        # minute old): every learner with any is active, so this pass folds them all within a run.
        deps.inventory.fold_pending(sub, deps.clock.now())
    except Exception:
        logger.exception("folding the exam counters failed", owner=sub)
    for exam_type in exam_types:
        if exam_type not in deps.catalogue.exam_types:  # a program since removed
            state["skipped"] += 1
            continue
        try:
            # Charged to the learner whose inventory it tops up, at the student role's allowance (the cron does not
            # see their token): a learner past it keeps what they have until their window frees up.
            result = replenish(
                sub,
                exam_type,
                Priority.WARMING,
                deps,
                correlation_id=f"topup-{state['run_id']}",
                payer=Caller(sub=sub, role=Role.STUDENT),
            )
        except (RateLimited, OverAllowance):
            state["not_charged"] += 1
            continue
        except Exception:
            logger.exception("top-up failed", owner=sub, exam_type=exam_type)
            state["failed"] += 1
            continue
        if result.created:
            state["exams_enqueued"] += len(result.created)
        else:
            state["skipped"] += 1


def _summary(state: dict[str, Any], parts: list[tuple[str, int]], *, interrupted: bool = False) -> dict[str, Any]:
    return {
        "task": TASK,
        "run_id": state["run_id"],
        "complete": bool(state["finished"]),
        "interrupted": interrupted,
        "partitions_done": state["position"],
        "partitions": len(parts),
        **{name: state[name] for name in _TOTALS},
    }
