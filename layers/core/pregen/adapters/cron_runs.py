"""Operators' runs of cron tasks (jobs table): the run record, and the hold that keeps one run per task at a time."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pregen.adapters.ddb import conditional, conditional_transaction, dynamodb_client, serialize, string, whole
from pregen.domain.cron_runs import CronRun, RunStatus

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# A summary larger than this is kept in part (an item is at most 400 KB; warm_all's per-grade list is the largest).
MAX_RESULT_CHARS = 100_000


class DynamoCronRuns:
    """``pk`` = ``cronrun#<run_id>``, ``sk`` = ``run``: one run; ``pk`` = ``cronrun#task#<task>``, ``sk`` = ``hold``:
    the task's run that has not ended, until ``held_until`` (a run whose invocation died lets go then)."""

    def __init__(self, table_name: str, client: DynamoDBClient | None = None, ttl_days: int = 3) -> None:
        self.table = table_name
        self.client = client or dynamodb_client()
        self.ttl_seconds = ttl_days * 86_400

    @staticmethod
    def _key(run_id: str) -> dict[str, Any]:
        return {"pk": string(f"cronrun#{run_id}"), "sk": string("run")}

    @staticmethod
    def _hold_key(task: str) -> dict[str, Any]:
        return {"pk": string(f"cronrun#task#{task}"), "sk": string("hold")}

    def start(self, run: CronRun, held_until: float) -> CronRun:
        """Write ``run`` and make it its task's run, unless another run of the task holds it: then that run."""
        for _ in range(3):  # the holder may end between the refused write and the read
            written = conditional_transaction(
                self.client,
                [
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": {
                                **self._hold_key(run.task),
                                "run_id": string(run.run_id),
                                "held_until": whole(held_until),
                                "expires_at": whole(held_until),
                            },
                            "ConditionExpression": "attribute_not_exists(pk) OR held_until < :now",
                            "ExpressionAttributeValues": {":now": whole(run.requested_at)},
                        }
                    },
                    {"Put": {"TableName": self.table, "Item": self._item(run)}},
                ],
            )
            if written:
                return run
            hold = self.client.get_item(TableName=self.table, Key=self._hold_key(run.task), ConsistentRead=True)
            holder = self.get(hold["Item"]["run_id"]["S"]) if "Item" in hold else None
            if holder is not None:
                return holder
        raise RuntimeError(f"could not start or join a run of {run.task!r}")  # three races lost in a row

    def get(self, run_id: str) -> CronRun | None:
        item = self.client.get_item(TableName=self.table, Key=self._key(run_id), ConsistentRead=True).get("Item")
        if item is None:
            return None
        data = json.loads(item["run"]["S"])
        return CronRun.model_validate(data)

    def mark_running(self, run: CronRun) -> bool:
        """queued → running (``run`` carries started_at and deadline), its task held until that deadline; False
        when it is not queued any more (another delivery took it)."""
        return conditional_transaction(
            self.client,
            [
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": self._item(run),
                        "ConditionExpression": "#status = :queued",
                        "ExpressionAttributeNames": {"#status": "status"},
                        "ExpressionAttributeValues": {":queued": string(RunStatus.QUEUED.value)},
                    }
                },
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": self._hold_key(run.task),
                        "UpdateExpression": "SET held_until = :until, expires_at = :until",
                        "ConditionExpression": "run_id = :run",
                        "ExpressionAttributeValues": {
                            ":until": whole((run.deadline or run.requested_at) + 1),
                            ":run": string(run.run_id),
                        },
                    }
                },
            ],
        )

    def finish(self, run: CronRun) -> None:
        """Record the run's end (done or failed) and let go of its task."""
        if run.result is not None:
            text = json.dumps(run.result, separators=(",", ":"), default=str)
            if len(text) > MAX_RESULT_CHARS:
                run = run.model_copy(update={"result": {"truncated": True, "summary": text[:MAX_RESULT_CHARS]}})
        self.client.put_item(TableName=self.table, Item=self._item(run))
        conditional(
            self.client.delete_item,
            TableName=self.table,
            Key=self._hold_key(run.task),
            ConditionExpression="run_id = :run",
            ExpressionAttributeValues={":run": string(run.run_id)},
        )

    def _item(self, run: CronRun) -> dict[str, Any]:
        return {
            **self._key(run.run_id),
            **serialize({"status": run.status.value, "task": run.task}),
            "run": string(run.model_dump_json(exclude_none=True)),
            "expires_at": whole(run.requested_at + self.ttl_seconds),
        }
