"""Operations against a Pregen stack: the local one (``.local/stack.json``) or a deployed one (CloudFormation outputs).

The ``pregen`` command (cli.py) prints what these return; tests call them directly.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pregen_tools import tokens

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from pathlib import Path

# Lane → (queue logical id, dead-letter queue logical id), as in template.yaml.
LANES = {
    "interactive": ("InteractiveQueue", "InteractiveDeadLetterQueue"),
    "background": ("BackgroundQueue", "BackgroundDeadLetterQueue"),
}
_OUTPUT_FOR_QUEUE = {
    "InteractiveQueue": "InteractiveQueueUrl",
    "BackgroundQueue": "BackgroundQueueUrl",
    "InteractiveDeadLetterQueue": "InteractiveDeadLetterQueueUrl",
    "BackgroundDeadLetterQueue": "BackgroundDeadLetterQueueUrl",
}


class OpsError(RuntimeError):
    """Something the operator must act on; the CLI prints it and exits 1."""


@dataclass
class Target:
    """Where the commands act: the API's base URL, the queues, and how to authenticate."""

    api_url: str
    queue_urls: dict[str, str]
    token: str
    local: bool
    session: Any = None
    aws_endpoint: str | None = None
    _sqs: Any = field(default=None, repr=False)

    @property
    def sqs(self) -> Any:
        if self._sqs is None:
            import boto3

            if self.local:
                self._sqs = boto3.client(
                    "sqs",
                    endpoint_url=self.aws_endpoint,
                    region_name="us-east-1",
                    aws_access_key_id="testing",
                    aws_secret_access_key="testing",
                )
            else:
                self._sqs = (self.session or boto3.Session()).client("sqs")
        return self._sqs

    # -- the HTTP API ------------------------------------------------------------------------------------------------

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.api_url.rstrip("/") + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                return exc.code, json.loads(raw or b"null")
            except ValueError:
                return exc.code, {"message": raw.decode(errors="replace")}
        except urllib.error.URLError as exc:
            raise OpsError(f"cannot reach the API at {self.api_url}: {exc.reason}") from exc


def local_target(state_file: Path) -> Target:
    if not state_file.exists():
        raise OpsError(f"no local stack state at {state_file}: start it with `make run` (or pass --stack NAME)")
    state = json.loads(state_file.read_text())
    return Target(
        api_url=state["url"],
        queue_urls=state["queues"],
        token=tokens.mint("ops", "admin"),
        local=True,
        aws_endpoint=state["aws_endpoint"],
    )


def deployed_target(stack_name: str, *, profile: str | None, region: str | None, token: str | None) -> Target:
    """A deployed stack, found by its CloudFormation outputs (credentials from the profile, as the AWS CLI does)."""
    import boto3

    if not token:
        raise OpsError("a deployed stack needs an admin JWT: pass --token or set PREGEN_TOKEN")
    session = boto3.Session(profile_name=profile, region_name=region)
    stacks = session.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    missing = [name for name in ["ApiUrl", *_OUTPUT_FOR_QUEUE.values()] if name not in outputs]
    if missing:
        raise OpsError(f"stack {stack_name} lacks the outputs {', '.join(missing)}")
    return Target(
        api_url=outputs["ApiUrl"],
        queue_urls={logical: outputs[output] for logical, output in _OUTPUT_FOR_QUEUE.items()},
        token=token,
        local=False,
        session=session,
    )


def resolve_target(args: Any) -> Target:
    if getattr(args, "stack", None):
        return deployed_target(
            args.stack,
            profile=args.profile,
            region=args.region,
            token=args.token or os.environ.get("PREGEN_TOKEN"),
        )
    return local_target(args.state_file)


# -- queues ---------------------------------------------------------------------------------------------------------


def queue_status(target: Target) -> list[dict[str, Any]]:
    rows = []
    for lane, (queue, dlq) in LANES.items():
        for name, logical in ((lane, queue), (f"{lane} DLQ", dlq)):
            attrs = target.sqs.get_queue_attributes(
                QueueUrl=target.queue_urls[logical],
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed",
                ],
            )["Attributes"]
            rows.append(
                {
                    "queue": name,
                    "visible": int(attrs.get("ApproximateNumberOfMessages", 0)),
                    "in_flight": int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)),
                    "delayed": int(attrs.get("ApproximateNumberOfMessagesDelayed", 0)),
                }
            )
    return rows


def _lanes(lane: str | None) -> list[str]:
    if lane is None:
        return list(LANES)
    if lane not in LANES:
        raise OpsError(f"unknown lane {lane!r}: use {' or '.join(LANES)}")
    return [lane]


