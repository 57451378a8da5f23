"""What a first `sam deploy` needs from template.yaml, checked on the template with its conditions applied
(aws_emulator.template resolves Fn::If, Conditions and AWS::NoValue for the parameters given)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from aws_emulator.template import Template, load_template

TEMPLATE = load_template()
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
RATE = re.compile(r"^rate\((1 (minute|hour|day)|([2-9]|[1-9]\d+) (minutes|hours|days))\)$")


def resolved(logical_id: str, overrides: dict[str, str] | None = None) -> dict[str, Any]:
    """A resource's properties as deployed with these parameters."""
    return dict(Template(TEMPLATE, overrides=overrides).resolve(RESOURCES[logical_id]["Properties"]))


def test_cloudwatch_may_publish_to_the_encrypted_alarm_topic() -> None:
    # Alarms cannot publish to a topic under the AWS-managed SNS key: the topic uses a key of ours...
    assert RESOURCES["AlarmTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "AlarmKey"}
    key = RESOURCES["AlarmKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    # ...whose policy lets CloudWatch generate data keys and decrypt
    (grant,) = [s for s in key["KeyPolicy"]["Statement"] if s["Principal"].get("Service") == "cloudwatch.amazonaws.com"]
    assert set(grant["Action"]) >= {"kms:GenerateDataKey*", "kms:Decrypt"}


def test_a_poison_batch_on_the_content_stream_cannot_block_its_shard() -> None:
    events = RESOURCES["UsageAggregatorFunction"]["Properties"]["Events"]
    (stream,) = [e["Properties"] for e in events.values() if e["Type"] == "DynamoDB"]
    assert 0 < stream["MaximumRetryAttempts"] <= 10
    assert stream["BisectBatchOnFunctionError"] is True
    assert 60 <= stream["MaximumRecordAgeInSeconds"] < 86_400  # less than the stream keeps records
    destination = stream["DestinationConfig"]["OnFailure"]["Destination"]
    assert destination == {"Fn::GetAtt": ["UsageStreamFailureQueue", "Arn"]}
    # The queue's depth is alarmed, and the aggregator may send there
    alarmed = [
        a["Properties"]["Dimensions"][0]["Value"]
        for a in RESOURCES.values()
        if a["Type"] == "AWS::CloudWatch::Alarm" and a["Properties"].get("Namespace") == "AWS/SQS"
    ]
    assert {"Fn::GetAtt": ["UsageStreamFailureQueue", "QueueName"]} in alarmed
    policies = RESOURCES["UsageAggregatorFunction"]["Properties"]["Policies"]
    assert {"SQSSendMessagePolicy": {"QueueName": {"Fn::GetAtt": ["UsageStreamFailureQueue", "QueueName"]}}} in policies


@pytest.mark.parametrize("hours", range(1, 169))
def test_every_allowed_top_up_interval_is_a_valid_rate_expression(hours: int) -> None:
    spec = TEMPLATE["Parameters"]["TopUpIntervalHours"]
    assert spec["MinValue"] == 1 and spec["MaxValue"] == 168
    events = resolved("CronFunction", {"TopUpIntervalHours": str(hours)})["Events"]
    expression = events["InventoryTopUp"]["Properties"]["ScheduleExpression"]
    assert RATE.match(expression), expression
    assert expression == ("rate(1 hour)" if hours == 1 else f"rate({hours} hours)")


def test_every_schedule_in_the_template_is_a_valid_expression() -> None:
    for function in ("CronFunction",):
        for event in resolved(function)["Events"].values():
            if event["Type"] == "ScheduleV2":
                assert RATE.match(event["Properties"]["ScheduleExpression"]), event


def _decrypts(function: str, overrides: dict[str, str] | None = None) -> list[Any]:
    statements = [s for p in resolved(function, overrides)["Policies"] if "Statement" in p for s in p["Statement"]]
    return [s["Resource"] for s in statements if "kms:Decrypt" in s["Action"]]


KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


@pytest.mark.parametrize("function", ["WorkerFunction", "CronFunction"])
def test_the_readers_of_secure_strings_may_decrypt_only_with_a_key_that_is_given(function: str) -> None:
    assert _decrypts(function) == []  # the AWS-managed aws/ssm key needs no grant
    assert _decrypts(function, {"ParameterKeyArn": KEY}) == [KEY]


def test_the_http_api_writes_access_logs_with_a_retention() -> None:
    settings = RESOURCES["HttpApi"]["Properties"]["AccessLogSettings"]
    assert settings["DestinationArn"] == {"Fn::GetAtt": ["HttpApiAccessLogGroup", "Arn"]}
    assert all(
        f"$context.{field}" in settings["Format"] for field in ("requestId", "status", "integrationErrorMessage")
    )
    assert RESOURCES["HttpApiAccessLogGroup"]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_every_skipped_scanner_finding_says_why() -> None:
    for name, resource in RESOURCES.items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert re.fullmatch(r"CKV_AWS_\d+", skip["id"]), name
            assert len(skip["comment"].split()) >= 8, f"{name} {skip['id']}: a reason, not a label"
