"""One DynamoDB and one SQS client per process, shared by every adapter a function builds."""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3

from pregen.wiring.cache import once

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sqs import SQSClient


@once
def dynamodb() -> DynamoDBClient:
    return boto3.client("dynamodb")


@once
def sqs() -> SQSClient:
    return boto3.client("sqs")
