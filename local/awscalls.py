"""Every AWS API call made in this process, as IAM would authorize it.

``Recorder`` hooks ``botocore.client.BaseClient._make_api_call``, the one method every botocore
client goes through: boto3's clients and pynamodb's own (pynamodb calls ``_make_api_call`` on the
botocore client it creates). Each call becomes one or more ``AwsCall``: the function whose code made
it (``local.lambdas.current_function()``: the thread's invocation, inherited by threads it started),
the IAM action (``dynamodb:UpdateItem``, ``lambda:InvokeFunction``), the resource ARN derived from the
request's parameters, and the condition keys the request carries (``ses:FromAddress``). An API call
can need several authorizations: a DynamoDB transaction one per item (IAM checks the item's own
action on its table), ``CreateSchedule`` also ``iam:PassRole`` on the role the schedule runs as.

Calls made outside any invocation (the test harness, the local stack creating its resources, the
pump) carry ``function=None``; so do the calls moto makes itself while emulating a service (its Step
Functions interpreter invoking Lambda), even when moto runs on a thread an invocation started: those
have ``origin="moto"``. Neither is a function's call, and neither is checked against a function's
policies (``tests/support/iam_policy.py`` does the checking)."""

from __future__ import annotations

import os
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.utils import parseaddr
from typing import Any
from urllib.parse import urlsplit

from local.template import ACCOUNT_ID, REGION

ORIGIN_FUNCTION = "function"
ORIGIN_HARNESS = "harness"  # no invocation: the tests, the local stack itself
ORIGIN_MOTO = "moto"  # moto's own emulation (Step Functions' task invokes), whatever the thread


@dataclass(frozen=True)
class AwsCall:
    """One authorization IAM makes for a request."""

    function: str | None  # logical id of the function whose code made the call
    service: str  # botocore's service name (stepfunctions, dynamodb, ...)
    operation: str  # the API operation (StartExecution, TransactWriteItems, ...)
    action: str  # the IAM action (states:StartExecution, dynamodb:PutItem, ...)
    resource: str  # the resource ARN ("*" when the action takes none)
    context: tuple[tuple[str, str], ...] = ()  # condition keys the request sets
    origin: str = ORIGIN_FUNCTION

    @property
    def condition_keys(self) -> dict[str, str]:
        return dict(self.context)

    def to_json(self) -> dict[str, Any]:
        return {
            "function": self.function,
            "origin": self.origin,
            "service": self.service,
            "operation": self.operation,
            "action": self.action,
            "resource": self.resource,
            "context": dict(self.context),
        }


# --- who is calling ---------------------------------------------------------------------------

_local = threading.local()
_lookup: Callable[[], str | None] | None = None


@contextmanager
def acting_as(function: str | None) -> Iterator[None]:
    """Attribute this thread's calls to ``function`` (tests; the local stack needs no help)."""
    previous = getattr(_local, "function", None)
    _local.function = function
    try:
        yield
    finally:
        _local.function = previous


def current_function() -> str | None:
    """The function this thread runs for: ``acting_as``'s, else the local stack's invocation."""
    forced: str | None = getattr(_local, "function", None)
    if forced is not None:
        return forced
    global _lookup
    if _lookup is None:
        try:
            from local.lambdas import current_function as lookup
        except ImportError:  # a local stack that cannot tell: nothing is attributed
            return None
        _lookup = lookup
    return _lookup()


_LAMBDAS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lambdas.py")


def _moto_dir() -> str | None:
    moto = sys.modules.get("moto")
    file = getattr(moto, "__file__", None)
    return os.path.dirname(file) + os.sep if file else None


def _made_by_moto(frame: Any) -> bool:
    """Whether moto's code, not a handler's, made the call whose caller is ``frame``: walking out,
    moto's frames come before the frame of ``local/lambdas.py`` that runs the handler."""
    moto = _moto_dir()
    if moto is None:
        return False
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename == _LAMBDAS_FILE:
            return False
        if filename.startswith(moto):
            return True
        frame = frame.f_back
    return False


# --- the hook ---------------------------------------------------------------------------------

_recorders: list[Recorder] = []
_install_lock = threading.Lock()
_original: Any = None


