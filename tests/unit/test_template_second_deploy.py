"""The second deploy and a second stack (issue 30), checked on the template as the SAM transform translates it:
a layer-only change moves the aliases, two stacks in one account name nothing alike, every function invoked
asynchronously has somewhere to fail to, and every alarm watches a metric that something emits."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

from aws_emulator.template import ROOT, Template
from pregen.adapters.learners import _listed
from pregen_tools.openapi import BROWSER_NOTE, EXPOSED_HEADERS

REQUIRED = {"JwtIssuer": "https://cognito-idp.us-east-1.amazonaws.com/pool", "JwtAudience": "client"}
ALIASED = ("GetContentFunction", "ExamsFunction")


class _NoManagedPolicies:
    def load(self) -> dict[str, str]:
        return {}


@pytest.fixture(autouse=True)
def _region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # the transform fills in pseudo parameters


def _translate(artifacts: dict[str, str] | None = None, parameters: dict[str, str] | None = None) -> dict[str, Any]:
    """The template after `sam package` (code in S3, under a key that changes with the content) and the transform."""
    sam = yaml_parse((ROOT / "template.yaml").read_text())
    for name, resource in sam["Resources"].items():
        for key in ("CodeUri", "ContentUri"):
            if key in resource.get("Properties", {}):
                digest = (artifacts or {}).get(name, "0" * 32)
                resource["Properties"][key] = f"s3://artifacts/{digest}"
    result: dict[str, Any] = transform(sam, {**REQUIRED, **(parameters or {})}, _NoManagedPolicies())
    return result


def _versions(cfn: dict[str, Any]) -> dict[str, str]:
    """The function each alias points at -> the logical id of the version resource it points at."""
    return {
        props["FunctionName"]["Ref"]: props["FunctionVersion"]["Fn::GetAtt"][0]
        for props in (r["Properties"] for r in cfn["Resources"].values() if r["Type"] == "AWS::Lambda::Alias")
    }


def test_a_change_only_in_the_core_layer_publishes_new_versions_of_the_aliased_functions() -> None:
    before = _versions(_translate())
    after = _versions(_translate({"CoreLayer": "1" * 32}))
    assert set(before) == set(ALIASED)
    for function in ALIASED:
        assert after[function] != before[function], f"{function}'s alias stays on the old layer"


def test_an_unchanged_build_keeps_the_aliases_where_they_are() -> None:
    # The hash is stable: a deploy that changes nothing publishes nothing.
    assert _versions(_translate()) == _versions(_translate())
    assert _versions(_translate({"WorkerFunction": "2" * 32})) == _versions(_translate())


def test_replaced_versions_are_deleted_not_kept() -> None:
    cfn = _translate()
    for version in _versions(cfn).values():
        assert cfn["Resources"][version]["DeletionPolicy"] == "Delete"


# -- two stacks in one account ---------------------------------------------------------------------------------------

# Properties that name a resource within the account and region (two stacks must differ in each).
PHYSICAL_NAMES = {
    "Name", "DashboardName", "AlarmName", "QueueName", "TableName", "LayerName", "FunctionName", "TopicName",
    "LogGroupName", "RoleName", "AliasName", "GroupName", "BucketName", "ApiName",
}  # fmt: skip
# Resources whose "Name"/"FunctionName" property is a reference to another resource, not a name of their own.
NOT_NAMED = {"AWS::Lambda::Permission", "AWS::Lambda::Alias", "AWS::Lambda::Version", "AWS::Lambda::EventInvokeConfig",
             "AWS::Lambda::EventSourceMapping", "AWS::Logs::SubscriptionFilter"}  # fmt: skip


class _Stack(Template):
    """The template as one stack deploys it: the stack name, and CloudFormation's generated names carry it."""

    def __init__(self, data: dict[str, Any], stack: str) -> None:
        super().__init__(data, overrides=REQUIRED)
        self.stack = stack

    def _ref(self, name: str) -> Any:
        if name == "AWS::StackName":
            return self.stack
        if name in self.resources_section:
            return f"{self.stack}-{name}-GENERATED"
        return super()._ref(name)

    def _get_att(self, logical: str, attr: str) -> Any:
        return f"{self.stack}-{logical}-GENERATED.{attr}"


