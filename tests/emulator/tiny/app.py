"""The tiny app's handlers: POST /notes queues a note; the queue's consumer counts the notes in the table."""

from __future__ import annotations

import json
import os
from typing import Any

import boto3


def note(event: dict[str, Any], context: Any) -> dict[str, Any]:
    text = json.loads(event.get("body") or "{}").get("text", "")
    boto3.client("sqs").send_message(QueueUrl=os.environ["NOTES_QUEUE_URL"], MessageBody=json.dumps({"text": text}))
    return {"statusCode": 202, "body": json.dumps({"greeting": os.environ["GREETING"], "queued": text})}


def count(event: dict[str, Any], context: Any) -> dict[str, Any]:
    table = os.environ["NOTES_TABLE"]
    for record in event["Records"]:
        text = json.loads(record["body"])["text"]
        boto3.client("dynamodb").update_item(
            TableName=table,
            Key={"pk": {"S": text}},
            UpdateExpression="ADD seen :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
        )
    return {"batchItemFailures": []}
