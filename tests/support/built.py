"""Run what `sam build` built, the way Lambda runs it.

``make deploy-tier`` (part of ``make test``) builds the template for this machine's platform into
``AUTOCALL_SAM_BUILD_DIR`` (``.aws-sam/deploy-tier-<arch>/build``), then runs tests/deploy on it.
``sam build`` itself is never run from here: pytest alone reuses the last build (or skips).

- ``built_template()``, ``function_spec()``: the built template (``.aws-sam/.../template.yaml``, plain
  YAML: SAM writes intrinsic functions in their long form) and each function's built folder, handler,
  timeout and memory as deployed.
- ``move_layer()``: the built layer copied to a fresh path, as Lambda mounts it at ``/opt/python``: a
  layer that only works where it was built fails there.
- ``BuiltFunction``: one function's handler in a long-lived python3.12 worker (so only the first
  event is a cold start, as in a warm Lambda container): ``sys.path`` is the built function folder,
  then the moved layer, then the standard library (``-I -S``: no site-packages, no PYTHON* variables);
  its environment is exactly the dict given plus what Lambda itself sets (``lambda_runtime_env``) and
  PATH, HOME and LANG; cwd is the function folder (LAMBDA_TASK_ROOT). The worker reads one JSON event
  per line on stdin and writes one JSON line per event on stdout: ``{"result": ...}`` or
  ``{"error": {"errorType", "errorMessage", "stackTrace"}}`` as Lambda reports a failed invoke (a
  first line reports the init). Whatever the handler prints or logs goes to stderr, kept in
  ``BuiltFunction.logs``.
- ``rest_event()``: an API Gateway REST proxy event of the shape ``sam local generate-event apigateway
  aws-proxy`` prints (kept verbatim in events/apigateway-aws-proxy.json), with the fields API Gateway
  fills for a request set consistently: ``path`` without the stage, ``requestContext.path`` with it,
  ``domainName``, ``stage``, headers and their multi-value twins, query, path parameters, body.

Example::

    with BuiltFunction("TriggerFunction", layer, env) as trigger:
        response = trigger.invoke(rest_event("GET", "/openapi.json"))
"""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import os
import platform
import queue
import shutil
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
HERE = ROOT / "tests" / "deploy"  # the deploy tier: its events/
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
API_ID = "1234567890"  # the id `sam local generate-event` uses
STAGE = "Prod"


class BuildMissing(RuntimeError):
    """There is no `sam build` output to test."""


def build_dir() -> Path:
    """Where ``make deploy-tier`` built (it says so in AUTOCALL_SAM_BUILD_DIR; the same folder by
    default). Not SAM's default .aws-sam/build: that one is for Lambda's arm64."""
    configured = os.environ.get("AUTOCALL_SAM_BUILD_DIR")
    default = ROOT / ".aws-sam" / f"deploy-tier-{platform.machine()}" / "build"
    path = Path(configured) if configured else default
    path = path if path.is_absolute() else ROOT / path
    if not (path / "template.yaml").is_file():
        raise BuildMissing(f"no sam build output at {path}: run `make deploy-tier` (or `make sam-build`)")
    return path


