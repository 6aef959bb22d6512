"""The template's functions, run in-process: moto's Lambda invoke (from our code, from Step
Functions, from the schedule pump) is routed to the real handlers."""

from __future__ import annotations

import functools
import importlib.util
import json
import sys
import threading
import traceback
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from local import environ
from local.template import ACCOUNT_ID, REGION, LocalTemplate

# What the process lends every function: what Lambda's runtime gives a function (its path, locale,
# region and credentials) and the local stack's endpoint swaps. Nothing else of the process's
# environment reaches a handler; its settings come from template.yaml alone.
RUNTIME_VARIABLES = ("PATH", "HOME", "LANG", "TZ", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ACCESS_KEY_ID",
                     "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")  # fmt: skip
ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL", "TWILIO_API_BASE_URL", "OPENAI_BASE_URL")
# Locally, secrets come from env vars (autocall.secrets falls back to them when the secret's
# value is empty); on AWS they are in Secrets Manager.
SECRET_VARIABLES = (
    "AUTOCALL_API_TOKEN",
    "TWILIO_AUTH_TOKEN",
    "OPENAI_API_KEY",
    "FORM_SECRETS",
    "CRM_WEBHOOK_SECRET",
)
LENT_VARIABLES = (*RUNTIME_VARIABLES, *ENDPOINT_VARIABLES, *SECRET_VARIABLES)
LAMBDA_VARIABLES = (
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
)
# Logging, metrics and tracing switches the process may set for every function (quiet benches, no
# X-Ray daemon): observability only, never a setting the code acts on.
OBSERVABILITY_PREFIX = "POWERTOOLS_"
_NAMES: dict[str, str] = {}  # function name → logical id, over every registry of the process


def current_function() -> str | None:
    """The logical id of the function this thread runs for (threads started by an invocation run
    for it too); None outside any invocation: the test harness, the gateway, the pump."""
    env = environ.current()
    if env is None:
        return None
    return _NAMES.get(env.get("AWS_LAMBDA_FUNCTION_NAME", ""))


@dataclass
class FakeLambdaContext:
    function_name: str
    memory_limit_in_mb: int = 512
    aws_request_id: str = ""
    log_group_name: str = ""
    log_stream_name: str = "local"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return 15_000


class _PerThread:
    """A data descriptor whose value belongs to the thread that set it (per instance when read on
    one): what a process-wide attribute is when each Lambda execution environment is a process."""

    def __init__(self, name: str, default: Any = None, copy_default: bool = False) -> None:
        self.name = name
        self.default = default
        self.copy_default = copy_default  # a new thread starts from a copy of the instance's value
        self.local = threading.local()

    def _slots(self) -> dict[int, Any]:
        slots = getattr(self.local, "slots", None)
        if slots is None:
            slots = self.local.slots = {}
        return slots  # type: ignore[no-any-return]

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        slots, key = self._slots(), id(instance) if self.copy_default else 0
        if key not in slots:
            if not self.copy_default:
                raise AttributeError(self.name)
            slots[key] = dict(instance.__dict__.get(self.name) or {})
        return slots[key]

    def __set__(self, instance: Any, value: Any) -> None:
        self._slots()[id(instance) if self.copy_default else 0] = value

    def snapshot(self) -> dict[int, Any]:
        return dict(self._slots())

    def restore(self, saved: dict[int, Any]) -> None:
        self.local.slots = saved


_THREAD_STATE: list[_PerThread] = []