def dlq_list(target: Target, lane: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
    """Peek at dead-lettered messages without taking them (the cron's dead_letters task looks the same way)."""
    from pregen.adapters.queue import SqsJobQueue

    peeker = SqsJobQueue({}, client=target.sqs)
    found: dict[str, dict[str, Any]] = {}
    for name in _lanes(lane):
        for letter in peeker.peek(target.queue_urls[LANES[name][1]], limit - len(found)):
            body = letter.body
            found[letter.message_id] = {
                "lane": name,
                "message_id": letter.message_id,
                "job_id": body.get("job_id"),
                "key": body.get("key"),
                "kind": (body.get("request") or {}).get("kind"),
                "correlation_id": body.get("correlation_id"),
                "receives": letter.receives,
                "sent_at": letter.sent_at,
            }
        if len(found) >= limit:
            break
    rows = list(found.values())[:limit]
    for row in rows:  # why it failed: the job keeps its reason
        if row["job_id"]:
            status, job = target.call("GET", f"/v1/jobs/{row['job_id']}")
            row["status"] = job.get("status") if status == 200 else None
            row["reason"] = job.get("reason") if status == 200 else None
    return rows


def dlq_redrive(target: Target, lane: str | None = None) -> list[dict[str, Any]]:
    """Move dead-lettered messages back to their lane's queue.

    On AWS this starts a StartMessageMoveTask per DLQ (SQS moves the messages back to the queues they came from).
    On the local stack the same move is done by hand, message by message: send to the lane's queue with the
    same body and attributes, then delete from the DLQ (moto does not run message move tasks).
    """
    results = []
    for name in _lanes(lane):
        queue_url, dlq_url = (target.queue_urls[logical] for logical in LANES[name])
        if not target.local:
            arn = target.sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            task = target.sqs.start_message_move_task(SourceArn=arn)
            results.append({"lane": name, "task": task.get("TaskHandle"), "moved": None})
            continue
        moved = 0
        while True:
            messages = target.sqs.receive_message(
                QueueUrl=dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=30, MessageAttributeNames=["All"]
            ).get("Messages", [])
            if not messages:
                break
            for message in messages:
                attributes = {
                    k: {"DataType": v["DataType"], "StringValue": v["StringValue"]}
                    for k, v in message.get("MessageAttributes", {}).items()
                    if "StringValue" in v
                }
                target.sqs.send_message(QueueUrl=queue_url, MessageBody=message["Body"], MessageAttributes=attributes)
                target.sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
                moved += 1
        results.append({"lane": name, "task": None, "moved": moved})
    return results


# -- API-backed commands --------------------------------------------------------------------------------------------


def _ok(status: int, body: Any, what: str) -> Any:
    if status >= 400:
        # Our errors are {"error": {"code", "message"}}; the JWT authorizer's 401 is {"message"}.
        message = (body.get("error") or {}).get("message") or body.get("message") if isinstance(body, dict) else body
        raise OpsError(f"{what} failed: HTTP {status}: {message}")
    return body


def stats(target: Target, from_day: str | None = None, to_day: str | None = None) -> dict[str, Any]:
    query = "&".join(f"{k}={v}" for k, v in (("from", from_day), ("to", to_day)) if v)
    status, body = target.call("GET", "/v1/analytics" + (f"?{query}" if query else ""))
    result: dict[str, Any] = _ok(status, body, "GET /v1/analytics")
    return result


def job_show(target: Target, job_id: str) -> dict[str, Any]:
    status, body = target.call("GET", f"/v1/jobs/{job_id}")
    if status == 404:
        raise OpsError(f"no job {job_id}")
    job: dict[str, Any] = _ok(status, body, f"GET /v1/jobs/{job_id}")
    if isinstance(job.get("content"), dict):  # the body is long: show its figures, not the lesson
        job["content"] = {k: v for k, v in job["content"].items() if k not in {"body", "content"}}
    return job


def warm(target: Target, grade: int, subject: str | None) -> list[str]:
    """POST /v1/warm (the warming feature's route) and return the job ids it queued.

    There is no fallback to /v1/pregenerate: what to warm (skills x question types per grade and subject) is the
    warming configuration's business, which lives with that route. If the route is missing, say so.
    """
    body: dict[str, Any] = {"grade": str(grade)}
    if subject:
        body["subjects"] = [subject]
    status, answer = target.call("POST", "/v1/warm", body)
    if status in {404, 405}:
        raise OpsError(
            "this stack has no POST /v1/warm route (the warming feature is not deployed here); "
            "nothing was queued. Pre-generate specific requests with POST /v1/pregenerate instead."
        )
    answer = _ok(status, answer, "POST /v1/warm")
    results = answer.get("results") or answer.get("jobs") or []
    ids = [r["job_id"] for r in results if isinstance(r, dict) and r.get("job_id")]
    ids += [i for i in answer.get("job_ids", []) if isinstance(i, str)]
    return list(dict.fromkeys(ids))


def follow_jobs(
    target: Target,
    job_ids: Iterable[str],
    *,
    timeout_s: float = 600,
    interval_s: float = 1.0,
    on_progress: Callable[[int, int, int], None] | None = None,
) -> dict[str, str]:
    """Poll jobs until each is done or failed; ``on_progress(finished, failed, total)`` after every round."""
    pending = list(job_ids)
    final: dict[str, str] = {}
    total = len(pending)
    deadline = time.monotonic() + timeout_s
    while pending and time.monotonic() < deadline:
        for job_id in list(pending):
            status, job = target.call("GET", f"/v1/jobs/{job_id}")
            state = job.get("status") if status == 200 and isinstance(job, dict) else None
            if state in {"done", "failed"}:
                final[job_id] = state
                pending.remove(job_id)
        if on_progress:
            on_progress(len(final), sum(1 for s in final.values() if s == "failed"), total)
        if pending:
            time.sleep(interval_s)
    for job_id in pending:
        final[job_id] = "pending"
    return final


def cron_run(
    target: Target,
    task: str,
    *,
    wait: bool = True,
    timeout_s: float = 900,
    interval_s: float = 2.0,
    on_status: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """POST /v1/ops/cron/{task} (it answers 202 with a run at once), then follow the run's Location until it is
    done or failed (``on_status`` on every change); the run as last seen ("pending" past ``timeout_s``)."""
    status, answer = target.call("POST", f"/v1/ops/cron/{task}")
    run: dict[str, Any] = _ok(status, answer, f"POST /v1/ops/cron/{task}")
    location = f"/v1/ops/cron/runs/{run['run_id']}"
    seen = None
    deadline = time.monotonic() + timeout_s
    while True:
        if on_status and run.get("status") != seen:
            on_status(run)
            seen = run.get("status")
        if not wait or run.get("status") in {"done", "failed"}:
            return run
        if time.monotonic() >= deadline:
            return {**run, "status": "pending"}
        time.sleep(interval_s)
        status, answer = target.call("GET", location)
        run = _ok(status, answer, f"GET {location}")


def progress_bar(finished: int, failed: int, total: int, width: int = 30) -> str:
    """``[#########.....] 9/15 (1 failed)``: a few lines of our own rather than a dependency for one bar."""
    filled = width * finished // total if total else width
    bar = "#" * filled + "." * (width - filled)
    extra = f" ({failed} failed)" if failed else ""
    return f"[{bar}] {finished}/{total}{extra}"


def print_progress(finished: int, failed: int, total: int) -> None:
    end = "\n" if finished == total else ""
    sys.stderr.write("\r" + progress_bar(finished, failed, total) + end)
    sys.stderr.flush()


# -- terminal tables ------------------------------------------------------------------------------------------------


def table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    if not rows:
        return "(none)"
    columns = columns or list(rows[0])
    cells = [[("" if row.get(c) is None else str(row.get(c))) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(out)


def stats_text(figures: dict[str, Any]) -> str:
    """The analytics as terminal tables: headline figures, per kind, per day, queues."""
    f = figures
    headline = [
        {"figure": "window", "value": f"{figures['from']} .. {figures['to']}"},
        {"figure": "hit rate", "value": f"{f['hitRate']:.1%} ({f['hits']} hits, {f['misses']} misses)"},
        {"figure": "generated", "value": figures["totalGenerated"]},
        {"figure": "used / unused", "value": f"{figures['totalUsed']} / {figures['totalUnused']}"},
        {"figure": "used %", "value": figures["usedPercentage"]},
        {"figure": "expired / expiring 24 h", "value": f"{figures['totalExpired']} / {figures['expiringWithin24h']}"},
        {"figure": "cost USD / saved USD", "value": f"{figures['costUsd']} / {figures['costSavedUsd']}"},
        {"figure": "diagnostic / practice exams", "value": f"{f['diagnosticCount']} / {f['practiceCount']}"},
    ]
    kinds = sorted(set(figures["generatedByKind"]) | set(figures["hitsByKind"]) | set(figures["missesByKind"]))
    per_kind = [
        {
            "kind": k,
            "hits": figures["hitsByKind"].get(k, 0),
            "misses": figures["missesByKind"].get(k, 0),
            "hit rate": figures["hitRateByKind"].get(k, 0),
            "generated": figures["generatedByKind"].get(k, 0),
            "p50 ms": (figures["latencyMs"].get(k) or {}).get("p50"),
            "p95 ms": (figures["latencyMs"].get(k) or {}).get("p95"),
            "cost USD": figures["costUsdByKind"].get(k, 0),
        }
        for k in kinds
    ]
    queues = [{"queue": name, **depth} for name, depth in figures["queues"].items()]
    failures = [{"reason": r, "count": n} for r, n in figures["failuresByReason"].items()]
    return "\n\n".join(
        [
            table(headline),
            table(per_kind),
            table(figures["daily"]),
            table(queues),
            "failures\n" + table(failures),
        ]
    )