def _explicit_names(cfn: dict[str, Any], stack: str) -> dict[tuple[str, str], str]:
    template = _Stack(cfn, stack)
    names = {}
    for logical, resource in cfn["Resources"].items():
        if resource["Type"] in NOT_NAMED:
            continue
        for key, value in resource.get("Properties", {}).items():
            if key in PHYSICAL_NAMES:
                names[(logical, key)] = str(template.resolve(value))
    return names


def test_two_stacks_in_one_account_name_nothing_alike() -> None:
    cfn = _translate()
    first, second = _explicit_names(cfn, "pregen-dev"), _explicit_names(cfn, "pregen-prod")
    assert any(logical.startswith("CronFunction") for logical, _ in first)  # the schedules are among them
    clashes = {where: name for where, name in first.items() if name in set(second.values())}
    assert not clashes


def test_schedule_names_fit_schedulers_limit_for_a_stack_name_up_to_41_characters() -> None:
    cfn = _translate()
    names = _explicit_names(cfn, "s" * 41)
    kinds = {logical: r["Type"] for logical, r in cfn["Resources"].items()}
    schedules = [n for (logical, _), n in names.items() if kinds[logical] == "AWS::Scheduler::Schedule"]
    assert schedules and max(len(n) for n in schedules) <= 64


# -- failures of asynchronous invocations ----------------------------------------------------------------------------

ASYNC_PRINCIPALS = {"logs.amazonaws.com", "events.amazonaws.com", "scheduler.amazonaws.com", "sns.amazonaws.com",
                    "s3.amazonaws.com", "iot.amazonaws.com"}  # fmt: skip


def _function_of(value: Any) -> str:
    """The logical id of the function an Arn/Ref points at."""
    text = json.dumps(value)
    match = re.search(r'"(\w+Function)(Aliaslive)?"', text)
    assert match, text
    return match.group(1)


def _invoked_asynchronously(cfn: dict[str, Any]) -> set[str]:
    found = set()
    for resource in cfn["Resources"].values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Scheduler::Schedule":
            found.add(_function_of(props["Target"]["Arn"]))
        if resource["Type"] == "AWS::Lambda::Permission" and props["Principal"] in ASYNC_PRINCIPALS:
            found.add(_function_of(props["FunctionName"]))
    return found


