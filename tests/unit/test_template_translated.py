"""The template as CloudFormation receives it: translated by the SAM transform (aws-sam-translator, as `sam deploy`
does), then its conditions applied for the parameters in question (aws_emulator.template)."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

from aws_emulator.template import ROOT, Template

REQUIRED = {"JwtIssuer": "https://cognito-idp.us-east-1.amazonaws.com/pool", "JwtAudience": "client"}


class _NoManagedPolicies:
    def load(self) -> dict[str, str]:
        return {}


@cache
def translated() -> dict[str, Any]:
    sam = yaml_parse((ROOT / "template.yaml").read_text())
    for name, resource in sam["Resources"].items():  # what `sam package` does: code goes to S3
        for key in ("CodeUri", "ContentUri"):
            if key in resource.get("Properties", {}):
                resource["Properties"][key] = f"s3://artifacts/{name}.zip"
    result: dict[str, Any] = transform(sam, dict(REQUIRED), _NoManagedPolicies())
    return result


def deployed(logical_id: str, parameters: dict[str, str] | None = None) -> dict[str, Any]:
    """A resource's properties in the translated template, with the conditions applied."""
    cfn = translated()
    return dict(
        Template(cfn, overrides={**REQUIRED, **(parameters or {})}).resolve(cfn["Resources"][logical_id]["Properties"])
    )


@pytest.fixture(autouse=True)
def _region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # the transform fills in pseudo parameters


def _of_type(kind: str) -> dict[str, Any]:
    return {k: v for k, v in translated()["Resources"].items() if v["Type"] == kind}


def test_the_stream_mapping_is_bounded_and_records_what_it_skips() -> None:
    (mapping,) = [
        v["Properties"] for k, v in _of_type("AWS::Lambda::EventSourceMapping").items() if "ContentStream" in k
    ]
    assert mapping["MaximumRetryAttempts"] == 5
    assert mapping["BisectBatchOnFunctionError"] is True
    assert mapping["MaximumRecordAgeInSeconds"] == 3600
    assert mapping["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["UsageStreamFailureQueue", "Arn"]
    }
    role = json.dumps(translated()["Resources"]["UsageAggregatorFunctionRole"]["Properties"])
    assert "sqs:SendMessage" in role and "UsageStreamFailureQueue" in role


@pytest.mark.parametrize("function", ["GetContentFunction", "ExamsFunction"])
def test_snapstart_functions_are_called_through_their_alias(function: str) -> None:
    assert f"{function}Aliaslive" in _of_type("AWS::Lambda::Alias")
    assert deployed(function)["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    assert "SnapStart" not in deployed(function, {"SnapStart": "false"})
    body = json.dumps(translated()["Resources"]["HttpApi"]["Properties"]["Body"])
    assert f"${{{function}Aliaslive}}/invocations" in body


def test_reserved_concurrency_is_off_unless_asked_for() -> None:
    assert "ReservedConcurrentExecutions" not in deployed("WorkerFunction")
    assert deployed("WorkerFunction", {"GenerationCap": "100"})["ReservedConcurrentExecutions"] == "100"


def test_the_alarm_topic_uses_a_key_cloudwatch_may_use() -> None:
    assert deployed("AlarmTopic")["KmsMasterKeyId"] == "pregen-local-AlarmKey"  # the Ref of the stack's own key
    statements = deployed("AlarmKey")["KeyPolicy"]["Statement"]
    assert any(s["Principal"].get("Service") == "cloudwatch.amazonaws.com" for s in statements)


@pytest.mark.parametrize("hours", [1, 2, 6, 24, 168])
def test_the_top_up_schedule_is_a_valid_rate_for_each_interval(hours: int) -> None:
    schedule = _of_type("AWS::Scheduler::Schedule")["CronFunctionInventoryTopUp"]["Properties"]
    expression = Template(translated(), overrides={**REQUIRED, "TopUpIntervalHours": str(hours)}).resolve(
        schedule["ScheduleExpression"]
    )
    assert expression == ("rate(1 hour)" if hours == 1 else f"rate({hours} hours)")


def test_kms_decrypt_only_when_a_parameter_key_is_given() -> None:
    key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    for role in ("WorkerFunctionRole", "CronFunctionRole"):
        assert "kms:Decrypt" not in json.dumps(deployed(role))
        granted = json.dumps(deployed(role, {"ParameterKeyArn": key}))
        assert "kms:Decrypt" in granted and key in granted


def test_without_an_anthropic_key_parameter_the_worker_reads_none() -> None:
    # The default is no key (the offline generator, said loudly): no SSM read is granted until a parameter is named.
    assert "ssm:GetParameter" not in json.dumps(deployed("WorkerFunctionRole"))
    named = json.dumps(deployed("WorkerFunctionRole", {"AnthropicApiKeyParameter": "/pregen/anthropic-api-key"}))
    assert "ssm:GetParameter" in named and "parameter/pregen/anthropic-api-key" in named


def test_the_api_stage_throttles_every_route_and_the_cron_route_tightly() -> None:
    (stage_id,) = _of_type("AWS::ApiGatewayV2::Stage")
    stage = deployed(stage_id)
    # Every route: the parameters' defaults, changeable per deploy
    assert float(stage["DefaultRouteSettings"]["ThrottlingRateLimit"]) == 100
    assert int(stage["DefaultRouteSettings"]["ThrottlingBurstLimit"]) == 200
    # The route without an authorizer: far tighter than the default
    cron = stage["RouteSettings"]["POST /v1/cron/run"]
    assert float(cron["ThrottlingRateLimit"]) == 1
    assert int(cron["ThrottlingBurstLimit"]) == 2
    # ... and named as the API's route key, so API Gateway finds the route
    body = translated()["Resources"]["HttpApi"]["Properties"]["Body"]
    assert "post" in body["paths"]["/v1/cron/run"]
    changed = deployed(stage_id, {"ApiThrottlingRate": "5", "CronRunThrottlingBurst": "1"})
    assert float(changed["DefaultRouteSettings"]["ThrottlingRateLimit"]) == 5
    assert int(changed["RouteSettings"]["POST /v1/cron/run"]["ThrottlingBurstLimit"]) == 1


def _alias(parameters: dict[str, str] | None = None) -> dict[str, Any]:
    return deployed("GetContentFunctionAliaslive", parameters)


def test_get_content_keeps_provisioned_environments_only_when_asked_and_never_with_snapstart() -> None:
    # By default no environment is kept initialised (SnapStart is on, and Lambda does not combine the two)
    assert "ProvisionedConcurrencyConfig" not in _alias()
    # Asked for 4 with SnapStart off, the alias (what the API invokes) keeps 4
    asked = {"GetContentProvisionedConcurrency": "4", "SnapStart": "false"}
    assert _alias(asked)["ProvisionedConcurrencyConfig"] == {"ProvisionedConcurrentExecutions": "4"}
    assert "SnapStart" not in deployed("GetContentFunction", asked)
    # And the template's rule stops a deploy that asks for both, before anything is changed
    (rule,) = translated()["Rules"].values()

    def holds(parameters: dict[str, str]) -> bool:
        template = Template(translated(), overrides={**REQUIRED, **parameters})
        return not template._holds(rule["RuleCondition"]) or template._holds(rule["Assertions"][0]["Assert"])

    assert holds(asked) and holds({}) and holds({"SnapStart": "false"})
    assert not holds({"GetContentProvisionedConcurrency": "4"})
