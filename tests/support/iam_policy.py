"""IAM proven, not assumed: every AWS call a function made is checked against that function's policies
as CloudFormation would create them.

template.yaml goes through aws-sam-translator offline (the transform ``sam deploy`` runs), so SAM's
policy templates (DynamoDBCrudPolicy, LambdaInvokePolicy, ...) are expanded into the statements of
each function's generated execution role. Their intrinsic functions are resolved to the local
stack's values (``local.template.LocalTemplate`` with the stack's overrides: moto's secret ARN, the
state machine's ARN, ...), the same values the functions' environments resolve to, so the ARNs a
function calls and the ARNs its policy names meet as they would on AWS.

Evaluation follows IAM's identity-policy logic for one account: an explicit Deny wins; otherwise a
matching Allow allows; otherwise the call is denied. Action and NotAction match with IAM's wildcards
(``*``, ``?``; case-insensitive), Resource and NotResource likewise (case-sensitive). Conditions are
evaluated for the String*/Arn*/Bool operators on the keys the recorder sets (``ses:FromAddress``,
``iam:PassedToService``, ``aws:RequestedRegion``); a condition on a key the call does not carry, or
with an operator not modelled, is not satisfied and is reported. Managed policies are modelled only
for the two SAM attaches (AWSLambdaBasicExecutionRole: CloudWatch Logs; AWSXrayWriteOnlyAccess:
X-Ray); any other grants nothing and is reported.

``prove_iam`` wraps a pytest session (tests/e2e/conftest.py): it records every call while the local
stack runs, writes them to a JSON file, prints the summary and fails the session on a denial."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

from local.awscalls import AwsCall, Recorder
from local.template import ACCOUNT_ID, REGION, LocalTemplate

ARTIFACTS = "s3://autocall-artifacts"
CALLS_FILE = ".aws-sam-iam-calls.json"


# --- the SAM transform ------------------------------------------------------------------------


class _NoManagedPolicyLookup:
    """aws-sam-translator's ManagedPolicyLoader without IAM: no policy is looked up by name (the
    template names managed policies by ARN, SAM adds its own by ARN)."""

    def load(self) -> dict[str, str]:
        return {}


_TRANSFORMED: dict[str, dict[str, Any]] = {}


def sam_transform(template: Mapping[str, Any]) -> dict[str, Any]:
    """The CloudFormation template ``sam deploy`` would create from ``template``, offline."""
    key = hashlib.sha256(json.dumps(template, sort_keys=True, default=str).encode()).hexdigest()
    if key not in _TRANSFORMED:
        from samtranslator.translator.transform import transform

        os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
        fragment = copy.deepcopy(dict(template))
        for resource in fragment.get("Resources", {}).values():
            props = resource.get("Properties", {})
            for uri in ("CodeUri", "ContentUri", "DefinitionUri"):
                if isinstance(props.get(uri), str):
                    props[uri] = f"{ARTIFACTS}/{props[uri].strip('/').replace('/', '-')}.zip"
        _TRANSFORMED[key] = dict(transform(fragment, {}, _NoManagedPolicyLookup()))  # type: ignore[arg-type]
    return copy.deepcopy(_TRANSFORMED[key])


_NO_VALUE = object()


@dataclass
class PolicyResolver(LocalTemplate):
    """The local stack's resolver, extended to what the transformed template's policies use: the
    Name attributes of state machines, topics and queues (from the local ARNs), the roles SAM
    generated, conditions (``Fn::If`` by the template's Conditions) and ``AWS::NoValue``."""

    transformed: dict[str, Any] = field(default_factory=dict)

    def _generated(self, name: str) -> dict[str, Any] | None:
        if name in self.template.get("Resources", {}):
            return None
        found: dict[str, Any] | None = self.transformed.get("Resources", {}).get(name)
        return found

    def ref(self, name: str) -> str:
        generated = self._generated(name) if name not in self.overrides else None
        if generated is not None:
            return f"{self.stack_name}-{name}"
        return super().ref(name)

    def get_att(self, name: str, attribute: str) -> str:
        if f"{name}.{attribute}" in self.overrides:
            return self.overrides[f"{name}.{attribute}"]
        generated = self._generated(name)
        if generated is not None:
            if generated["Type"] == "AWS::IAM::Role" and attribute == "Arn":
                return f"arn:aws:iam::{ACCOUNT_ID}:role/{self.stack_name}-{name}"
            return f"arn:aws:local:{REGION}:{ACCOUNT_ID}:{self.stack_name}-{name}/{attribute}"
        kind = self.resources[name]["Type"]
        if (
            kind in ("AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine")
            and attribute == "Name"
        ):
            return self.ref(name).rsplit(":", 1)[-1]
        if kind == "AWS::SNS::Topic" and attribute == "TopicName":
            return self.ref(name).rsplit(":", 1)[-1]
        if kind == "AWS::SQS::Queue" and attribute == "QueueName":
            return self.get_att(name, "Arn").rsplit(":", 1)[-1]
        return super().get_att(name, attribute)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict) and len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref" and arg == "AWS::NoValue":
                return _NO_VALUE
        resolved = super().resolve(value)
        if isinstance(resolved, list):
            return [v for v in resolved if v is not _NO_VALUE]
        if isinstance(resolved, dict):
            return {k: v for k, v in resolved.items() if v is not _NO_VALUE}
        return resolved