def isolate_powertools_state() -> None:
    """Powertools keeps the event being resolved (and its Lambda context) in class attributes of
    ``BaseRouter``, shared by every resolver of the process, and the Logger's appended keys in its
    formatter, shared by every function (one layer module). On Lambda each execution environment
    is its own process; here each invoking thread gets its own copy, so two functions resolving at
    once cannot read each other's event. Idempotent."""
    if _THREAD_STATE:
        return
    from aws_lambda_powertools.event_handler.api_gateway import BaseRouter
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

    router_slots = {name: _PerThread(name) for name in ("current_event", "lambda_context")}
    # instance reads (``self.current_event``) find the descriptor in the class ...
    for name, slot in router_slots.items():
        setattr(BaseRouter, name, slot)

    # ... and class-level writes (``BaseRouter.current_event = ...``) go through the metaclass
    class _RouterMeta(type(BaseRouter)):  # type: ignore[misc]
        pass

    for name, slot in router_slots.items():
        setattr(_RouterMeta, name, property(slot.__get__, slot.__set__))
    BaseRouter.__class__ = _RouterMeta
    log_format = _PerThread("log_format", copy_default=True)
    LambdaPowertoolsFormatter.log_format = log_format  # type: ignore[assignment]
    _THREAD_STATE.extend([*router_slots.values(), log_format])


_METRICS_GUARDED: list[threading.RLock] = []


def guard_shared_metrics() -> None:
    """Powertools keeps one metric set per process, shared by every ``Metrics`` (the layer's one
    ``autocall.observability.metrics``). Lambda runs one invocation per process at a time; here
    many run at once, and a flush iterating the set while another invocation adds to it fails that
    invocation ("dictionary changed size during iteration"): every read and write of the set takes
    one lock. Idempotent."""
    if _METRICS_GUARDED:
        return
    from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

    lock = threading.RLock()  # a flush serializes the set: the lock is taken again inside

    def guarded(method: Any) -> Any:
        @functools.wraps(method)
        def run(*args: Any, **kwargs: Any) -> Any:
            with lock:
                return method(*args, **kwargs)

        return run

    for name in ("add_metric", "add_dimension", "add_metadata", "serialize_metric_set", "flush_metrics"):
        setattr(AmazonCloudWatchEMFProvider, name, guarded(getattr(AmazonCloudWatchEMFProvider, name)))
    _METRICS_GUARDED.append(lock)


DEFAULT_INSTANCES = 4


