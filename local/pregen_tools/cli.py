"""The ``pregen`` console command: dev tokens for the local stack, and the operators' commands.

Every ops command acts on the local stack (``.local/stack.json``, written by ``make run``) unless
``--stack NAME`` names a deployed CloudFormation stack; then ``--profile``/``--region`` pick the AWS credentials
(as the AWS CLI does) and ``--token`` (or ``PREGEN_TOKEN``) is an admin JWT from the identity provider.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pregen_tools import capacity_report, ops, tokens
from pregen_tools.local_stack import STATE_FILE


def _target_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("target (default: the local stack)")
    group.add_argument("--state-file", type=Path, default=STATE_FILE, help="the local stack's state file")
    group.add_argument("--stack", help="a deployed stack's CloudFormation name (instead of the local stack)")
    group.add_argument("--profile", help="AWS profile for --stack")
    group.add_argument("--region", help="AWS region for --stack")
    group.add_argument("--token", help="admin JWT for --stack (default: $PREGEN_TOKEN)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pregen", description="Pregen tooling for the local stack and operators")
    sub = parser.add_subparsers(dest="command", required=True)

    token = sub.add_parser("token", help="print a dev JWT that the local stack accepts")
    token.add_argument("--sub", required=True, help="the learner's id (the token's subject)")
    token.add_argument("--role", default="student", choices=tokens.ROLES)
    token.add_argument("--ttl", type=int, default=3600, help="seconds until it expires")
    token.add_argument("--grade", help="the learner's grade claim (e.g. 5): warming at login reads it")
    token.add_argument(
        "--subject", action="append", dest="subjects", metavar="ID", help="a subjects claim entry (repeatable)"
    )

    queue = sub.add_parser("queue", help="queue depths")
    queue_sub = queue.add_subparsers(dest="action", required=True)
    _target_options(queue_sub.add_parser("status", help="visible / in-flight / delayed messages per lane and DLQ"))

    dlq = sub.add_parser("dlq", help="dead-letter queues")
    dlq_sub = dlq.add_subparsers(dest="action", required=True)
    listing = dlq_sub.add_parser("list", help="peek at dead-lettered jobs and why they failed")
    listing.add_argument("--lane", choices=sorted(ops.LANES))
    listing.add_argument("--limit", type=int, default=20)
    _target_options(listing)
    redrive = dlq_sub.add_parser("redrive", help="move dead-lettered messages back to their lane")
    redrive.add_argument("--lane", choices=sorted(ops.LANES))
    _target_options(redrive)

    warm = sub.add_parser("warm", help="warm the cache for a grade (POST /v1/warm) and follow the jobs")
    warm.add_argument("--grade", type=int, required=True)
    warm.add_argument("--subject")
    warm.add_argument("--no-wait", action="store_true", help="queue and return without following the jobs")
    warm.add_argument("--timeout", type=float, default=600)
    _target_options(warm)

    stats = sub.add_parser("stats", help="the analytics as terminal tables (GET /v1/analytics)")
    stats.add_argument("--from", dest="from_day")
    stats.add_argument("--to", dest="to_day")
    stats.add_argument("--json", action="store_true", help="print the API's JSON instead")
    _target_options(stats)

    capacity = sub.add_parser(
        "capacity",
        help="requests, concurrency, DynamoDB, model tokens and dollars for a workload, and the limit that binds first",
        description="The capacity model (docs/CAPACITY.md): per day, average and peak hour, offline arithmetic.",
    )
    capacity_report.add_arguments(capacity)
    cron = sub.add_parser("cron", help="the cron function's tasks")
    cron_sub = cron.add_subparsers(dest="action", required=True)
    cron_start = cron_sub.add_parser(
        "run", help="start a task now (POST /v1/ops/cron/{task}: 202 with a run) and follow it until it ends"
    )
    cron_start.add_argument(
        "task", help="queue_report, collect_batches, inventory_topup, warm_all, dead_letters, catalogue_backfill ..."
    )
    cron_start.add_argument("--no-wait", action="store_true", help="start it and print the run without following")
    cron_start.add_argument("--timeout", type=float, default=900)
    _target_options(cron_start)
    job = sub.add_parser("job", help="jobs")
    job_sub = job.add_subparsers(dest="action", required=True)
    show = job_sub.add_parser("show", help="a job's status, reason, attempts and correlation id")
    show.add_argument("job_id")
    _target_options(show)
    return parser


def run(args: argparse.Namespace) -> int:
    if args.command == "token":
        try:
            print(tokens.mint(args.sub, args.role, ttl_seconds=args.ttl, grade=args.grade, subjects=args.subjects))
        except ValueError as exc:
            print(f"pregen token: {exc}", file=sys.stderr)
            return 2
        return 0
    target = ops.resolve_target(args)
    if args.command == "queue":
        print(ops.table(ops.queue_status(target)))
    elif args.command == "dlq" and args.action == "list":
        print(ops.table(ops.dlq_list(target, args.lane, args.limit)))
    elif args.command == "dlq":
        _redrive(target, args)
    elif args.command == "warm":
        return _warm(target, args)
    elif args.command == "stats":
        figures = ops.stats(target, args.from_day, args.to_day)
        print(json.dumps(figures, indent=2) if args.json else ops.stats_text(figures))
    elif args.command == "cron":
        return _cron_run(target, args)
    elif args.command == "job":
        print(json.dumps(ops.job_show(target, args.job_id), indent=2))
    return 0


def _redrive(target: ops.Target, args: argparse.Namespace) -> None:
    for row in ops.dlq_redrive(target, args.lane):
        if row["task"]:
            print(f"{row['lane']}: message move task started ({row['task']})")
        else:
            print(f"{row['lane']}: moved {row['moved']} message(s) back to the queue")


def _warm(target: ops.Target, args: argparse.Namespace) -> int:
    """POST /v1/warm, then follow its jobs unless --no-wait: 1 when any did not finish."""
    job_ids = ops.warm(target, args.grade, args.subject)
    print(f"queued {len(job_ids)} job(s)", file=sys.stderr)
    if not job_ids or args.no_wait:
        return 0
    final = ops.follow_jobs(target, job_ids, timeout_s=args.timeout, on_progress=ops.print_progress)
    not_done = {j: s for j, s in final.items() if s != "done"}
    for job_id, state in not_done.items():
        print(f"{job_id}: {state}", file=sys.stderr)
    return 1 if not_done else 0


def _cron_run(target: ops.Target, args: argparse.Namespace) -> int:
    """Start the task, follow its run, print the run (with the task's summary): 1 unless it ended done."""

    def said(run: dict[str, str]) -> None:
        joined = " (joined the task's run in progress)" if run.get("joined") else ""
        print(f"run {run['run_id']} of {run['task']}: {run['status']}{joined}", file=sys.stderr)

    run = ops.cron_run(target, args.task, wait=not args.no_wait, timeout_s=args.timeout, on_status=said)
    print(json.dumps(run, indent=2))
    if args.no_wait:
        return 0
    return 0 if run["status"] == "done" else 1


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "capacity":  # arithmetic only: no stack, no AWS
        print(capacity_report.run(args))
        return 0
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return run(args)
    except ops.OpsError as exc:
        print(f"pregen: {exc}", file=sys.stderr)
        return 1
    except (BotoCoreError, ClientError) as exc:  # no credentials, unknown stack, queue gone ...
        print(f"pregen: AWS said: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