# --- evaluation -------------------------------------------------------------------------------


@lru_cache(maxsize=8192)
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """IAM's wildcards: ``*`` any run of characters (``/`` and ``:`` included), ``?`` one."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex + r"\Z", re.S | (re.I if ignore_case else 0))


def matches(pattern: str, value: str, ignore_case: bool = False) -> bool:
    return _glob(pattern, ignore_case).match(value) is not None


def _listed(value: Any) -> list[str]:
    return [str(v) for v in (value if isinstance(value, list) else [value])]


# operator → (positive test of one value against one pattern, negated)
_OPERATORS: dict[str, tuple[Any, bool]] = {
    "StringEquals": (lambda v, p: v == p, False),
    "StringNotEquals": (lambda v, p: v == p, True),
    "StringEqualsIgnoreCase": (lambda v, p: v.lower() == p.lower(), False),
    "StringNotEqualsIgnoreCase": (lambda v, p: v.lower() == p.lower(), True),
    "StringLike": (lambda v, p: matches(p, v), False),
    "StringNotLike": (lambda v, p: matches(p, v), True),
    "ArnEquals": (lambda v, p: v == p, False),
    "ArnNotEquals": (lambda v, p: v == p, True),
    "ArnLike": (lambda v, p: matches(p, v), False),
    "ArnNotLike": (lambda v, p: matches(p, v), True),
    "Bool": (lambda v, p: v.lower() == p.lower(), False),
}


def conditions_hold(block: Mapping[str, Any], context: Mapping[str, str]) -> tuple[bool, list[str]]:
    """Whether every condition of a statement holds for a call (all operators, all keys; any of a
    key's values); the problems that made one unknowable."""
    keys = {k.lower(): v for k, v in context.items()}  # condition keys are case-insensitive
    problems: list[str] = []
    holds = True
    for raw_operator, tests in block.items():
        operator = raw_operator.split(":", 1)[-1]  # ForAnyValue:/ForAllValues: on one-valued keys
        if_exists = operator.endswith("IfExists")
        operator = operator.removesuffix("IfExists")
        if operator not in _OPERATORS:
            problems.append(f"condition operator {raw_operator} is not modelled")
            holds = False
            continue
        test, negated = _OPERATORS[operator]
        for key, expected in tests.items():
            value = keys.get(key.lower())
            if value is None:
                if not if_exists:
                    problems.append(f"condition key {key} is not known for this call")
                    holds = False
                continue
            found = any(test(value, str(p)) for p in _listed(expected))
            if found == negated:
                holds = False
    return holds, problems


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Statement:
    effect: str
    actions: tuple[str, ...]
    not_actions: tuple[str, ...] | None
    resources: tuple[str, ...]
    not_resources: tuple[str, ...] | None
    condition: Mapping[str, Any]
    source: str  # where it comes from, for the reason of a decision

    @classmethod
    def parse(cls, raw: Mapping[str, Any], source: str) -> Statement:
        def optional(key: str) -> tuple[str, ...] | None:
            return tuple(_listed(raw[key])) if key in raw else None

        return cls(
            effect=str(raw.get("Effect", "Allow")),
            actions=optional("Action") or (),
            not_actions=optional("NotAction"),
            resources=optional("Resource") or (),
            not_resources=optional("NotResource"),
            condition=raw.get("Condition") or {},
            source=source,
        )

    def applies(self, action: str, resource: str) -> bool:
        if self.not_actions is not None:
            acts = not any(matches(p, action, ignore_case=True) for p in self.not_actions)
        else:
            acts = any(matches(p, action, ignore_case=True) for p in self.actions)
        if not acts:
            return False
        if self.not_resources is not None:
            return not any(matches(p, resource) for p in self.not_resources)
        return any(matches(p, resource) for p in self.resources)


# What the managed policies SAM attaches grant (only their services; enough for a function's role).
MANAGED_POLICIES: dict[str, list[dict[str, Any]]] = {
    "AWSLambdaBasicExecutionRole": [
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": "*",
        }
    ],
    "AWSXrayWriteOnlyAccess": [
        {
            "Effect": "Allow",
            "Action": [
                "xray:PutTraceSegments",
                "xray:PutTelemetryRecords",
                "xray:GetSamplingRules",
                "xray:GetSamplingTargets",
                "xray:GetSamplingStatisticSummaries",
            ],
            "Resource": "*",
        }
    ],
}