def python312() -> str:
    """Lambda's runtime: the python3.12 that scripts/find-python picks."""
    found = subprocess.run(
        [str(ROOT / "scripts" / "find-python")], capture_output=True, text=True, check=True
    ).stdout.strip()
    version = subprocess.run(
        [found, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if version != "3.12":
        raise RuntimeError(
            f"{found} is Python {version}; the deploy tier needs python3.12 (Lambda's runtime)"
        )
    return found


def built_template(build: Path | None = None) -> dict[str, Any]:
    return dict(yaml.safe_load(((build or build_dir()) / "template.yaml").read_text()))


def function_spec(logical_id: str, build: Path | None = None) -> dict[str, Any]:
    """code (built folder), handler, timeout (s) and memory (MB) of one function, as deployed."""
    build = build or build_dir()
    template = built_template(build)
    globals_fn = template.get("Globals", {}).get("Function", {})
    props = template["Resources"][logical_id]["Properties"]
    return {
        "code": build / str(props["CodeUri"]),
        "handler": str(props["Handler"]),
        "timeout": int(props.get("Timeout", globals_fn.get("Timeout", 3))),
        "memory": int(props.get("MemorySize", globals_fn.get("MemorySize", 128))),
    }


def functions(build: Path | None = None) -> dict[str, dict[str, Any]]:
    """Every AWS::Serverless::Function of the built template → its ``function_spec``."""
    build = build or build_dir()
    resources = built_template(build)["Resources"]
    return {
        lid: function_spec(lid, build)
        for lid, res in resources.items()
        if res["Type"] == "AWS::Serverless::Function"
    }


def layer_dir(build: Path | None = None) -> Path:
    """The built CommonLayer's ``python`` folder (what Lambda mounts at /opt/python)."""
    return (build or build_dir()) / "CommonLayer" / "python"


def move_layer(destination: Path, build: Path | None = None) -> Path:
    """A copy of the built layer at ``destination/opt/python``; returns that folder."""
    target = destination / "opt" / "python"
    shutil.copytree(layer_dir(build), target, symlinks=True)
    return target


def lambda_runtime_env(logical_id: str, spec: dict[str, Any]) -> dict[str, str]:
    """What Lambda's python3.12 runtime sets itself, whatever the template says."""
    module = spec["handler"]
    return {
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "AWS_LAMBDA_FUNCTION_NAME": logical_id,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec["memory"]),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{logical_id}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/12/01/[$LATEST]00000000000000000000000000000000",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "LAMBDA_TASK_ROOT": str(spec["code"]),
        "LAMBDA_RUNTIME_DIR": "/var/runtime",
        "_HANDLER": module,
        "TZ": ":UTC",
    }


class BuiltHandlerError(RuntimeError):
    """The handler raised (or its module failed to import, or it ran past its timeout)."""

    def __init__(self, function: str, error: dict[str, Any], logs: str) -> None:
        trace = "".join(error.get("stackTrace") or [])
        super().__init__(
            f"{function}: {error.get('errorType')}: {error.get('errorMessage')}\n{trace}"
            f"--- last log lines ---\n{logs}"
        )
        self.error = error


# Lambda has neither the source tree nor the build folder. ``lambda_filesystem(allowed, absent)``
# (an audit hook) makes a file opened under ``absent`` and outside ``allowed`` fail as it would
# there: a package that finds its data where it was built (vaderSentiment's lexicon from a sourceless
# layer) raises FileNotFoundError here too, although the build folder is still on this disk.
LAMBDA_FILESYSTEM = r"""
def lambda_filesystem(allowed, absent):
    import errno, os, sys

    allowed = tuple(os.path.join(p, "") for p in allowed)
    absent = tuple(os.path.join(p, "") for p in absent)

    def hook(event, args):
        if event != "open" or isinstance(args[0], int):
            return
        path = os.path.abspath(os.fsdecode(os.fspath(args[0])))
        if path.startswith(absent) and not path.startswith(allowed):
            raise FileNotFoundError(errno.ENOENT, "No such file or directory (not on Lambda)", path)

    sys.addaudithook(hook)
"""

# The worker: python3.12 -I -S -B -c <this> '<config json>'. Lambda's bootstrap in miniature: import
# the handler once, then one invocation per stdin line, each with a fresh context and trace id.
WORKER = (
    LAMBDA_FILESYSTEM
    + r"""
import importlib, json, os, sys, time, traceback, uuid

config = json.loads(sys.argv[1])
sys.path[:0] = config["path"]
lambda_filesystem(config["path"], config["absent"])
results = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
os.dup2(2, 1)  # the handler's prints and logs go to stderr; results alone to the saved stdout


def error(exc):
    return {"errorType": type(exc).__name__, "errorMessage": str(exc),
            "stackTrace": traceback.format_exception(exc)}


class Context:
    def __init__(self, request_id, deadline):
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = config["arn"]
        self.memory_limit_in_mb = int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
        self.aws_request_id = request_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.identity = None
        self.client_context = None
        self._deadline = deadline

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))


started = time.perf_counter()
try:
    module, attr = config["handler"].rsplit(".", 1)
    handler = getattr(importlib.import_module(module), attr)
except BaseException as exc:
    results.write(json.dumps({"init": "error", "error": error(exc)}) + "\n")
    sys.exit(1)
results.write(json.dumps({"init": "ok", "init_ms": (time.perf_counter() - started) * 1000}) + "\n")

for line in sys.stdin:
    if not line.strip():
        continue
    event = json.loads(line)
    request_id = str(uuid.uuid4())
    os.environ["_X_AMZN_TRACE_ID"] = (
        f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=0"
    )
    context = Context(request_id, time.monotonic() + config["timeout"])
    started = time.perf_counter()
    try:
        out = {"result": handler(event, context)}
    except Exception as exc:
        out = {"error": error(exc)}
    out.update(request_id=request_id, duration_ms=(time.perf_counter() - started) * 1000)
    sys.stdout.flush()
    sys.stderr.flush()
    results.write(json.dumps(out, default=str) + "\n")
"""
)


class BuiltFunction:
    """One built function's handler in a long-lived python3.12 worker (see the module docstring)."""

    def __init__(
        self,
        logical_id: str,
        layer: Path,
        env: dict[str, str],
        *,
        build: Path | None = None,
        spec: dict[str, Any] | None = None,
        python: str | None = None,
        startup_timeout: float = 60.0,
    ) -> None:
        """``env``: the function's own environment (the template's Globals and its own variables,
        resolved, plus e.g. AWS_ENDPOINT_URL and credentials for a moto server); ``spec``: instead of
        the built template's (``function_spec``)."""
        self.logical_id = logical_id
        self.spec = spec or function_spec(logical_id, build)
        self.layer = layer
        self.env = {
            **{k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ},
            **lambda_runtime_env(logical_id, self.spec),
            **env,
        }
        self.python = python or python312()
        self.startup_timeout = startup_timeout
        self.init_ms: float | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._log: list[str] = []
        self._proc: subprocess.Popen[str] | None = None

    @property
    def arn(self) -> str:
        """As the context gives it: the function's name (AWS_LAMBDA_FUNCTION_NAME, which ``env`` may
        set to the deployed name; the logical id otherwise)."""
        name = self.env["AWS_LAMBDA_FUNCTION_NAME"]
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"

    @property
    def logs(self) -> str:
        return "".join(self._log)

    def start(self) -> BuiltFunction:
        config = {
            "path": [str(self.spec["code"]), str(self.layer)],
            "handler": self.spec["handler"],
            "timeout": self.spec["timeout"],
            "arn": self.arn,
            "absent": [str(ROOT), str(self.spec["code"].parent)],  # the checkout, the build folder
        }
        self._proc = subprocess.Popen(
            [self.python, "-I", "-S", "-B", "-c", WORKER, json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            env=self.env,
            cwd=self.spec["code"],
        )
        threading.Thread(target=self._read_results, args=(self._proc.stdout,), daemon=True).start()
        threading.Thread(target=self._read_logs, args=(self._proc.stderr,), daemon=True).start()
        first = self._next(self.startup_timeout)
        if first.get("init") != "ok":
            self.close()
            raise BuiltHandlerError(self.logical_id, first.get("error", {}), self._tail())
        self.init_ms = float(first["init_ms"])
        return self

    def _read_results(self, stream: Any) -> None:
        for line in stream:
            self._lines.put(line)
        self._lines.put(None)  # the worker exited

    def _read_logs(self, stream: Any) -> None:
        for line in stream:
            self._log.append(line)

    def _tail(self, lines: int = 40) -> str:
        return "".join(self._log[-lines:])

    def _next(self, timeout: float) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            self.close()
            return {"error": {"errorType": "Timeout", "errorMessage": f"no answer in {timeout:.0f} s"}}
        if line is None:
            time.sleep(0.1)  # let stderr drain
            return {"error": {"errorType": "WorkerExited", "errorMessage": "the worker process exited"}}
        return dict(json.loads(line))

    def invoke_raw(self, event: dict[str, Any]) -> dict[str, Any]:
        """The worker's answer for one event: ``result`` or ``error``, ``request_id``, ``duration_ms``."""
        if self._proc is None:
            self.start()
        assert self._proc is not None and self._proc.stdin is not None
        self._proc.stdin.write(json.dumps(event) + "\n")
        self._proc.stdin.flush()
        # Lambda stops an invocation at its timeout; a little slack for this machine's load.
        return self._next(self.spec["timeout"] + 30)

    def invoke(self, event: dict[str, Any]) -> Any:
        """The handler's return value; raises ``BuiltHandlerError`` as a failed invoke would."""
        answer = self.invoke_raw(event)
        if "error" in answer:
            raise BuiltHandlerError(self.logical_id, answer["error"], self._tail())
        return answer["result"]

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def __enter__(self) -> BuiltFunction:
        return self.start() if self._proc is None else self

    def __exit__(self, *_: object) -> None:
        self.close()


def sample_rest_event() -> dict[str, Any]:
    """`sam local generate-event apigateway aws-proxy`, verbatim (SAM CLI 1.170.0's defaults)."""
    return dict(json.loads((HERE / "events" / "apigateway-aws-proxy.json").read_text()))


def rest_event(
    method: str,
    path: str,
    *,
    resource: str | None = None,
    stage: str = STAGE,
    domain: str | None = None,
    headers: dict[str, str] | None = None,
    query: list[tuple[str, str]] | None = None,
    path_parameters: dict[str, str] | None = None,
    body: str | bytes | None = None,
    authorizer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An API Gateway REST proxy event for ``method path`` (``path`` as the resource sees it, without
    the stage), in the sample's shape with every field a request sets made consistent. ``resource``:
    the template's route path (``/calls/{call_id}``; default ``path``). ``query`` keeps its order
    and repeats. ``body``: bytes are sent base64-encoded (``isBase64Encoded``), as API Gateway does
    for a binary media type; text as is. ``authorizer``: what a Lambda authorizer's context adds."""
    event = copy.deepcopy(sample_rest_event())
    domain = domain or f"{API_ID}.execute-api.{REGION}.amazonaws.com"
    resource = resource or path
    merged = {**event["headers"], "Host": domain, **(headers or {})}
    single_query: dict[str, str] = {}
    multi_query: dict[str, list[str]] = {}
    for key, value in query or []:
        single_query[key] = value  # API Gateway keeps the last value of a repeated key
        multi_query.setdefault(key, []).append(value)
    if isinstance(body, bytes):
        encoded, is_base64 = base64.b64encode(body).decode(), True
    else:
        encoded, is_base64 = body, False
    context = event["requestContext"]
    context.update(
        {
            "stage": stage,
            "path": f"/{stage}{path}",
            "resourcePath": resource,
            "httpMethod": method.upper(),
            "apiId": domain.split(".")[0] if domain.endswith(".amazonaws.com") else API_ID,
            "domainName": domain,
            "domainPrefix": domain.split(".")[0],
            "requestId": str(uuid.uuid4()),
            "requestTimeEpoch": int(time.time() * 1000),
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
        }
    )
    if authorizer is not None:
        context["authorizer"] = authorizer
    event.update(
        {
            "httpMethod": method.upper(),
            "path": path,
            "resource": resource,
            "headers": merged,
            "multiValueHeaders": {k: [v] for k, v in merged.items()},
            "queryStringParameters": single_query or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": path_parameters or None,
            "stageVariables": None,
            "body": encoded,
            "isBase64Encoded": is_base64,
        }
    )
    return event
