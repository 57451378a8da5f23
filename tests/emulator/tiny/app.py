"""The tiny app's handlers: POST /notes queues a note; the queue's consumer counts the notes in the table and
puts an event on the bus; the rule's function writes down what it heard."""

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
        boto3.client("events").put_events(
            Entries=[
                {
                    "Source": "tiny",
                    "DetailType": "Note Counted",
                    "Detail": json.dumps({"text": text}),
                    "EventBusName": os.environ["NOTES_BUS"],
                }
            ]
        )
    return {"batchItemFailures": []}


def heard(event: dict[str, Any], context: Any) -> None:
    """A rule's target: EventBridge invokes it with the event, whose detail is an object."""
    boto3.client("dynamodb").put_item(
        TableName=os.environ["NOTES_TABLE"],
        Item={"pk": {"S": "heard#" + event["detail"]["text"]}, "type": {"S": event["detail-type"]}},
    )