@dataclass
class FunctionPolicies:
    """Everything one function's execution role allows and denies."""

    function: str
    statements: list[Statement] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what could not be modelled

    @classmethod
    def of(cls, function: str, documents: Mapping[str, Any], managed: Sequence[str] = ()) -> FunctionPolicies:
        """From resolved policy documents (name → document) and managed policy ARNs."""
        policies = cls(function)
        for name, document in documents.items():
            raw = document.get("Statement", [])
            for number, statement in enumerate(raw if isinstance(raw, list) else [raw]):
                policies.statements.append(Statement.parse(statement, f"{name} statement {number}"))
        for arn in managed:
            short = str(arn).rsplit("/", 1)[-1]
            if short not in MANAGED_POLICIES:
                policies.notes.append(f"managed policy {arn} is not modelled (grants nothing here)")
            for statement in MANAGED_POLICIES.get(short, []):
                policies.statements.append(Statement.parse(statement, f"managed policy {short}"))
        return policies

    def decide(self, action: str, resource: str, context: Mapping[str, str] | None = None) -> Decision:
        allowed_by: str | None = None
        notes: list[str] = []
        for statement in self.statements:
            if not statement.applies(action, resource):
                continue
            holds, problems = conditions_hold(statement.condition, context or {})
            notes += [f"{statement.source}: {p}" for p in problems]
            if not holds:
                if not problems:
                    notes.append(
                        f"{statement.source}: its condition {dict(statement.condition)} does not hold"
                    )
                continue
            if statement.effect == "Deny":
                return Decision(False, f"explicitly denied by {statement.source}", tuple(notes))
            allowed_by = allowed_by or statement.source
        if allowed_by:
            return Decision(True, f"allowed by {allowed_by}", tuple(notes))
        return Decision(False, "no statement of its role allows it", tuple(notes))