def test_every_function_invoked_asynchronously_has_an_on_failure_destination_that_alarms() -> None:
    cfn = _translate()
    resources = cfn["Resources"]
    invoked = _invoked_asynchronously(cfn)
    assert {"CronFunction", "UsageAggregatorFunction"} <= invoked
    alarmed_queues = {
        json.dumps(d["Value"]) for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"
        for d in r["Properties"].get("Dimensions", []) if d["Name"] == "QueueName"
    }  # fmt: skip
    for function in invoked:
        configs = [
            r["Properties"] for r in resources.values()
            if r["Type"] == "AWS::Lambda::EventInvokeConfig" and r["Properties"]["FunctionName"] == {"Ref": function}
        ]  # fmt: skip
        assert len(configs) == 1, f"{function} is invoked asynchronously with no EventInvokeConfig"
        queue = configs[0]["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
        assert resources[queue]["Type"] == "AWS::SQS::Queue"
        assert json.dumps({"Fn::GetAtt": [queue, "QueueName"]}) in alarmed_queues, f"nobody hears of {queue}"
        role = json.dumps(resources[f"{function}Role"]["Properties"])
        assert "sqs:SendMessage" in role and queue in role


def test_every_schedule_dead_letters_to_an_alarmed_queue_its_role_may_send_to() -> None:
    resources = _translate()["Resources"]
    schedules = {k: r["Properties"] for k, r in resources.items() if r["Type"] == "AWS::Scheduler::Schedule"}
    assert schedules
    for logical, schedule in schedules.items():
        arn = schedule["Target"]["DeadLetterConfig"]["Arn"]
        assert arn == {"Fn::GetAtt": ["ScheduledTaskFailureQueue", "Arn"]}, logical
        role = schedule["Target"]["RoleArn"]["Fn::GetAtt"][0]
        assert "sqs:SendMessage" in json.dumps(resources[role]["Properties"]), logical


def test_the_cron_function_has_an_errors_alarm() -> None:
    alarms = [r["Properties"] for r in _translate()["Resources"].values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    assert any(
        a.get("Namespace") == "AWS/Lambda" and a.get("MetricName") == "Errors"
        and a["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "CronFunction"}}]
        for a in alarms
    )  # fmt: skip


def _failure_queues(resources: dict[str, Any]) -> set[str]:
    """Queues something gives up into: a redrive target, an on-failure destination or a schedule's dead letters."""
    text = json.dumps(resources)
    return {
        k for k, r in resources.items()
        if r["Type"] == "AWS::SQS::Queue"
        and re.search(rf'"(deadLetterTargetArn|Destination|Arn)": \{{"Fn::GetAtt": \["{k}", "Arn"\]\}}', text)
    }  # fmt: skip


def test_the_alarm_runbook_covers_every_failure_queue() -> None:
    resources = _translate()["Resources"]
    runbook = (ROOT / "docs" / "operations.md").read_text().split("### Runbook: what each alarm means", 1)[1]
    queues = _failure_queues(resources)
    assert {"ScheduledTaskFailureQueue", "UsageDeadLetterQueue", "InteractiveDeadLetterQueue"} <= queues
    for queue in queues:
        watched = {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}
        alarms = [
            k for k, r in resources.items()
            if r["Type"] == "AWS::CloudWatch::Alarm" and watched in r["Properties"].get("Dimensions", [])
        ]  # fmt: skip
        assert alarms, f"nothing alarms on {queue}"
        assert all(f"`{alarm}`" in runbook for alarm in alarms), f"the runbook does not cover {alarms}"


# -- alarms watch what is emitted ------------------------------------------------------------------------------------

# What AWS itself publishes for the services the alarms watch (namespace -> metric names).
AWS_METRICS = {
    "AWS/Lambda": {"Errors", "Throttles", "IteratorAge", "Duration", "Invocations", "ConcurrentExecutions"},
    "AWS/SQS": {"ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage"},
    "AWS/ApiGateway": {"4xx", "5xx", "Latency", "Count"},
}


def _alarmed_metrics(resources: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(alarm, namespace, metric name) for every metric an alarm reads, directly or in its metric math."""
    found = []
    for logical, resource in resources.items():
        if resource["Type"] != "AWS::CloudWatch::Alarm":
            continue
        props = resource["Properties"]
        if "MetricName" in props:
            found.append((logical, props["Namespace"], props["MetricName"]))
        for query in props.get("Metrics", []):
            if "MetricStat" in query:
                metric = query["MetricStat"]["Metric"]
                found.append((logical, metric["Namespace"], metric["MetricName"]))
    return found


def _emitted_by_code() -> set[str]:
    """Metric names the code passes to Powertools (add_metric(name=...), single_metric via telemetry.emit(...)), or
    files in a line of its own (usage_log's EMF_..._METRIC, the hit's usage line)."""
    names = set()
    for source in [*(ROOT / "functions").rglob("*.py"), *(ROOT / "layers" / "core" / "pregen").rglob("*.py")]:
        text = source.read_text()
        names |= set(re.findall(r'add_metric\(\s*name="(\w+)"', text))
        names |= set(re.findall(r'\bemit\(\s*"(\w+)"', text))
        names |= set(re.findall(r'^EMF_\w+_METRIC = "(\w+)"', text, re.MULTILINE))
    return names


def test_every_alarm_watches_a_metric_that_is_emitted() -> None:
    resources = _translate()["Resources"]
    emitted = _emitted_by_code()
    assert {"CacheHit", "CacheMiss", "GenerationLatency"} <= emitted  # the scan finds what the code emits
    alarmed = _alarmed_metrics(resources)
    assert any(namespace == "Pregen" for _, namespace, _ in alarmed)
    for alarm, namespace, name in alarmed:
        known = emitted if namespace == "Pregen" else AWS_METRICS.get(namespace, set())
        assert name in known, f"{alarm} watches {namespace}/{name}, which nothing emits"


def test_the_hit_rate_alarm_reads_every_kind() -> None:
    # One kind-less series per outcome (get-content files it beside the per-kind one), not a list of kinds.
    props = _translate()["Resources"]["HitRateLowAlarm"]["Properties"]
    stats = [q["MetricStat"]["Metric"] for q in props["Metrics"] if "MetricStat" in q]
    assert sorted(m["MetricName"] for m in stats) == ["CacheHit", "CacheMiss"]
    assert all(m["Dimensions"] == [{"Name": "service", "Value": "pregen"}] for m in stats)


# -- CORS ------------------------------------------------------------------------------------------------------------


def _cors(origins: str) -> Any:
    """The API's x-amazon-apigateway-cors as CloudFormation resolves it for this CorsAllowedOrigins (None: absent)."""
    cfn = _translate(parameters={"CorsAllowedOrigins": origins})
    body = Template(cfn, overrides={**REQUIRED, "CorsAllowedOrigins": origins}).resolve(
        cfn["Resources"]["HttpApi"]["Properties"]["Body"]
    )
    cors = body.get("x-amazon-apigateway-cors")
    if cors and "Fn::Split" in cors["allowOrigins"]:  # the one intrinsic aws_emulator.template leaves alone
        separator, text = cors["allowOrigins"]["Fn::Split"]
        cors["allowOrigins"] = text.split(separator)
    return cors


def test_without_origins_the_api_has_no_cors_configuration() -> None:
    assert _cors("") is None


def test_with_origins_browsers_on_them_may_call_and_read_the_headers_the_api_answers_with() -> None:
    cors = _cors("https://app.example.com,https://admin.example.com")
    assert cors["allowOrigins"] == ["https://app.example.com", "https://admin.example.com"]
    assert {"authorization", "if-none-match"} <= set(cors["allowHeaders"])
    assert {"GET", "POST", "DELETE"} <= set(cors["allowMethods"])
    assert {h.lower() for h in EXPOSED_HEADERS} == set(cors["exposeHeaders"])  # what the OpenAPI document says


def test_the_exposed_headers_are_ones_the_api_sends() -> None:
    code = "\n".join(p.read_text() for p in (ROOT / "layers" / "core" / "pregen" / "http").rglob("*.py"))
    code += "\n".join(p.read_text() for p in (ROOT / "functions").rglob("*.py"))
    for header in EXPOSED_HEADERS:
        assert f'"{header}"' in code, header
    assert all(header in BROWSER_NOTE for header in EXPOSED_HEADERS)


# -- what the functions and tables carry -----------------------------------------------------------------------------


def test_x_ray_tracing_is_off() -> None:
    functions = {k: r for k, r in _translate()["Resources"].items() if r["Type"] == "AWS::Lambda::Function"}
    assert functions
    assert all("TracingConfig" not in r["Properties"] for r in functions.values())


def test_the_jobs_learner_index_projects_what_the_listing_reads() -> None:
    (index,) = Template(overrides=REQUIRED).resolve(
        _translate()["Resources"]["JobsTable"]["Properties"]["GlobalSecondaryIndexes"]
    )
    assert index["Projection"]["ProjectionType"] == "INCLUDE"
    keys = {"pk", "sk"} | {k["AttributeName"] for k in index["KeySchema"]}
    item = {"pk": "job#j1", "sk": "job", "learner": "alice", "key": "v1-lesson-abc", "kind": "lesson", "status": "done",
            "created_at": 1_000, "expires_at": 2_000, "request": {"topic": "x"}, "history": []}  # fmt: skip
    projected = {k: v for k, v in item.items() if k in keys | set(index["Projection"]["NonKeyAttributes"])}
    assert "request" not in projected and "history" not in projected
    assert _listed("jobs", projected) == _listed("jobs", item)