def _patched_make_api_call(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
    if _recorders:
        try:
            _record(self, operation_name, api_params, sys._getframe(1))
        except Exception as exc:  # a recorder's bug must never change what the call does
            for recorder in list(_recorders):
                recorder.errors.append(f"{operation_name}: {type(exc).__name__}: {exc}")
    return _original(self, operation_name, api_params)


def _record(client: Any, operation: str, params: dict[str, Any], caller: Any) -> None:
    function = current_function()
    if _made_by_moto(caller):
        function, origin = None, ORIGIN_MOTO
    else:
        origin = ORIGIN_HARNESS if function is None else ORIGIN_FUNCTION
    model = client.meta.service_model
    if model.service_name == "apigatewaymanagementapi":  # the resource is in the endpoint, not the params
        params = {**params, ENDPOINT_PARAM: client.meta.endpoint_url}
    calls = authorizations(
        model.service_name,
        getattr(model, "signing_name", None) or model.endpoint_prefix,
        operation,
        params,
        region=client.meta.region_name or REGION,
    )
    for recorder in list(_recorders):
        recorder.add(function, origin, calls)


def _install(recorder: Recorder) -> None:
    global _original
    from botocore.client import BaseClient

    with _install_lock:
        if _original is None:
            _original = BaseClient._make_api_call
            BaseClient._make_api_call = _patched_make_api_call  # type: ignore[method-assign]
        if recorder not in _recorders:
            _recorders.append(recorder)


def _uninstall(recorder: Recorder) -> None:
    global _original
    from botocore.client import BaseClient

    with _install_lock:
        if recorder in _recorders:
            _recorders.remove(recorder)
        if not _recorders and _original is not None:
            BaseClient._make_api_call = _original  # type: ignore[method-assign]
            _original = None


@dataclass
class Segment:
    """The calls made while one local stack (its resources, its ARNs) was the one running."""

    template: Any = None  # the stack's local.template.LocalTemplate (None: not known yet)
    calls: Counter[AwsCall] = field(default_factory=Counter)


class Recorder:
    """Records the calls of every botocore client of the process while installed.

    ``calls`` counts each ``AwsCall`` (authorization) by how many times it was made; ``api_calls``
    counts requests (a transaction of three items is one request, three authorizations)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.segments: list[Segment] = [Segment()]
        self.api_calls: Counter[str] = Counter()  # origin → requests
        self.errors: list[str] = []

    def install(self) -> Recorder:
        _install(self)
        return self

    def uninstall(self) -> None:
        _uninstall(self)

    def __enter__(self) -> Recorder:
        return self.install()

    def __exit__(self, *exc: object) -> None:
        self.uninstall()

    def begin_stack(self, template: Any) -> None:
        """Calls from now on were made against the stack ``template`` describes (its ARNs)."""
        with self._lock:
            current = self.segments[-1]
            if current.template is None:
                current.template = template  # calls before the stack knew its ARNs: harness only
            else:
                self.segments.append(Segment(template))

    def add(self, function: str | None, origin: str, calls: list[AwsCall]) -> None:
        with self._lock:
            self.api_calls[origin] += 1
            counter = self.segments[-1].calls
            for call in calls:
                counter[AwsCall(function, *_fields(call), origin=origin)] += 1

    @property
    def calls(self) -> Counter[AwsCall]:
        with self._lock:
            total: Counter[AwsCall] = Counter()
            for segment in self.segments:
                total.update(segment.calls)
            return total

    def function_calls(self) -> Counter[AwsCall]:
        return Counter({call: n for call, n in self.calls.items() if call.function is not None})


def _fields(call: AwsCall) -> tuple[str, str, str, str, tuple[tuple[str, str], ...]]:
    return call.service, call.operation, call.action, call.resource, call.context


# --- request → authorizations -----------------------------------------------------------------

_ACTION_NAMES = {
    ("lambda", "Invoke"): "InvokeFunction",
    ("lambda", "InvokeAsync"): "InvokeFunction",
    ("lambda", "InvokeWithResponseStream"): "InvokeFunction",
}
_TRANSACT_WRITE = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


def authorizations(
    service: str, prefix: str, operation: str, params: dict[str, Any], region: str = REGION
) -> list[AwsCall]:
    """The authorizations one request needs (function and origin left empty)."""
    action = f"{prefix}:{_ACTION_NAMES.get((service, operation), operation)}"
    derive = _DERIVERS.get(service)
    found = derive(action, operation, params, region) if derive else [(action, "*", {})]
    context_all = {"aws:RequestedRegion": region}
    return [
        AwsCall(
            None,
            service,
            operation,
            act,
            resource,
            tuple(sorted({**context_all, **context}.items())),
        )
        for act, resource, context in found
    ]


Found = list[tuple[str, str, dict[str, str]]]


def _arn(service: str, region: str, resource: str, account: str = ACCOUNT_ID) -> str:
    return f"arn:aws:{service}:{region}:{account}:{resource}"


def _table(name: str, region: str, index: str | None = None) -> str:
    arn = name if name.startswith("arn:") else _arn("dynamodb", region, f"table/{name}")
    return f"{arn}/index/{index}" if index else arn


def _dynamodb(action: str, operation: str, params: dict[str, Any], region: str) -> Found:
    if operation == "TransactWriteItems":
        found: Found = []
        for item in params.get("TransactItems", []):
            for kind, request in item.items():
                found.append(
                    (f"dynamodb:{_TRANSACT_WRITE.get(kind, kind)}", _table(request["TableName"], region), {})
                )
        return found
    if operation == "TransactGetItems":
        return [
            ("dynamodb:GetItem", _table(i["Get"]["TableName"], region), {})
            for i in params.get("TransactItems", [])
        ]
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [(action, _table(name, region), {}) for name in params.get("RequestItems", {})]
    if "TableName" in params:
        return [(action, _table(params["TableName"], region, params.get("IndexName")), {})]
    return [(action, "*", {})]


def _scheduler(action: str, operation: str, params: dict[str, Any], region: str) -> Found:
    if operation.endswith("ScheduleGroup"):
        return [(action, _arn("scheduler", region, f"schedule-group/{params.get('Name', '*')}"), {})]
    if "Name" not in params:
        return [(action, "*", {})]
    group = params.get("GroupName") or "default"
    found: Found = [(action, _arn("scheduler", region, f"schedule/{group}/{params['Name']}"), {})]
    role = (params.get("Target") or {}).get("RoleArn")
    if operation in ("CreateSchedule", "UpdateSchedule") and role:
        found.append(("iam:PassRole", role, {"iam:PassedToService": "scheduler.amazonaws.com"}))
    return found


def function_arn(name: str, qualifier: str | None = None, region: str = REGION) -> str:
    """A Lambda FunctionName in any of its forms (name, name:qualifier, partial or full ARN)."""
    if name.startswith("arn:"):
        arn = name
    elif ":function:" in name:
        account, _, rest = name.partition(":function:")
        arn = _arn("lambda", region, f"function:{rest}", account)
    else:
        arn = _arn("lambda", region, f"function:{name}")
    if qualifier and arn.count(":") == 6:
        arn += f":{qualifier}"
    return arn


def _lambda(action: str, operation: str, params: dict[str, Any], region: str) -> Found:
    if "FunctionName" not in params:
        return [(action, "*", {})]
    return [(action, function_arn(params["FunctionName"], params.get("Qualifier"), region), {})]


def _states(action: str, operation: str, params: dict[str, Any], region: str) -> Found:
    arn = params.get("stateMachineArn") or params.get("executionArn") or params.get("mapRunArn") or "*"
    return [(action, arn, {})]


def _sns(action: str, operation: str, params: dict[str, Any], region: str) -> Found:
    return [(action, params.get("TopicArn") or params.get("TargetArn") or "*", {})]


def _sender(params: dict[str, Any], address_key: str, raw: bytes | str | None) -> str:
    """The sender's address: the parameter's, else the raw message's From header."""
    address = params.get(address_key) or ""
    if not address and raw:
        message = message_from_bytes(raw.encode() if isinstance(raw, str) else raw)
        address = str(message.get("From", ""))
    return parseaddr(address)[1] or address


def _ses(action: str, operation: str, params: dict[str, Any], region: str) -> Found:
    if not operation.startswith("Send"):
        return [(action, "*", {})]
    if "FromEmailAddress" in params or "Content" in params:  # sesv2
        raw = ((params.get("Content") or {}).get("Raw") or {}).get("Data")
        sender = _sender(params, "FromEmailAddress", raw)
        identity_arn = params.get("FromEmailAddressIdentityArn")
    else:
        raw = (params.get("RawMessage") or {}).get("Data")
        sender = _sender(params, "Source", raw)
        identity_arn = params.get("SourceArn") or params.get("FromArn")
    resource = identity_arn or _arn("ses", region, f"identity/{sender or '*'}")
    return [(action, resource, {"ses:FromAddress": sender} if sender else {})]


def _secretsmanager(action: str, operation: str, params: dict[str, Any], region: str) -> Found:
    secret = params.get("SecretId")
    if not secret:
        return [(action, "*", {})]
    return [
        (
            action,
            secret if secret.startswith("arn:") else _arn("secretsmanager", region, f"secret:{secret}"),
            {},
        )
    ]


def _bus(name: str | None, region: str) -> str:
    name = name or "default"
    return name if name.startswith("arn:") else _arn("events", region, f"event-bus/{name}")


def _events(action: str, operation: str, params: dict[str, Any], region: str) -> Found:
    if operation == "PutEvents":
        buses = sorted({_bus(entry.get("EventBusName"), region) for entry in params.get("Entries", [])})
        return [(action, bus, {}) for bus in buses or [_bus(None, region)]]
    if "EventBusName" in params:
        return [(action, _bus(params["EventBusName"], region), {})]
    return [(action, "*", {})]


def queue_arn(url: str, region: str = REGION) -> str:
    """``https://sqs.../123456789012/name`` → ``arn:aws:sqs:region:123456789012:name``."""
    parts = [p for p in urlsplit(url).path.split("/") if p]
    account, name = (parts[-2], parts[-1]) if len(parts) >= 2 else (ACCOUNT_ID, parts[-1] if parts else "*")
    return _arn("sqs", region, name, account)


def _sqs(action: str, operation: str, params: dict[str, Any], region: str) -> Found:
    if "QueueUrl" in params:
        return [(action, queue_arn(params["QueueUrl"], region), {})]
    if "QueueName" in params:
        account = params.get("QueueOwnerAWSAccountId") or ACCOUNT_ID
        return [(action, _arn("sqs", region, params["QueueName"], account), {})]
    return [(action, "*", {})]


# --- API Gateway's @connections management API -----------------------------------------------------

ENDPOINT_PARAM = "__endpoint__"  # what _record adds to the params of a management API call
_MANAGEMENT_ENDPOINTS: dict[str, tuple[str, str]] = {}  # local endpoint → (api id, stage)
_MANAGEMENT_METHODS = {"PostToConnection": "POST", "GetConnection": "GET", "DeleteConnection": "DELETE"}


def serve_connections(endpoint: str, api_id: str, stage: str) -> None:
    """A local @connections endpoint (``http://127.0.0.1:port/{stage}``) stands for this API's stage:
    calls to it are authorized as calls to ``https://{api_id}.execute-api.../{stage}``."""
    _MANAGEMENT_ENDPOINTS[endpoint.rstrip("/")] = (api_id, stage)


def _connections(action: str, operation: str, params: dict[str, Any], region: str) -> Found:
    """``execute-api:ManageConnections`` on ``{api}/{stage}/{METHOD}/@connections/{id}``."""
    endpoint = str(params.get(ENDPOINT_PARAM, "")).rstrip("/")
    found = _MANAGEMENT_ENDPOINTS.get(endpoint)
    if found is None:  # https://{api}.execute-api.{region}.amazonaws.com/{stage}
        parts = urlsplit(endpoint)
        found = ((parts.hostname or "*").split(".")[0], parts.path.strip("/") or "*")
    api_id, stage = found
    method = _MANAGEMENT_METHODS.get(operation, "*")
    connection = params.get("ConnectionId", "*")
    resource = _arn("execute-api", region, f"{api_id}/{stage}/{method}/@connections/{connection}")
    return [("execute-api:ManageConnections", resource, {})]


_DERIVERS: dict[str, Callable[[str, str, dict[str, Any], str], Found]] = {
    "apigatewaymanagementapi": _connections,
    "dynamodb": _dynamodb,
    "scheduler": _scheduler,
    "lambda": _lambda,
    "stepfunctions": _states,
    "sns": _sns,
    "ses": _ses,
    "sesv2": _ses,
    "secretsmanager": _secretsmanager,
    "events": _events,
    "sqs": _sqs,
}
