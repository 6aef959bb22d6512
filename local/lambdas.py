"""The template's functions, run in-process: moto's Lambda invoke (from our code, from Step
Functions, from the schedule pump) is routed to the real handlers."""

from __future__ import annotations

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

from local.template import ACCOUNT_ID, REGION, LocalTemplate


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


class FunctionRegistry:
    """Loads each function's handler from its CodeUri folder (each folder its own module space)."""

    def __init__(self, template: LocalTemplate) -> None:
        self.template = template
        self._handlers: dict[str, Any] = {}
        self._names: dict[str, str] = {}  # function name → logical id
        self._lock = threading.Lock()
        self._async = ThreadPoolExecutor(max_workers=16, thread_name_prefix="lambda-async")
        self.async_errors: list[str] = []
        self._in_flight = 0  # invocations running or queued (the pump's skip-idle mode reads it)
        for lid in template.functions():
            self._names[template.function_name(lid)] = lid

    def logical_id(self, function: str) -> str:
        name = function.split(":function:")[-1].split(":")[0]
        if name in self._names:
            return self._names[name]
        if name in self.template.functions():
            return name
        raise KeyError(f"no function {function!r} in template.yaml")

    def handler(self, logical_id: str) -> Any:
        with self._lock:
            if logical_id not in self._handlers:
                folder, spec = self.template.functions()[logical_id]
                module_name, func_name = spec.rsplit(".", 1)
                module = _load_module(folder / f"{module_name}.py", f"autocall_fn_{logical_id}_{module_name}")
                self._handlers[logical_id] = getattr(module, func_name)
            return self._handlers[logical_id]

    def invoke(self, function: str, event: Any) -> Any:
        logical_id = self.logical_id(function)
        context = FakeLambdaContext(
            function_name=self.template.function_name(logical_id), aws_request_id=str(uuid.uuid4())
        )
        self._count(1)
        try:
            return self.handler(logical_id)(event, context)
        finally:
            self._count(-1)

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