def _role_id(role: Any) -> str | None:
    if isinstance(role, dict):
        if "Fn::GetAtt" in role:
            arg = role["Fn::GetAtt"]
            return str(arg.split(".")[0] if isinstance(arg, str) else arg[0])
        if "Ref" in role:
            return str(role["Ref"])
    return None


class StackPolicies:
    """Each function's policies in the transformed template, resolved for one local stack."""

    def __init__(self, template: LocalTemplate | None = None) -> None:
        template = template or LocalTemplate()
        self.transformed = sam_transform(template.template)
        values = {f.name: getattr(template, f.name) for f in fields(LocalTemplate) if f.init}
        values["overrides"] = dict(template.overrides)
        self.resolver = PolicyResolver(**values, transformed=self.transformed)
        resources = self.transformed["Resources"]
        self.functions: dict[str, FunctionPolicies] = {}
        for lid, res in resources.items():
            if res["Type"] == "AWS::Lambda::Function":
                self.functions[lid] = self._function(lid, res["Properties"].get("Role"))

    def _function(self, function: str, role_value: Any) -> FunctionPolicies:
        resources = self.transformed["Resources"]
        role = _role_id(role_value)
        if role is None or role not in resources:
            policies = FunctionPolicies(function)
            policies.notes.append(f"role {role_value!r} is not a role of the template: nothing allowed")
            return policies
        props = resources[role]["Properties"]
        documents = {
            str(p.get("PolicyName", f"{role}Policy{n}")): self.resolver.resolve(p["PolicyDocument"])
            for n, p in enumerate(props.get("Policies", []))
        }
        for lid, res in resources.items():  # policies attached to the role by their own resources
            attached = {"Ref": role} in res.get("Properties", {}).get("Roles", [])
            if res["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy") and attached:
                documents[lid] = self.resolver.resolve(res["Properties"]["PolicyDocument"])
        managed = [str(a) for a in self.resolver.resolve(props.get("ManagedPolicyArns", []))]
        return FunctionPolicies.of(function, documents, managed)

    def decide(self, call: AwsCall) -> Decision:
        if call.function not in self.functions:
            return Decision(False, f"{call.function} is not a function of template.yaml")
        return self.functions[call.function].decide(call.action, call.resource, call.condition_keys)


# --- the check --------------------------------------------------------------------------------


