"""What the bench scripts share: import paths, quiet handlers, moto in-process with the template's
resources, signed Twilio webhook events, and the figures (median, p99)."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "common")]
for _key, _value in {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "Autocall",
}.items():
    os.environ.setdefault(_key, _value)
os.environ.pop("OPENAI_API_KEY", None)  # the playbook brain: the LLM is not what we measure

from local.api_client import ApiClient  # noqa: E402

WEBHOOK_DOMAIN = "abc123.execute-api.us-east-1.amazonaws.com"
STAGE = "prod"  # the template's Stage parameter (its default): the API answers only under it
# the voice webhook's routes (template.yaml): the call's state is in the path
ANSWER_ROUTE = "/twilio/answer/{call_id}"
TURN_ROUTE = "/twilio/turn/{call_id}/{turn}"


def median(values: list[float]) -> float:
    return statistics.median(values)


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98] if len(values) > 1 else values[0]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


class Sink(io.TextIOBase):
    """Counts what is written to it and keeps none of it."""

    def __init__(self) -> None:
        self.written = 0

    def write(self, text: str) -> int:
        self.written += len(text.encode("utf-8", "replace"))
        return len(text)


@contextlib.contextmanager
def quiet() -> Iterator[Sink]:
    """Handlers print EMF metrics and logs on stdout (real work, kept); the bench shows figures only."""
    sink = Sink()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        yield sink


class Stopwatch:
    """Time spent inside moto's emulated services: on AWS that time is the service's and the
    network's, not the handler's, so the handler's own time is wall time minus this."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.requests = 0

    def install(self) -> None:
        from moto.core.botocore_stubber import BotocoreStubber

        original = BotocoreStubber.process_request
        watch = self

        def timed(stubber: Any, request: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(stubber, request)
            finally:
                watch.seconds += time.perf_counter() - started
                watch.requests += 1

        BotocoreStubber.process_request = timed  # type: ignore[method-assign,assignment]


@dataclass
class InProcessAws:
    """moto in-process with every resource of template.yaml (as tests/support/aws.py)."""

    registry: Any
    secrets: dict[str, Any]
    template: Any

    def as_function(self, logical_id: str) -> contextlib.AbstractContextManager[None]:
        """Run the body as the function ``logical_id`` runs: with its own environment only."""
        return as_function(self.registry, logical_id)


def as_function(registry: Any, logical_id: str) -> contextlib.AbstractContextManager[None]:
    """The environment the function's handler sees (template + runtime + local swaps), for this
    thread: domain code called by a bench reads the settings that function has on AWS."""
    from local import environ

    return environ.function_environment(registry.function_env(logical_id))


@contextlib.contextmanager
def in_process_aws() -> Iterator[InProcessAws]:
    from moto import mock_aws

    from local.lambdas import FunctionRegistry, route_moto_lambda
    from local.resources import configure_moto, create_resources
    from local.stack import apply_environment, local_secrets
    from local.template import LocalTemplate

    configure_moto()
    os.environ.pop("AWS_ENDPOINT_URL", None)
    saved = dict(os.environ)
    with mock_aws():
        template = LocalTemplate()
        secrets = local_secrets()
        apply_environment({"SECRETS_ARN": ""})
        template.overrides.update(create_resources(template, secrets))
        # the bench process shares what every function has (Globals); each function runs with
        # only its own environment (FunctionRegistry.function_env, ``as_function``), as on AWS
        apply_environment(template.globals_environment())
        registry = FunctionRegistry(template)
        route_moto_lambda(registry)
        try:
            yield InProcessAws(registry, secrets, template)
        finally:
            registry.shutdown()
            os.environ.clear()
            os.environ.update(saved)


def webhook_event(
    route: str, params: dict[str, str], form: dict[str, str], auth_token: str
) -> dict[str, Any]:
    """A Twilio webhook as API Gateway (REST, proxy) hands it to Lambda, signed as Twilio signs:
    ``route`` is the template's resource path (``/twilio/turn/{call_id}/{turn}``), ``params`` its
    path parameters; ``path`` lacks the stage, ``requestContext.path`` has it, and the signed URL is
    ``https://{domainName}{requestContext.path}``."""
    from autocall.integrations.twilio.signature import compute

    path = route.format(**params)
    staged = f"/{STAGE}{path}"
    body = urlencode(form)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Host": WEBHOOK_DOMAIN,
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Port": "443",
        "X-Twilio-Signature": compute(auth_token, f"https://{WEBHOOK_DOMAIN}{staged}", form),
        "User-Agent": "TwilioProxy/1.1",
    }
    return {
        "resource": route,
        "path": path,
        "httpMethod": "POST",
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": dict(params),
        "stageVariables": None,
        "requestContext": {
            "resourcePath": route,
            "httpMethod": "POST",
            "path": staged,
            "stage": STAGE,
            "domainName": WEBHOOK_DOMAIN,
            "requestId": "bench",
            "accountId": "123456789012",
            "apiId": WEBHOOK_DOMAIN.split(".")[0],
            "identity": {"sourceIp": "54.172.60.1"},
        },
        "body": body,
        "isBase64Encoded": False,
    }


def lambda_context(name: str, memory_mb: int = 1024) -> Any:
    from local.lambdas import FakeLambdaContext

    return FakeLambdaContext(function_name=name, memory_limit_in_mb=memory_mb, aws_request_id="bench")