class _Pool:
    """One function's execution environments: each its own copy of the handler module."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.idle: list[Any] = []  # handlers of environments not running an invocation
        self.loaded = 0


class FunctionRegistry:
    """Runs each function's handler, loaded from its CodeUri folder, as Lambda runs it: in
    execution environments that each run one invocation at a time.

    An environment here is a copy of the handler module (its resolver, its route context, its
    module-level caches), checked out for one invocation and returned after it. Concurrent
    invocations of one function get distinct environments, up to ``instances`` per function
    (Lambda would start more; one process gains nothing from them), and wait for a free one past
    that. No two invocations ever share a module's state at once; the Powertools state every
    module would share in one process is kept per thread (``isolate_powertools_state``).
    Environments belong to one function, never to the whole registry: a handler invoking another
    function synchronously waits at most for that function, and a thread invoking a function it
    is already running (in-process, nested) gets another environment rather than waiting for its
    own."""

    def __init__(
        self,
        template: LocalTemplate,
        instances: int = DEFAULT_INSTANCES,
        env_overrides: dict[str, str] | None = None,
    ) -> None:
        self.template = template
        # values a test or bench gives a variable in every function that has it (a function
        # that lacks the variable on AWS lacks it here too)
        self.env_overrides = dict(env_overrides or {})
        # variables the local stack adds to one function, where AWS gives the value another way:
        # the @connections endpoint of the local WebSocket API (REALTIME_CALLBACK_URL), which on AWS
        # the function derives from its event (see ``add_local_variables``)
        self.local_variables: dict[str, dict[str, str]] = {}
        self.instances = max(1, instances)
        self._names: dict[str, str] = {}  # function name → logical id
        self._lock = threading.Lock()
        self._pools: dict[str, _Pool] = {lid: _Pool() for lid in template.functions()}
        self._running = threading.local()  # logical ids this thread is running (nested invokes)
        self._async = ThreadPoolExecutor(max_workers=16, thread_name_prefix="lambda-async")
        self.async_errors: list[str] = []
        self._in_flight = 0  # invocations running or queued (the pump's skip-idle mode reads it)
        self._environments: dict[str, dict[str, str]] = {}
        self._generation = 0
        for lid in template.functions():
            self._names[template.function_name(lid)] = lid
        _NAMES.update(self._names)
        self.refresh_environments()  # settings parsed under another registry's environments go
        isolate_powertools_state()
        guard_shared_metrics()
        environ.install()

    def function_env(self, logical_id: str) -> dict[str, str]:
        """The whole environment the function's handler sees, built for each invocation:

        - the template's variables for it (Globals + its own, references resolved) — the only
          settings it gets; a value the process (a test, ``make run``'s shell) or ``env_overrides``
          gives one of *those* variables replaces the template's, but nothing adds a variable the
          function lacks on AWS;
        - what Lambda's runtime adds (function name, region, credentials, path);
        - the local stack's swaps: service endpoints, and the secrets' env fallbacks (locally,
          secrets come from env vars);
        - logging/metrics/tracing switches (``POWERTOOLS_*``)."""
        own = self._environments.get(logical_id)
        if own is None:
            own = self._environments[logical_id] = {
                **self.template.function_environment(logical_id),
                "AWS_LAMBDA_FUNCTION_NAME": self.template.function_name(logical_id),
                # a configuration change starts new execution environments on AWS: here a new
                # version number, so settings parsed under the old environment are not reused
                "AWS_LAMBDA_FUNCTION_VERSION": str(self._generation),
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.template.memory_size(logical_id)),
            }
        process = environ.process_environment()
        env = {k: process[k] for k in LENT_VARIABLES if k in process}
        env.update(own)
        env.update({k: process[k] for k in own if k in process and k not in LAMBDA_VARIABLES})
        env.update({k: v for k, v in self.env_overrides.items() if k in own})
        env.update(self.local_variables.get(logical_id, {}))
        env.update({k: v for k, v in process.items() if k.startswith(OBSERVABILITY_PREFIX)})
        return env

    def add_local_variables(self, logical_id: str, values: dict[str, str]) -> None:
        """Give one function variables of the local stack's own (an endpoint that exists only
        locally), from its next invocation."""
        self.local_variables.setdefault(logical_id, {}).update(values)
        self.refresh_environments()

    def settings(self, logical_id: str) -> Any:
        """The settings the function's code reads (tests that act beside a function)."""
        from autocall.config import Settings

        with environ.function_environment(self.function_env(logical_id)):
            return Settings()

    def refresh_environments(self) -> None:
        """Re-read the template's variables (a parameter changed); an invocation under way keeps
        the environment it started with."""
        self._environments.clear()
        self._generation += 1
        from autocall.config import reset_settings

        reset_settings()

    def logical_id(self, function: str) -> str:
        name = function.split(":function:")[-1].split(":")[0]
        if name in self._names:
            return self._names[name]
        if name in self.template.functions():
            return name
        raise KeyError(f"no function {function!r} in template.yaml")

    def handler(self, logical_id: str) -> Any:
        """A warm environment's handler, to call directly (no invocation bookkeeping)."""
        with environ.function_environment(self.function_env(logical_id)):
            handler = self._checkout(logical_id)  # a cold start imports with the function's environment
        self._checkin(logical_id, handler)
        return handler

    def environments(self, logical_id: str) -> int:
        """How many environments of the function have been started."""
        return self._pools[logical_id].loaded

    def _load(self, logical_id: str, number: int) -> Any:
        folder, spec = self.template.functions()[logical_id]
        module_name, func_name = spec.rsplit(".", 1)
        name = f"autocall_fn_{logical_id}_{module_name}" + (f"_{number}" if number > 1 else "")
        return getattr(_load_module(folder / f"{module_name}.py", name), func_name)

    def _checkout(self, logical_id: str) -> Any:
        pool = self._pools[logical_id]
        nested = logical_id in getattr(self._running, "ids", ())
        with pool.cond:
            while not pool.idle and pool.loaded >= self.instances and not nested:
                pool.cond.wait()
            if pool.idle:
                return pool.idle.pop()  # the most recently used: the warmest
            pool.loaded += 1
            number = pool.loaded
        try:
            with environ.function_environment(self.function_env(logical_id)):
                return self._load(logical_id, number)
        except BaseException:
            with pool.cond:
                pool.loaded -= 1
                pool.cond.notify()
            raise

    def _checkin(self, logical_id: str, handler: Any) -> None:
        pool = self._pools[logical_id]
        with pool.cond:
            pool.idle.append(handler)
            pool.cond.notify()

    def invoke(self, function: str, event: Any) -> Any:
        logical_id = self.logical_id(function)
        context = FakeLambdaContext(
            function_name=self.template.function_name(logical_id), aws_request_id=str(uuid.uuid4())
        )
        self._count(1)
        saved = [slot.snapshot() for slot in _THREAD_STATE]  # a nested invoke leaves the caller's intact
        running = getattr(self._running, "ids", ())
        try:
            handler = self._checkout(logical_id)
            self._running.ids = (*running, logical_id)
            try:
                with environ.function_environment(self.function_env(logical_id)):
                    return self.run_handler(logical_id, handler, event, context)
            finally:
                self._running.ids = running
                self._checkin(logical_id, handler)
        finally:
            for slot, state in zip(_THREAD_STATE, saved, strict=True):
                slot.restore(state)
            self._count(-1)

    def run_handler(self, logical_id: str, handler: Any, event: Any, context: FakeLambdaContext) -> Any:
        """One invocation in the environment it checked out: the handler's own time, without the
        wait for a free environment (a seam the benches time)."""
        return handler(event, context)

    def invoke_async(self, function: str, event: Any) -> None:
        def run() -> None:
            try:
                self.invoke(function, event)
            except Exception:  # an async invoke's error is logged by Lambda, not returned
                self.async_errors.append(traceback.format_exc())
            finally:
                self._count(-1)

        self._count(1)
        self._async.submit(run)

    def _count(self, delta: int) -> None:
        with self._lock:
            self._in_flight += delta

    @property
    def busy(self) -> bool:
        """Some invocation is running or waiting to run."""
        with self._lock:
            return self._in_flight > 0

    def shutdown(self) -> None:
        self._async.shutdown(wait=True, cancel_futures=False)


def _load_module(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


_REGISTRY: FunctionRegistry | None = None


def active_registry() -> FunctionRegistry:
    """The registry moto's Lambda invokes run in."""
    if _REGISTRY is None:
        raise RuntimeError("no function registry is routed (route_moto_lambda)")
    return _REGISTRY


def route_moto_lambda(registry: FunctionRegistry) -> None:
    """Make moto's Lambda backend run our handlers (sync and Event invocations)."""
    global _REGISTRY
    _REGISTRY = registry
    from moto.awslambda_simple.models import LambdaSimpleBackend

    def invoke(
        self: Any, function_name: str, qualifier: str | None, body: Any, headers: Any, response_headers: Any
    ) -> bytes:
        assert _REGISTRY is not None
        event = json.loads(body) if body else {}
        if headers.get("X-Amz-Invocation-Type") == "Event":
            _REGISTRY.invoke_async(function_name, event)
            return b""
        try:
            result = _REGISTRY.invoke(function_name, event)
        except Exception as exc:
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps(
                {"errorMessage": str(exc), "errorType": type(exc).__name__, "stackTrace": []}
            ).encode()
        return json.dumps(result, default=str).encode()

    LambdaSimpleBackend.invoke = invoke  # type: ignore[method-assign]
