"""Reads template.yaml the way the local stack and the integration tests need it: parameters, functions with
their routes, queues and schedules, and the tables and queues themselves, created from the template so the
local resources cannot drift from the deployed ones."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import yaml

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sqs import SQSClient

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
ACCOUNT = "123456789012"
REGION = "us-east-1"


NO_VALUE: Any = object()  # Ref AWS::NoValue: the property or list item is left out


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form intrinsics (!Ref, !GetAtt, !Sub ...) as plain Fn:: mappings."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    with path.open() as handle:
        data: dict[str, Any] = yaml.load(handle, Loader=_CfnLoader)
    return data


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    function: str
    authorized: bool = True  # False for a route with `Auth: {Authorizer: NONE}`: the function checks the caller

    @property
    def pattern(self) -> re.Pattern[str]:
        regex = re.sub(r"\\\{(\w+)\\\+\\\}", r"(?P<\1>.+)", re.escape(self.path))
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", regex)
        return re.compile(f"^{regex}$")


@dataclass(frozen=True)
class QueueSource:
    function: str
    queue: str
    batch_size: int
    max_concurrency: int


@dataclass(frozen=True)
class StreamSource:
    """A DynamoDB stream event: the table whose stream feeds the function, and the batch size."""

    function: str
    table: str
    batch_size: int
    filters: tuple[str, ...] = ()


@dataclass(frozen=True)
class LogSubscription:
    """A CloudWatch Logs subscription filter: lines of ``source``'s log that match ``pattern`` go to ``function``."""

    name: str
    source: str  # the function whose log group it reads
    function: str
    pattern: str


@dataclass(frozen=True)
class Schedule:
    function: str
    name: str
    expression: str
    input: dict[str, Any]


@dataclass(frozen=True)
class EventRule:
    """An ``EventBridgeRule`` event: the function is invoked (asynchronously) with each event on ``bus`` that
    matches ``pattern``, retried ``retries`` times (its EventInvokeConfig's MaximumRetryAttempts, else Lambda's 2)."""

    function: str
    name: str
    bus: str
    pattern: dict[str, Any]
    retries: int


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    module: str
    handler: str
    timeout: int
    environment: dict[str, str]


@dataclass
class Resources:
    """Physical names of what was created: table names, queue URLs and ARNs, by logical id."""

    tables: dict[str, str] = field(default_factory=dict)
    queue_urls: dict[str, str] = field(default_factory=dict)
    queue_arns: dict[str, str] = field(default_factory=dict)
    stream_arns: dict[str, str] = field(default_factory=dict)