# --- the local stack ------------------------------------------------------------------------------

WEDNESDAY_NOON_EASTERN = "2026-11-25T17:00:00+00:00"  # inside every US calling window


@contextlib.contextmanager
def local_stack(
    workers: int = 64,
    serialize_api: bool = True,
    parameters: dict[str, str] | None = None,
    **env: str,
) -> Iterator[Any]:
    """The embedded local stack on free ports, pacing out of the way, the clock at a weekday noon
    (Eastern) moving at wall speed, the carrier with ``workers`` call threads, API events one at a
    time unless told otherwise (see ``one_request_at_a_time``).

    ``parameters`` are template parameters (as ``sam deploy --parameter-overrides``); ``env`` gives
    values to variables the functions already have in template.yaml (each function sees only its
    own; see ``checked_overrides``)."""
    from datetime import datetime

    from autocall.clock import CLOCK

    import local.carrier
    from local.stack import LocalStack, free_port

    class Carrier(local.carrier.CarrierSimulator):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **{**kwargs, "workers": workers})

    original = local.carrier.CarrierSimulator
    local.carrier.CarrierSimulator = Carrier  # type: ignore[misc]
    pacing_out_of_the_way = {"CallsPerSecond": "10000", "MaxConcurrentCalls": "100000"}
    stack = LocalStack(
        port=free_port(),
        carrier_port=free_port(),
        moto_port=free_port(),
        parameters={**pacing_out_of_the_way, **(parameters or {})},
        env_overrides=checked_overrides(env),
    )
    try:
        with quiet():
            stack.start()
        CLOCK.freeze(datetime.fromisoformat(WEDNESDAY_NOON_EASTERN))
        CLOCK.set_speed(1.0)
        if serialize_api:
            one_request_at_a_time(stack.registry)
        yield stack
    finally:
        local.carrier.CarrierSimulator = original  # type: ignore[misc]
        with quiet():
            stack.stop()
        CLOCK.reset()


def checked_overrides(env: dict[str, str]) -> dict[str, str]:
    """``env`` as the local stack's ``env_overrides``, refused when a variable is one no function
    has in template.yaml: the stack would drop it silently and the bench measure something else."""
    from local.template import LocalTemplate

    template = LocalTemplate()
    known = {name for lid in template.functions() for name in template.function_environment(lid)}
    unknown = sorted(set(env) - known)
    if unknown:
        raise ValueError(f"no function has {', '.join(unknown)} in template.yaml (use a template parameter?)")
    return dict(env)


def one_request_at_a_time(registry: Any) -> None:
    """Lambda runs one event per instance at a time; the local stack runs every handler in one
    process on many threads. Powertools keeps the event being resolved in a class attribute
    (``BaseRouter.current_event``), shared by every resolver in the process, so two API events
    resolved at once can read each other's body (seen here: one callee dialed 8 times at K=10).
    API and webhook events therefore take turns; other invocations (dialer, post-call steps)
    still run concurrently."""
    invoke = registry.invoke
    lock = threading.Lock()

    def invoke_api_alone(function: str, event: Any) -> Any:
        if isinstance(event, dict) and "httpMethod" in event:
            with lock:
                return invoke(function, event)
        return invoke(function, event)

    registry.invoke = invoke_api_alone


class Api(ApiClient):
    """The local API over HTTP, as a user drives it (``local.api_client``)."""

    def __init__(self, stack: Any) -> None:
        super().__init__(stack.url, stack.api_token, timeout=120)

    def contact(self, number: str, name: str = "John Smith") -> str:
        body = {"name": name, "phone": number, "company": "TechCorp", "consent": True,
                "time_zone": "America/New_York"}  # fmt: skip
        return str(self.expect(201, "POST", "/contacts", json=body)["contact_id"])


def phone_number(index: int) -> str:
    """Distinct valid US numbers (212-555-xxxx is not valid to phonenumbers: use real exchanges)."""
    return f"+1212{200 + index // 10000:03d}{index % 10000:04d}"


@contextlib.contextmanager
def moto_server(logical_id: str = "VoiceWebhookFunction") -> Iterator[dict[str, str]]:
    """moto's server on a free port with the template's resources; yields the whole environment a
    process running the function's handler needs to use it: the function's own, as the local stack
    gives it (template.yaml's variables for that function, the runtime's, the endpoints; the Twilio
    auth token is lent as a secret's fallback, as the local stack lends it)."""
    from moto.server import ThreadedMotoServer

    from local.lambdas import FunctionRegistry
    from local.resources import configure_moto, create_resources
    from local.stack import apply_environment, free_port, local_secrets
    from local.template import LocalTemplate

    configure_moto()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    saved = dict(os.environ)
    try:
        base = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_SESSION_TOKEN": "testing",
                "AWS_REGION": "us-east-1", "POWERTOOLS_METRICS_NAMESPACE": "Autocall"}  # fmt: skip
        apply_environment({**base, "SECRETS_ARN": ""})
        template = LocalTemplate()
        secrets = local_secrets()
        template.overrides.update(create_resources(template, secrets))
        env = FunctionRegistry(template).function_env(logical_id)
        env["TWILIO_AUTH_TOKEN"] = secrets["twilio_auth_token"]
        yield env
    finally:
        os.environ.clear()
        os.environ.update(saved)
        server.stop()