@dataclass
class Report:
    checked: list[tuple[AwsCall, int, Decision]] = field(default_factory=list)
    unchecked: Counter[AwsCall] = field(default_factory=Counter)  # the harness's and moto's own
    requests: Counter[str] = field(default_factory=Counter)  # origin → API requests
    errors: list[str] = field(default_factory=list)  # requests the recorder could not read

    @property
    def denied(self) -> list[tuple[AwsCall, int, Decision]]:
        return [entry for entry in self.checked if not entry[2].allowed]

    def actions(self) -> dict[str, set[str]]:
        found: dict[str, set[str]] = defaultdict(set)
        for call, _, _ in self.checked:
            found[str(call.function)].add(call.action)
        return dict(found)

    def summary(self) -> str:
        actions = self.actions()
        pairs = sum(len(a) for a in actions.values())
        calls = sum(n for _, n, _ in self.checked)
        denied = sum(n for _, n, _ in self.denied)
        line = (
            f"IAM: {len(actions)} functions, {pairs} distinct (function, action) pairs, "
            f"{calls:,} calls checked, {denied:,} denied"
        )
        if self.denied:
            line += f" ({len(self.denied)} distinct function/action/resource)"
        return line

    def details(self) -> list[str]:
        lines = [
            f"  {fn}: {len(acts)} actions: {', '.join(sorted(acts))}"
            for fn, acts in sorted(self.actions().items())
        ]
        not_checked = ", ".join(
            f"{n:,} {origin}" for origin, n in sorted(self.requests.items()) if origin != "function"
        )
        if not_checked:
            lines.append(f"  not a function's (not checked): {not_checked} requests")
        return lines

    def failure_message(self) -> str:
        lines = []
        for call, count, decision in sorted(self.denied, key=lambda e: (str(e[0].function), e[0].action)):
            keys = {k: v for k, v in call.context if k != "aws:RequestedRegion"}
            when = f" with {keys}" if keys else ""
            notes = f" [{'; '.join(decision.notes)}]" if decision.notes else ""
            lines.append(
                f"{call.function} may not {call.action} on {call.resource}{when}: {decision.reason}"
                f" ({count} calls, {call.service}.{call.operation}){notes}"
            )
        lines += [f"recorder could not read a request: {e}" for e in self.errors]
        return "\n".join(lines)

    def assert_allowed(self) -> None:
        if self.denied or self.errors:
            raise AssertionError(
                f"{self.summary()}\nIAM denies calls the functions made:\n{self.failure_message()}"
            )

    def to_json(self) -> dict[str, Any]:
        return {
            "summary": self.summary(),
            "requests": dict(self.requests),
            "checked": [
                {
                    **call.to_json(),
                    "calls": n,
                    "allowed": d.allowed,
                    "reason": d.reason,
                    "notes": list(d.notes),
                }
                for call, n, d in sorted(
                    self.checked, key=lambda e: (str(e[0].function), e[0].action, e[0].resource)
                )
            ],
            "not_checked": [
                {**call.to_json(), "calls": n}
                for call, n in sorted(
                    self.unchecked.items(), key=lambda e: (e[0].origin, e[0].action, e[0].resource)
                )
            ],
            "errors": self.errors,
        }

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=1) + "\n")


def check(calls: Recorder | Mapping[AwsCall, int], template: LocalTemplate | None = None) -> Report:
    """Check every function's call; ``template``: the stack's (default: each recorded segment's,
    else the template with no local overrides)."""
    report = Report()
    segments: list[tuple[Any, Mapping[AwsCall, int]]]
    if isinstance(calls, Recorder):
        segments = [(template or s.template, s.calls) for s in calls.segments]
        report.requests.update(calls.api_calls)
        report.errors += calls.errors
    else:
        segments = [(template, calls)]
    merged: dict[tuple[AwsCall, Decision], int] = Counter()
    for stack_template, counted in segments:
        policies: StackPolicies | None = None
        for call, count in counted.items():
            if call.function is None:
                report.unchecked[call] += count
                continue
            policies = policies or StackPolicies(stack_template)
            merged[(call, policies.decide(call))] += count
    report.checked = [(call, n, decision) for (call, decision), n in merged.items()]
    return report


def _show(config: Any, lines: list[str]) -> None:
    """Print past pytest's output capture (a session fixture's teardown is captured otherwise)."""
    capture = config.pluginmanager.getplugin("capturemanager") if config is not None else None
    if capture is None:
        print("\n".join(lines), flush=True)
        return
    with capture.global_and_fixture_disabled():
        print("\n" + "\n".join(lines), flush=True)


@contextmanager
def prove_iam(output: Path, config: Any = None) -> Iterator[Recorder]:
    """Record every call while the body runs (local stacks started in it included), then write
    them to ``output``, print the summary and raise AssertionError naming every denied call."""
    from local.stack import LocalStack

    recorder = Recorder().install()
    start = LocalStack.start

    def start_and_note(self: LocalStack) -> LocalStack:
        started = start(self)
        recorder.begin_stack(self.template)  # the ARNs this stack's functions call from now on
        return started

    LocalStack.start = start_and_note  # type: ignore[method-assign]
    try:
        yield recorder
    finally:
        LocalStack.start = start  # type: ignore[method-assign]
        recorder.uninstall()
    report = check(recorder)
    report.write(output)
    _show(config, [report.summary(), *report.details(), *report.failure_message().splitlines()])
    report.assert_allowed()