class Template:
    def __init__(
        self, data: dict[str, Any] | None = None, overrides: dict[str, str] | None = None, *, base: Path = ROOT
    ) -> None:
        """``base``: the template's folder, which its functions' CodeUri are relative to (as in SAM); a function's
        module is its code folder's path from ROOT (which the execution environments have on their path)."""
        self.data = data if data is not None else load_template()
        self.base = base
        self.resources_section: dict[str, Any] = self.data["Resources"]
        self.parameters = {name: str(spec.get("Default", "")) for name, spec in self.data.get("Parameters", {}).items()}
        self.parameters.update(overrides or {})
        self.created = Resources()

    # -- resolution of intrinsics ---------------------------------------------------------------------------------

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict) and len(value) == 1:
            ((name, arg),) = value.items()
            if name in self._INTRINSICS:
                return self._INTRINSICS[name](self, arg)
        if isinstance(value, dict):
            resolved = {k: self.resolve(v) for k, v in value.items()}
            return {k: v for k, v in resolved.items() if v is not NO_VALUE}
        if isinstance(value, list):
            return [v for v in (self.resolve(item) for item in value) if v is not NO_VALUE]
        return value

    def _sub(self, arg: Any) -> str:
        """``Fn::Sub``: a string, or [string, {name: value}] whose names are looked up before the template's."""
        text, variables = (arg[0], self.resolve(arg[1])) if isinstance(arg, list) else (arg, {})

        def value(name: str) -> str:
            return str(variables[name] if name in variables else self._sub_var(name))

        return re.sub(r"\$\{([^}!]+)\}", lambda m: value(m.group(1)), str(text))

    def _if(self, arg: Any) -> Any:
        condition, when_true, when_false = arg
        return self.resolve(when_true if self.condition(condition) else when_false)

    _INTRINSICS: ClassVar[dict[str, Callable[[Template, Any], Any]]] = {
        "Ref": lambda self, arg: self._ref(str(arg)),
        "Fn::GetAtt": lambda self, arg: self._get_att(arg[0], arg[1]),
        "Fn::Sub": lambda self, arg: self._sub(arg),
        "Fn::If": lambda self, arg: self._if(arg),
    }

    def condition(self, name: str) -> bool:
        """A condition of the template's Conditions section, for the parameters in force."""
        return self._holds(self.data.get("Conditions", {})[name])

    def _holds(self, expression: Any) -> bool:
        ((op, arg),) = expression.items()
        if op == "Fn::Equals":
            return str(self.resolve(arg[0])) == str(self.resolve(arg[1]))
        if op == "Fn::Not":
            return not self._holds(arg[0])
        if op == "Fn::And":
            return all(self._holds(a) for a in arg)
        if op == "Fn::Or":
            return any(self._holds(a) for a in arg)
        if op in {"Condition", "Fn::Condition"}:
            return self.condition(str(arg))
        raise ValueError(f"unsupported condition function {op}")

    def _sub_var(self, name: str) -> Any:
        if "." in name:
            logical, attr = name.split(".", 1)
            return self._get_att(logical, attr)
        return self._ref(name)

    def _ref(self, name: str) -> Any:
        pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "pregen-local",
        }
        if name in pseudo:
            return pseudo[name]
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.parameters:
            return self.parameters[name]
        if name in self.created.tables:
            return self.created.tables[name]
        if name in self.created.queue_urls:
            return self.created.queue_urls[name]
        if name in self.resources_section:
            return f"pregen-local-{name}"
        raise KeyError(f"cannot resolve Ref {name}")

    def _get_att(self, logical: str, attr: str) -> Any:
        if attr == "Arn" and logical in self.created.queue_arns:
            return self.created.queue_arns[logical]
        if attr == "QueueName" and logical in self.created.queue_urls:
            return self.created.queue_urls[logical].rsplit("/", 1)[-1]
        if attr == "Arn" and logical in self.created.tables:
            return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{self.created.tables[logical]}"
        return f"arn:aws:local:{REGION}:{ACCOUNT}:{logical}"

    # -- reading --------------------------------------------------------------------------------------------------

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        """The resources of ``kind`` the stack has: one whose ``Condition`` is false for the parameters in force
        is not created (as in CloudFormation)."""
        return {
            name: res
            for name, res in self.resources_section.items()
            if res.get("Type") == kind and ("Condition" not in res or self.condition(str(res["Condition"])))
        }

    def _function_globals(self) -> dict[str, Any]:
        globals_: dict[str, Any] = self.data.get("Globals", {}).get("Function", {})
        return globals_

    def functions(self) -> dict[str, FunctionSpec]:
        glob = self._function_globals()
        specs = {}
        for name, res in self.of_type("AWS::Serverless::Function").items():
            props = res["Properties"]
            env = {
                **glob.get("Environment", {}).get("Variables", {}),
                **props.get("Environment", {}).get("Variables", {}),
            }
            code_dir = (self.base / str(props["CodeUri"])).resolve().relative_to(ROOT)
            handler = props.get("Handler", glob.get("Handler", "app.lambda_handler"))
            module_name, _, attr = handler.rpartition(".")
            specs[name] = FunctionSpec(
                logical_id=name,
                module=".".join([*code_dir.parts, module_name]),
                handler=attr,
                timeout=int(props.get("Timeout", glob.get("Timeout", 3))),
                environment={k: str(self.resolve(v)) for k, v in env.items()},
            )
        return specs

    def _events(self, kind: str) -> list[tuple[str, str, dict[str, Any]]]:
        found = []
        for name, res in self.of_type("AWS::Serverless::Function").items():
            for event_name, event in res["Properties"].get("Events", {}).items():
                if event.get("Type") == kind:
                    found.append((name, event_name, event.get("Properties", {})))
        return found

    def routes(self) -> list[Route]:
        return [
            Route(method=str(p["Method"]).upper(), path=str(p["Path"]), function=fn, authorized=self._authorized(p))
            for fn, _, p in self._events("HttpApi")
        ]

    def _authorized(self, event: dict[str, Any]) -> bool:
        """As SAM wires it: the route's own authorizer, else its API's DefaultAuthorizer (the API its ApiId names,
        or the implicit one's from Globals); ``NONE`` opens a route of an API that has a default."""
        own = (event.get("Auth") or {}).get("Authorizer")
        if own is not None:
            return bool(own != "NONE")
        api_id = event.get("ApiId")
        if isinstance(api_id, dict) and "Ref" in api_id:
            api = self.resources_section.get(api_id["Ref"], {}).get("Properties", {})
        else:
            api = self.data.get("Globals", {}).get("HttpApi", {})
        return bool((api.get("Auth") or {}).get("DefaultAuthorizer"))

    def reserved_concurrency(self) -> dict[str, int]:
        """Functions with a reserved concurrency (ReservedConcurrentExecutions, once its conditions resolve)."""
        reserved = {}
        for name, res in self.of_type("AWS::Serverless::Function").items():
            value = self.resolve(res["Properties"].get("ReservedConcurrentExecutions"))
            if isinstance(value, (int, str)) and str(value).isdigit() and int(value) > 0:
                reserved[name] = int(value)
        return reserved

    def queue_sources(self) -> list[QueueSource]:
        sources = []
        for fn, _, props in self._events("SQS"):
            queue = props["Queue"]["Fn::GetAtt"][0]
            concurrency = int(self.resolve(props.get("ScalingConfig", {}).get("MaximumConcurrency", 1000)))
            sources.append(
                QueueSource(
                    function=fn, queue=queue, batch_size=int(props.get("BatchSize", 10)), max_concurrency=concurrency
                )
            )
        return sources

    def stream_sources(self) -> list[StreamSource]:
        sources = []
        for fn, _, props in self._events("DynamoDB"):
            filters = props.get("FilterCriteria", {}).get("Filters", [])
            sources.append(
                StreamSource(
                    function=fn,
                    table=props["Stream"]["Fn::GetAtt"][0],
                    batch_size=int(props.get("BatchSize", 100)),
                    filters=tuple(str(f["Pattern"]) for f in filters),
                )
            )
        return sources

    def log_subscriptions(self) -> list[LogSubscription]:
        """Subscription filters on a function's log group (``/aws/lambda/${Function}``) to a function."""
        found = []
        for name, res in self.of_type("AWS::Logs::SubscriptionFilter").items():
            props = res["Properties"]
            group = self.resources_section[props["LogGroupName"]["Ref"]]["Properties"]["LogGroupName"]
            source = re.fullmatch(r"/aws/lambda/\$\{(\w+)\}", str(group.get("Fn::Sub", "")))
            if source is None:
                raise ValueError(f"{name}: the local stack follows only /aws/lambda/${{Function}} log groups")
            found.append(
                LogSubscription(
                    name=name,
                    source=source.group(1),
                    function=props["DestinationArn"]["Fn::GetAtt"][0],
                    pattern=str(props["FilterPattern"]),
                )
            )
        return found

    def on_failure_queue(self, function: str) -> str | None:
        """The queue (logical id) an asynchronous invocation of ``function`` goes to after its retries."""
        config = self.resources_section[function]["Properties"].get("EventInvokeConfig") or {}
        destination = (config.get("DestinationConfig") or {}).get("OnFailure") or {}
        if destination.get("Type") != "SQS":
            return None
        return str(destination["Destination"]["Fn::GetAtt"][0])

    def schedules(self) -> list[Schedule]:
        return [
            Schedule(
                function=fn,
                name=name,
                # resolved, so a schedule built from a parameter (!Sub rate(${Hours} hours)) fires locally too
                expression=str(self.resolve(p["ScheduleExpression"])),
                input=json.loads(p.get("Input", "{}")),
            )
            for fn, name, p in self._events("ScheduleV2")
        ]

    def event_buses(self) -> list[str]:
        """The names of the template's EventBridge buses (what a ``Ref`` to each resolves to)."""
        return [str(self._ref(name)) for name in self.of_type("AWS::Events::EventBus")]

    def event_rules(self) -> list[EventRule]:
        rules = []
        for fn, name, props in self._events("EventBridgeRule"):
            config = self.resources_section[fn]["Properties"].get("EventInvokeConfig") or {}
            rules.append(
                EventRule(
                    function=fn,
                    name=name,
                    bus=str(self.resolve(props.get("EventBusName", "default"))),
                    pattern=dict(self.resolve(props["Pattern"])),
                    retries=int(config.get("MaximumRetryAttempts", 2)),
                )
            )
        return rules

    def max_receive_count(self, queue: str) -> int:
        policy = self.resources_section[queue]["Properties"].get("RedrivePolicy", {})
        return int(self.resolve(policy.get("maxReceiveCount", 0)))

    def visibility_timeout(self, queue: str) -> int:
        return int(self.resolve(self.resources_section[queue]["Properties"].get("VisibilityTimeout", 30)))

    # -- provisioning ---------------------------------------------------------------------------------------------

    def provision(self, dynamodb: DynamoDBClient, sqs: SQSClient, prefix: str = "pregen-local") -> Resources:
        """Create every table and queue of the template (dead-letter queues first), with their TTL and redrive; a
        table that exists already (DynamoDB Local keeps its data between runs) is used as it is."""
        for name, res in self.of_type("AWS::DynamoDB::Table").items():
            self._provision_table(dynamodb, name, res["Properties"], f"{prefix}-{name}")
        queues = self.of_type("AWS::SQS::Queue")
        ordered = sorted(queues, key=lambda n: "RedrivePolicy" in queues[n].get("Properties", {}))
        for name in ordered:
            props = queues[name].get("Properties", {})
            attributes: dict[str, str] = {}
            for key in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "ReceiveMessageWaitTimeSeconds"):
                if key in props:
                    attributes[key] = str(self.resolve(props[key]))
            if "RedrivePolicy" in props:
                attributes["RedrivePolicy"] = json.dumps(self.resolve(props["RedrivePolicy"]))
            url = sqs.create_queue(QueueName=f"{prefix}-{name}", Attributes=attributes)["QueueUrl"]  # type: ignore[arg-type]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            self.created.queue_urls[name] = url
            self.created.queue_arns[name] = arn
        return self.created

    def _provision_table(self, dynamodb: DynamoDBClient, name: str, props: dict[str, Any], table: str) -> None:
        """One table with its stream and TTL; an existing one (DynamoDB Local keeps its data) gains the stream the
        template added since, and keeps its data."""
        args: dict[str, Any] = {
            "TableName": table,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if props.get("GlobalSecondaryIndexes"):
            args["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        if props.get("StreamSpecification"):
            args["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
        description = self._create_table(dynamodb, args)
        stream_arn = description.get("LatestStreamArn")
        if props.get("StreamSpecification") and not stream_arn:  # kept from a run before the stream was added
            stream: Any = {"StreamEnabled": True, **props["StreamSpecification"]}
            updated = dynamodb.update_table(TableName=table, StreamSpecification=stream)["TableDescription"]
            stream_arn = updated.get("LatestStreamArn")
        if stream_arn:
            self.created.stream_arns[name] = stream_arn
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled") and description.get("TableStatus") != "EXISTING":
            dynamodb.update_time_to_live(
                TableName=table,
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )
        self.created.tables[name] = table

    @staticmethod
    def _create_table(dynamodb: DynamoDBClient, args: dict[str, Any]) -> dict[str, Any]:
        """The new table's description; an existing one's (DynamoDB Local keeps its data between runs), marked."""
        try:
            return dict(dynamodb.create_table(**args)["TableDescription"])
        except dynamodb.exceptions.ResourceInUseException:
            existing = dict(dynamodb.describe_table(TableName=args["TableName"])["Table"])
            return {**existing, "TableStatus": "EXISTING"}

    def environment(self) -> dict[str, str]:
        """Every function's environment merged, after provisioning (the local stack runs them in one process)."""
        merged: dict[str, str] = {}
        for spec in self.functions().values():
            for key, value in spec.environment.items():
                if key in merged and merged[key] != value:
                    raise ValueError(f"functions disagree on {key}: {merged[key]!r} vs {value!r}")
                merged[key] = value
        return merged
